// encore-run MODEL.encore --input-ids IDS.npy [--attention-mask M.npy] [--token-type-ids T.npy]
//            --output last_hidden_state|pooler_output|logits|sentence_embedding -o OUT.npy
//            [--threads N] [--reference REF.npy] [--dimensions N]
//            (logits: [B, labels] of a sequence classifier; [B, S, labels] token classification,
//            [B, S, 2] QA start / end, [B, S, vocab] fill-mask)
// encore-run MODEL.encore (--text TEXT [--text-pair PAIR] ... | --text-file FILE [--pairs])
//            [--max-length N] [--truncation longest_first|only_first|only_second]
//            [--special-tokens-as-text] [--pooling cls|mean] [--normalize] [--prompt NAME]
//            [--dimensions N] [--batch-size N] [--threads N]   one JSON line per text on stdout
// Per-token heads in text mode: token classification gives each text's entities (grouped as the
// Hugging Face pipeline's aggregation "simple"); question answering takes --question Q --context
// C (repeatable; or --text-file --pairs with QUESTION<TAB>CONTEXT lines) [--top-k N]
// [--max-answer-len N] [--doc-stride N] [--handle-impossible-answer] [--no-align-to-words]
// [--max-length N: tokens per window] and gives the answer with its character span; fill-mask gives the --top-k N (5) tokens
// of each mask token. Character offsets are code points of the text, as Python's str indexes.
// A sentence-transformers model (converted from a directory with modules.json) gives its own
// sentence embedding in text mode by default; --prompt NAME prepends one of its prompts (by
// default its default_prompt_name's), --dimensions N keeps the first N dimensions and scales
// them to unit length (Matryoshka truncation).
// --attention-maps OUT: every layer's attention probabilities too (ids: .npy
//            [layers, batch, heads, seq, seq]; text: JSON, one entry per text)
#include <CLI/CLI.hpp>

#include "common/cli_parse.h"
#include "common/model_text.h"
#include "run/text_mode.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "analyze/html_report.h"
#include "core/str.h"
#include "encore/session.h"
#include "encore/text.h"
#include "io/atomic_file.h"
#include "io/npy.h"

namespace {

using encore::Result;
using encore::Status;
using encore::cat;
using encore::run::check_dimensions;
using encore::run::run_text;
using encore::run::TextRun;
using encore::run::truncate_rows;

struct IntMatrix {
  std::vector<int32_t> values;
  int64_t rows = 0, cols = 0;
};

// Reads an int32/int64 .npy of shape [B, S] or [S] (as one row).
Result<IntMatrix> read_ids(const std::string& path, const char* what) {
  ENCORE_ASSIGN_OR_RETURN(encore::io::NpyArray a, encore::io::read_npy(path));
  if (a.dtype == encore::io::NpyDType::kFloat32) {
    return encore::invalid_argument(cat(path, ": ", what, " must be int32 or int64, not float32"));
  }
  IntMatrix m;
  if (a.shape.size() == 1) {
    m.rows = 1;
    m.cols = a.shape[0];
  } else if (a.shape.size() == 2) {
    m.rows = a.shape[0];
    m.cols = a.shape[1];
  } else {
    return encore::invalid_argument(cat(path, ": ", what, " must have shape [B, S] or [S], got ", a.shape.size(),
                                        " dimensions"));
  }
  if (m.rows < 1 || m.cols < 1) return encore::invalid_argument(cat(path, ": ", what, " is empty"));
  m.values.reserve(a.ints.size());
  for (size_t i = 0; i < a.ints.size(); ++i) {
    int64_t v = a.ints[i];
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
      return encore::out_of_range(cat(path, ": ", what, "[", i / m.cols, "][", i % m.cols, "] = ", v,
                                      " is out of range"));
    }
    m.values.push_back(static_cast<int32_t>(v));
  }
  return m;
}

// One line per sequence (up to 8): the predicted label and the logits.
void print_labels(const encore::EncoderConfig& c, const float* logits, int64_t batch, int64_t labels) {
  for (int64_t b = 0; b < std::min<int64_t>(batch, 8); ++b) {
    const float* row = logits + b * labels;
    const int64_t best = std::max_element(row, row + labels) - row;
    std::cout << "sequence " << b << ": " << c.labels[static_cast<size_t>(best)] << "  logits [";
    for (int64_t i = 0; i < labels; ++i) std::cout << (i ? ", " : "") << row[i];
    std::cout << "]\n";
  }
  if (batch > 8) std::cout << "... " << batch - 8 << " more sequences in the output file\n";
}

// Prints how `got` agrees with a reference output (e.g. PyTorch's): max abs error, per-row
// cosine, and for logits how often the argmax agrees. With row_mask (last_hidden_state and an
// attention mask), only the rows of real tokens count: what a model gives at padding is
// meaningless, and encore leaves trailing padding zero.
Status compare(const std::string& ref_path, const std::vector<int64_t>& shape, const float* got, bool logits,
               const int32_t* row_mask) {
  ENCORE_ASSIGN_OR_RETURN(encore::io::NpyArray ref, encore::io::read_npy(ref_path));
  if (ref.dtype != encore::io::NpyDType::kFloat32 || ref.shape != shape) {
    return encore::invalid_argument(cat(ref_path, ": reference must be float32 with the output's shape"));
  }
  const int64_t cols = shape.back();
  const int64_t rows = static_cast<int64_t>(ref.floats.size()) / cols;
  double max_err = 0.0, min_cos = 1.0, sum_cos = 0.0;
  int64_t argmax_agree = 0, compared = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (row_mask && !row_mask[r]) continue;
    ++compared;
    const float* a = got + r * cols;
    const float* b = ref.floats.data() + r * cols;
    double dot = 0, na = 0, nb = 0;
    for (int64_t i = 0; i < cols; ++i) {
      max_err = std::max(max_err, std::fabs(double(a[i]) - b[i]));
      dot += double(a[i]) * b[i];
      na += double(a[i]) * a[i];
      nb += double(b[i]) * b[i];
    }
    const double cos = na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : (na == nb ? 1.0 : 0.0);
    min_cos = std::min(min_cos, cos);
    sum_cos += cos;
    argmax_agree += (std::max_element(a, a + cols) - a) == (std::max_element(b, b + cols) - b);
  }
  std::cout << "agreement with " << ref_path << (row_mask ? cat(" on ", compared, " unmasked rows") : std::string())
            << ": max abs error " << max_err << ", cosine per row min " << min_cos << " mean "
            << (compared ? sum_cos / double(compared) : 1.0);
  if (logits) std::cout << ", argmax " << argmax_agree << "/" << compared;
  std::cout << "\n";
  return Status::Ok();
}

// Every layer's probabilities of the last run as [layers, batch, head_count, seq, seq]; heads
// by their original index, so a pruned model's removed heads are all-zero blocks.
std::vector<float> gather_attention(const encore::Session& session, int64_t batch, int64_t seq) {
  const auto& c = session.model().config();
  const size_t block = static_cast<size_t>(seq * seq), heads = static_cast<size_t>(c.head_count);
  std::vector<float> all(static_cast<size_t>(c.layer_count) * static_cast<size_t>(batch) * heads * block, 0.0f);
  for (int l = 0; l < c.layer_count; ++l) {
    const float* p = session.attention_probabilities(l);
    const size_t kept = static_cast<size_t>(c.heads_in_layer(l));
    for (size_t b = 0; b < static_cast<size_t>(batch); ++b) {
      for (size_t h = 0; h < kept; ++h) {
        const size_t original = static_cast<size_t>(c.original_head(l, static_cast<int>(h)));
        std::copy_n(p + (b * kept + h) * block, block,
                    all.begin() + static_cast<std::ptrdiff_t>(((static_cast<size_t>(l) * static_cast<size_t>(batch) + b) * heads + original) * block));
      }
    }
  }
  return all;
}

Status run(const std::string& model_path, const std::string& ids_path, const std::string& mask_path,
           const std::string& types_path, const std::string& output, const std::string& out_path, int threads,
           const std::string& reference, const std::string& attention_path, int dimensions) {
  ENCORE_ASSIGN_OR_RETURN(auto ids, read_ids(ids_path, "input ids"));
  IntMatrix mask, types;
  for (auto [path, m, what] : {std::tuple{&mask_path, &mask, "attention mask"},
                               std::tuple{&types_path, &types, "token type ids"}}) {
    if (path->empty()) continue;
    ENCORE_ASSIGN_OR_RETURN(*m, read_ids(*path, what));
    if (m->rows != ids.rows || m->cols != ids.cols) {
      return encore::invalid_argument(cat(*path, ": ", what, " shape [", m->rows, ", ", m->cols,
                                          "] differs from input ids [", ids.rows, ", ", ids.cols, "]"));
    }
  }
  ENCORE_ASSIGN_OR_RETURN(auto model, encore::Model::load(model_path));
  const auto& c = model->config();
  if (output == "pooler_output" && !c.has_pooler_output()) {
    return encore::invalid_argument(cat(model_path, " has no pooler: choose --output last_hidden_state"));
  }
  if (output == "logits" && !c.has_classifier() && !c.has_token_head()) {
    return encore::invalid_argument(cat(model_path, " has no classifier head: choose --output last_hidden_state",
                                        c.has_pooler_output() ? " or pooler_output" : ""));
  }
  if (output == "sentence_embedding" && !c.has_sentence_embedding()) {
    return encore::invalid_argument(cat(model_path, " has no sentence-transformers modules (it was not converted from a "
                                        "directory with modules.json): choose --output last_hidden_state"));
  }
  if (dimensions > 0 && output != "sentence_embedding") {
    return encore::invalid_argument("--dimensions applies to --output sentence_embedding");
  }
  if (dimensions > 0) ENCORE_RETURN_IF_ERROR(check_dimensions(dimensions, c.sentence_dimension()));
  encore::SessionOptions so;
  so.threads = threads;
  so.attention_probabilities = !attention_path.empty();
  ENCORE_ASSIGN_OR_RETURN(auto session, encore::Session::create(model, so));
  encore::Inputs in;
  in.batch = ids.rows;
  in.seq_len = ids.cols;
  in.input_ids = ids.values.data();
  in.attention_mask = mask_path.empty() ? nullptr : mask.values.data();
  in.token_type_ids = types_path.empty() ? nullptr : types.values.data();
  encore::Outputs out;
  auto t0 = std::chrono::steady_clock::now();
  ENCORE_RETURN_IF_ERROR(session->run(in, &out));
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::vector<int64_t> shape;
  const float* data = nullptr;
  if (output == "last_hidden_state") {
    shape = {out.batch, out.seq_len, out.hidden};
    data = out.last_hidden_state;
  } else if (output == "pooler_output") {
    shape = {out.batch, out.hidden};
    data = out.pooler_output;
  } else if (output == "sentence_embedding") {
    shape = {out.batch, out.sentence_dim};
    data = out.sentence_embedding;
  } else if (out.token_logits) {  // token classification [B, S, L], QA [B, S, 2], fill-mask [B, S, V]
    shape = {out.batch, out.seq_len, out.token_logit_width};
    data = out.token_logits;
  } else {
    shape = {out.batch, out.labels};
    data = out.logits;
  }
  std::vector<float> truncated;
  if (dimensions > 0) {
    truncated = truncate_rows(data, out.batch, out.sentence_dim, dimensions);
    shape = {out.batch, dimensions};
    data = truncated.data();
  }
  ENCORE_RETURN_IF_ERROR(encore::io::write_npy_f32(out_path, shape, data));
  if (!attention_path.empty()) {
    const std::vector<float> maps = gather_attention(*session, out.batch, out.seq_len);
    ENCORE_RETURN_IF_ERROR(encore::io::write_npy_f32(
        attention_path, {c.layer_count, out.batch, c.head_count, out.seq_len, out.seq_len}, maps.data()));
  }
  if (output == "logits" && c.has_classifier()) print_labels(c, data, out.batch, out.labels);
  if (!reference.empty()) {
    const bool per_token = (output == "last_hidden_state" || (output == "logits" && out.token_logits)) &&
                           !mask_path.empty();
    ENCORE_RETURN_IF_ERROR(compare(reference, shape, data, output == "logits", per_token ? mask.values.data() : nullptr));
  }
  std::cerr << "encore-run: " << output << " [";
  for (size_t i = 0; i < shape.size(); ++i) std::cerr << (i ? ", " : "") << shape[i];
  std::cerr << "] -> " << out_path << " (" << (model->is_quantized() ? "int8" : "f32") << ", run " << ms << " ms)\n";
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, ids, mask, types, output = "last_hidden_state", out_path, reference, attention_path;
  TextRun text;
  std::string truncation = "longest_first";
  size_t max_length = 0;
  int threads = 1;
  CLI::App app{"Run an encore model on token ids (.npy in, .npy out) or on text (JSON lines out)."};
  app.add_option("model", model, ".encore model file")->required();
  auto* ids_opt = app.add_option("--input-ids", ids, "token ids, int32/int64 .npy of shape [B, S] or [S]");
  // One text per --text, taken byte for byte: without allow_extra_args(false) CLI11 would read
  // "[a, b]" as a list of two and "[]" as none.
  auto* text_opt = app.add_option("--text", text.texts, "a text to classify or embed (repeatable)")
                       ->allow_extra_args(false)
                       ->excludes(ids_opt);
  app.add_option("--text-pair", text.pairs,
                 "the second text of a pair, for the --text at the same position (repeatable; cross-encoders, NLI)")
      ->allow_extra_args(false)
      ->needs(text_opt);
  auto* file_opt = app.add_option("--text-file", text.text_file, "texts, one per line (- reads standard input); every line is a text, blank ones too")->excludes(ids_opt);
  app.add_flag("--pairs", text.file_pairs, "--text-file lines are TEXT<TAB>PAIR (split at the first tab)")->needs(file_opt);
  app.add_option("--max-length", max_length,
                 "text mode: at most N tokens per text, special tokens included (default: the model's limit)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  app.add_option("--truncation", truncation, "text mode: which text of a pair gives up tokens first")
      ->check(CLI::IsMember({"longest_first", "only_first", "only_second"}))
      ->capture_default_str();
  app.add_flag("--special-tokens-as-text", text.options.special_tokens_as_text,
               "text mode: read special tokens written in a text ([SEP], <mask>) as plain text");
  auto* pooling_opt =
      app.add_option("--pooling", text.pooling,
                     "text mode, models without a classifier: sentence embedding from (default: a sentence-transformers "
                     "model's own modules, else cls)")
          ->check(CLI::IsMember({"cls", "mean"}));
  auto* prompt_opt = app.add_option("--prompt", text.sentence.prompt_name,
                                    "text mode, sentence-transformers models: prepend this stored prompt (default: the "
                                    "model's default prompt, if any)");
  app.add_option("--dimensions", text.sentence.dimensions,
                 "keep the first N dimensions of the embedding and rescale to unit length (Matryoshka); text mode, or "
                 "--output sentence_embedding")
      ->check(CLI::Range(1, 1 << 20));
  app.add_flag("--normalize", text.normalize, "text mode: scale embeddings to unit length");
  std::vector<std::string> questions, contexts;
  auto* question_opt = app.add_option("--question", questions,
                                      "question-answering models: a question, answered from the --context at the same "
                                      "position (repeatable)")
                           ->allow_extra_args(false)
                           ->excludes(ids_opt);
  app.add_option("--context", contexts, "the context for the --question at the same position (repeatable)")
      ->allow_extra_args(false)
      ->needs(question_opt);
  app.add_option("--top-k", text.top_k,
                 "text mode: answers per question (question answering, default 1) or predictions per mask token "
                 "(fill-mask, default 5)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--max-answer-len", text.answer.max_answer_len,
                 "question answering: the longest answer, in tokens")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--doc-stride", text.answer.doc_stride,
                 "question answering: context tokens a window shares with the one before (default: min(max length "
                 "/ 2, 128))")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  app.add_flag("!--no-align-to-words", text.answer.align_to_words,
               "question answering: answers span exactly their tokens, not the whole words of their first and last");
  app.add_flag("--handle-impossible-answer", text.answer.handle_impossible_answer,
               "question answering: the empty answer competes, scored at the [CLS] token");
  app.add_option("--batch-size", text.batch_size, "text mode: texts per run (padded to the longest)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--attention-mask", mask, "attention mask (1 = token, 0 = padding), same shape");
  app.add_option("--token-type-ids", types, "segment ids, same shape");
  app.add_option("--output", output, "which output to write")
      ->check(CLI::IsMember({"last_hidden_state", "pooler_output", "logits", "sentence_embedding"}))
      ->capture_default_str();
  app.add_option("-o,--out", out_path, "output .npy (float32), with --input-ids");
  app.add_option("--threads", threads, "threads")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--reference", reference, "float32 .npy to compare the output with (e.g. PyTorch's)");
  app.add_option("--attention-maps", attention_path,
                 "also write every layer's attention probabilities: with --input-ids a float32 .npy [layers, batch, "
                 "heads, seq, seq]; with text a JSON array, one entry per text");
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-run")) return *code;
  const bool text_mode = text_opt->count() > 0 || file_opt->count() > 0 || question_opt->count() > 0;
  text.sentence.pooling_given = pooling_opt->count() > 0;
  text.sentence.prompt_given = prompt_opt->count() > 0;
  Status st;
  if (text_mode) {
    text.threads = threads;
    text.attention_path = attention_path;
    text.options.max_length = max_length;
    if (questions.size() != contexts.size()) {
      std::cerr << "encore-run: error: --question given " << questions.size() << " times and --context "
                << contexts.size() << " times; give one --context per --question\n";
      return 1;
    }
    if (!questions.empty() && (!text.texts.empty() || !text.text_file.empty())) {
      std::cerr << "encore-run: error: --question / --context replace --text / --text-file; give one or the other\n";
      return 1;
    }
    if (!questions.empty()) {
      text.text_arg = "--question";
      text.texts = std::move(questions);
      text.pairs = std::move(contexts);
    }
    text.options.truncation = truncation == "only_first"    ? encore::TruncationStrategy::kOnlyFirst
                              : truncation == "only_second" ? encore::TruncationStrategy::kOnlySecond
                                                            : encore::TruncationStrategy::kLongestFirst;
    st = run_text(model, std::move(text));
  } else if (text.sentence.prompt_given) {
    st = encore::invalid_argument("--prompt applies to text mode (--text / --text-file)");
  } else if (ids.empty() || out_path.empty()) {
    st = encore::invalid_argument("give --input-ids IDS.npy with -o OUT.npy, or --text / --text-file");
  } else {
    st = run(model, ids, mask, types, output, out_path, threads, reference, attention_path, text.sentence.dimensions);
  }
  if (!st.ok()) {
    std::cerr << "encore-run: error: " << st.message() << "\n";
    return 1;
  }
  return 0;
}
