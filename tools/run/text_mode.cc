#include "run/text_mode.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analyze/html_report.h"
#include "common/model_text.h"
#include "core/str.h"
#include "encore/session.h"
#include "io/atomic_file.h"

namespace encore::run {
namespace {

// Reads one text per line from a file, or from standard input for "-": every line, blank ones
// too (as empty texts), so outputs line up with input lines; a trailing \r is dropped.
Result<std::vector<std::string>> read_lines(const std::string& path) {
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return encore::io_error(cat(path, ": cannot open"));
  }
  std::istream& in = path == "-" ? std::cin : file;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  if (in.bad()) return encore::io_error(cat(path == "-" ? "standard input" : path, ": read failed"));
  if (lines.empty()) return encore::invalid_argument(cat(path == "-" ? "standard input" : path, ": no texts (it is empty)"));
  return lines;
}

// Text mode: each text alone (its own tokens, no padding) through a session that keeps the
// probabilities; a JSON array with one entry per text.
Status write_text_attention(const std::shared_ptr<const encore::Model>& model, const std::vector<std::string>& texts,
                            int threads, const std::string& path) {
  encore::SessionOptions so;
  so.threads = threads;
  so.attention_probabilities = true;
  ENCORE_ASSIGN_OR_RETURN(auto session, encore::Session::create(model, so));
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
    Status st = encore::tools::encode_text(*model, texts[i], &ids, &tokens);
    if (!st.ok()) return st.with_context(cat("text ", i + 1));
    ENCORE_ASSIGN_OR_RETURN(auto maps, encore::analyze::capture_attention(*session, ids, tokens, texts[i]));
    nlohmann::ordered_json j;
    j["text"] = texts[i];
    const nlohmann::json m = encore::analyze::attention_maps_json(maps);
    j["tokens"] = m["tokens"];
    j["layers"] = m["layers"];
    all.push_back(std::move(j));
  }
  const std::string text = all.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  ENCORE_ASSIGN_OR_RETURN(auto file, encore::io::AtomicFile::create(path));
  ENCORE_RETURN_IF_ERROR(file.write(text.data(), text.size()));
  return file.commit();
}

// The prompt text for `o` on `model`: --prompt's, else the model's default prompt's, else none.
Result<std::string> prompt_text(const encore::EncoderConfig& c, const SentenceOptions& o) {
  const auto& s = c.sentence;
  if (o.prompt_given) {
    if (!c.has_sentence_embedding()) {
      return encore::invalid_argument("--prompt needs a sentence-transformers model (it has no prompts)");
    }
    if (const std::string* text = s.prompt(o.prompt_name)) return *text;
    std::string names;
    for (const auto& [name, text] : s.prompts) names += (names.empty() ? "" : ", ") + name;
    return encore::invalid_argument(cat("--prompt '", o.prompt_name, "' is not one of the model's prompts (", names, ")"));
  }
  if (c.has_sentence_embedding() && !s.default_prompt_name.empty()) return *s.prompt(s.default_prompt_name);
  return std::string();
}

// Code point offsets of byte offsets into `text` (valid UTF-8, as the tokenizer checked), for
// JSON readers, which index strings by character, as Python's tokenizers does.
std::vector<std::array<size_t, 2>> char_offsets(const std::string& text, const std::vector<encore::TokenOffset>& bytes) {
  std::vector<size_t> chars_before(text.size() + 1, 0);
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    chars_before[i] = n;
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
  }
  chars_before[text.size()] = n;
  std::vector<std::array<size_t, 2>> out;
  for (const auto& o : bytes) {
    const size_t b = std::min<size_t>(o.begin, text.size()), e = std::min<size_t>(o.end, text.size());
    out.push_back({chars_before[b], chars_before[e]});
  }
  return out;
}

// The tokens of one text (and its pair) as JSON: strings, character offsets into the segment
// each came from, and for a pair which segment that is (null for special tokens).
template <typename R>
void add_tokens(nlohmann::ordered_json& j, const R& r, const std::string& text, const std::string* pair) {
  j["ids"] = r.ids;
  j["tokens"] = r.tokens;
  std::vector<encore::TokenOffset> first, second;
  nlohmann::ordered_json offsets = nlohmann::ordered_json::array();
  for (size_t t = 0; t < r.offsets.size(); ++t) {
    const bool in_pair = t < r.sequence_ids.size() && r.sequence_ids[t] == 1;
    const std::string& source = in_pair && pair ? *pair : text;
    const auto c = char_offsets(source, {r.offsets[t]});
    offsets.push_back({c[0][0], c[0][1]});
  }
  j["offsets"] = std::move(offsets);
  if (pair) {
    nlohmann::ordered_json seq = nlohmann::ordered_json::array();
    for (uint8_t s : r.sequence_ids) seq.push_back(s == 255 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s));
    j["sequence_ids"] = std::move(seq);
  }
  if (r.truncated) j["truncated"] = true;
}

// Token classification: the entities as the pipeline gives them (entity_group, score, word,
// start / end in characters), each token's label and its probability.
nlohmann::ordered_json entities_json(const encore::TokenClassificationResult& r) {
  nlohmann::ordered_json entities = nlohmann::ordered_json::array();
  for (const auto& e : r.entities) {
    entities.push_back({{"entity_group", e.label}, {"score", e.score}, {"word", e.word},
                        {"start", e.char_start}, {"end", e.char_end}});
  }
  return entities;
}

// Fill-mask: per mask token, its position and the top-k predictions.
nlohmann::ordered_json masks_json(const encore::FillMaskResult& r) {
  nlohmann::ordered_json masks = nlohmann::ordered_json::array();
  for (const auto& m : r.masks) {
    nlohmann::ordered_json predictions = nlohmann::ordered_json::array();
    for (const auto& p : m.predictions) {
      predictions.push_back({{"token", p.token}, {"token_id", p.token_id}, {"score", p.score}, {"sequence", p.sequence}});
    }
    masks.push_back({{"position", m.position}, {"predictions", std::move(predictions)}});
  }
  return masks;
}

nlohmann::ordered_json answer_json(const encore::TextAnswer& a) {
  return {{"answer", a.answer}, {"score", a.score}, {"start", a.char_start}, {"end", a.char_end}};
}

// Question answering: one JSON line per (question, context): the best answer (null when no
// span qualifies) with start / end in characters of the context, all top_k answers with --top-k,
// and how many windows the context took.
Status run_answers(encore::TextEncoder& encoder, const TextRun& run, const std::vector<std::string>& questions,
                   const std::vector<std::string>& contexts, size_t from_args,
                   const std::function<std::string(size_t)>& where) {
  for (size_t i = 0; i < questions.size(); ++i) {
    auto r = encoder.answer(questions[i], contexts[i], run.answer);
    if (!r.ok()) return Status(r.status().code(), cat(where(i), ": ", r.status().message()));
    nlohmann::ordered_json j;
    if (i >= from_args) j["line"] = i - from_args + 1;
    j["question"] = questions[i];
    j["context"] = contexts[i];
    if (r->answers.empty()) {
      j["answer"] = nullptr;
    } else {
      const nlohmann::ordered_json best = answer_json(r->answers[0]);
      for (const auto& field : best.items()) j[field.key()] = field.value();
    }
    if (run.answer.top_k > 1) {
      nlohmann::ordered_json all = nlohmann::ordered_json::array();
      for (const auto& a : r->answers) all.push_back(answer_json(a));
      j["answers"] = std::move(all);
    }
    j["windows"] = r->windows;
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return Status::Ok();
}

}  // namespace

// Matryoshka truncation: the first `dims` of each `width`-wide row, scaled to unit L2 length
// (sentence-transformers' truncate_dim followed by normalize_embeddings).
std::vector<float> truncate_rows(const float* data, int64_t rows, int64_t width, int64_t dims) {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(rows * dims));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = data + r * width;
    double squares = 0.0;
    for (int64_t i = 0; i < dims; ++i) squares += double(row[i]) * row[i];
    const double norm = std::max(std::sqrt(squares), 1e-12);
    for (int64_t i = 0; i < dims; ++i) out.push_back(static_cast<float>(row[i] / norm));
  }
  return out;
}

// --dimensions N for an embedding `width` wide: N in [1, width] (0: not given).
Status check_dimensions(int dims, int64_t width) {
  if (dims > width) {
    return encore::invalid_argument(cat("--dimensions ", dims, " is more than the embedding's ", width));
  }
  return Status::Ok();
}

// Text mode: JSON lines with the tokens and, for a classifier, the label and probabilities; for
// a per-token head its entities, answers or mask predictions; otherwise the sentence embedding.

Status run_text(const std::string& model_path, TextRun run) {
  std::vector<std::string>& texts = run.texts;
  std::vector<std::string>& pairs = run.pairs;
  if (!pairs.empty() && pairs.size() != texts.size()) {
    return encore::invalid_argument(cat("--text-pair given ", pairs.size(), " times for ", texts.size(),
                                        " --text; give one --text-pair per --text"));
  }
  // Where each text came from, for the output ("line": N for a file's) and for errors.
  const size_t from_args = texts.size();
  const std::string file_name = run.text_file == "-" ? "standard input" : run.text_file;
  const bool with_pairs = !pairs.empty() || run.file_pairs;
  if (run.file_pairs && from_args > 0 && pairs.empty()) {
    return encore::invalid_argument("--pairs reads pairs from --text-file; give each --text its --text-pair too");
  }
  if (!run.text_file.empty()) {
    ENCORE_ASSIGN_OR_RETURN(auto lines, read_lines(run.text_file));
    for (size_t l = 0; l < lines.size(); ++l) {
      if (!run.file_pairs) {
        texts.push_back(std::move(lines[l]));
        continue;
      }
      const size_t tab = lines[l].find('\t');
      if (tab == std::string::npos && !lines[l].empty()) {
        return encore::invalid_argument(cat(file_name, " line ", l + 1, ": expected TEXT<TAB>PAIR (--pairs)"));
      }
      texts.push_back(tab == std::string::npos ? std::string() : lines[l].substr(0, tab));
      pairs.push_back(tab == std::string::npos ? std::string() : lines[l].substr(tab + 1));
    }
  }
  if (with_pairs && !run.attention_path.empty()) {
    return encore::invalid_argument("--attention-maps takes single texts, not pairs");
  }
  auto where = [&](size_t i) {
    return i < from_args ? cat(run.text_arg, " ", i + 1) : cat(file_name, " line ", i - from_args + 1);
  };
  ENCORE_ASSIGN_OR_RETURN(auto model, encore::Model::load(model_path));
  encore::SessionOptions so;
  so.threads = run.threads;
  ENCORE_ASSIGN_OR_RETURN(auto encoder, encore::TextEncoder::create(model, so, run.options));
  const bool classify = model->config().has_classifier();
  const auto& labels = model->config().labels;
  const encore::HeadKind head_kind = model->config().head;
  if (head_kind != encore::HeadKind::kPooled &&
      (run.sentence.dimensions > 0 || run.sentence.prompt_given || run.sentence.pooling_given || run.normalize)) {
    return encore::invalid_argument(cat("--pooling / --normalize / --prompt / --dimensions apply to embeddings; this "
                                        "model has a ", encore::head_kind_name(head_kind), " head"));
  }
  if (run.top_k > 0 && head_kind != encore::HeadKind::kQuestionAnswering && head_kind != encore::HeadKind::kMaskedLm) {
    return encore::invalid_argument("--top-k applies to question-answering and fill-mask models");
  }
  if (head_kind == encore::HeadKind::kQuestionAnswering) {
    if (!with_pairs) {
      return encore::invalid_argument("a question-answering model takes --question Q --context C (or --text-file FILE "
                                      "--pairs with QUESTION<TAB>CONTEXT lines)");
    }
    if (!run.attention_path.empty()) return encore::invalid_argument("--attention-maps takes single texts, not pairs");
    if (run.top_k > 0) run.answer.top_k = run.top_k;
    if (run.options.max_length > 0) run.answer.max_seq_len = run.options.max_length;
    return run_answers(*encoder, run, texts, pairs, from_args, where);
  }
  if (with_pairs && head_kind != encore::HeadKind::kPooled) {
    return encore::invalid_argument(cat("text pairs need a sequence classifier or question-answering head; this model "
                                        "has a ", encore::head_kind_name(head_kind), " head"));
  }
  const int top_k = run.top_k > 0 ? run.top_k : 5;
  // A sentence-transformers model embeds with its own modules unless --pooling says otherwise.
  const encore::Pooling pool = !run.sentence.pooling_given && model->config().has_sentence_embedding()
                                   ? encore::Pooling::kModel
                               : run.pooling == "mean" ? encore::Pooling::kMean
                                                       : encore::Pooling::kCls;
  ENCORE_ASSIGN_OR_RETURN(std::string prompt, prompt_text(model->config(), run.sentence));
  if (run.sentence.dimensions > 0) {
    const int64_t width = pool == encore::Pooling::kModel ? model->config().sentence_dimension()
                                                          : model->config().hidden_size;
    if (classify) return encore::invalid_argument("--dimensions applies to embeddings, and the model is a classifier");
    ENCORE_RETURN_IF_ERROR(check_dimensions(run.sentence.dimensions, width));
  }
  const auto batch_size = static_cast<size_t>(run.batch_size);
  for (size_t start = 0; start < texts.size(); start += batch_size) {
    const size_t end = std::min(texts.size(), start + batch_size);
    auto slice = [&](const std::vector<std::string>& v, size_t b, size_t e) {
      return std::vector<std::string>(v.begin() + static_cast<std::ptrdiff_t>(b), v.begin() + static_cast<std::ptrdiff_t>(e));
    };
    const std::vector<std::string> batch = slice(texts, start, end);
    const std::vector<std::string> batch_pairs = with_pairs ? slice(pairs, start, end) : std::vector<std::string>();
    // What the model embeds: the prompt, then the text (sentence-transformers' encode).
    std::vector<std::string> inputs = batch;
    if (!prompt.empty()) {
      for (auto& t : inputs) t = prompt + t;
    }
    auto classify_batch = [&](const std::vector<std::string>& t, const std::vector<std::string>& p) {
      return with_pairs ? encoder->classify(t, p) : encoder->classify(t);
    };
    // A batch that fails is run text by text, so the error names the text that caused it.
    auto fail = [&](const Status& batch_status) -> Status {
      for (size_t i = start; i < end; ++i) {
        const std::vector<std::string> one{texts[i]};
        const std::vector<std::string> one_pair = with_pairs ? std::vector<std::string>{pairs[i]} : std::vector<std::string>();
        Status st = classify ? classify_batch(one, one_pair).status()
                    : head_kind == encore::HeadKind::kTokenClassification ? encoder->classify_tokens(one).status()
                    : head_kind == encore::HeadKind::kMaskedLm             ? encoder->fill_mask(one, top_k).status()
                                                                           : encoder->embed({prompt + texts[i]}, pool, false).status();
        if (!st.ok()) {
          std::string message = st.message();
          if (message.rfind("text 0: ", 0) == 0) message.erase(0, 8);  // the one-text batch's own index
          return Status(st.code(), cat(where(i), ": ", message));
        }
      }
      return batch_status.with_context(cat(where(start), " to ", where(end - 1)));
    };
    auto head = [&](size_t i) {
      nlohmann::ordered_json j;
      if (start + i >= from_args) j["line"] = start + i - from_args + 1;
      j["text"] = batch[i];
      if (with_pairs) j["pair"] = batch_pairs[i];
      return j;
    };
    const std::string* no_pair = nullptr;
    if (classify) {
      auto results = classify_batch(batch, batch_pairs);
      if (!results.ok()) return fail(results.status());
      for (size_t i = 0; i < batch.size(); ++i) {
        const auto& r = (*results)[i];
        nlohmann::ordered_json j = head(i);
        j["label"] = r.label;
        nlohmann::ordered_json probs;
        for (size_t k = 0; k < labels.size(); ++k) probs[labels[k]] = std::round(r.probabilities[k] * 1e4) / 1e4;
        // A regression / one-score head's values are its raw scores, not probabilities.
        j[r.problem_type == encore::ProblemType::kRegression ? "scores" : "probabilities"] = probs;
        j["logits"] = r.logits;
        add_tokens(j, r, batch[i], with_pairs ? &batch_pairs[i] : no_pair);
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
    } else if (head_kind == encore::HeadKind::kTokenClassification) {
      auto results = encoder->classify_tokens(batch);
      if (!results.ok()) return fail(results.status());
      for (size_t i = 0; i < batch.size(); ++i) {
        const auto& r = (*results)[i];
        nlohmann::ordered_json j = head(i);
        j["entities"] = entities_json(r);
        j["token_labels"] = r.token_labels;
        nlohmann::ordered_json scores = nlohmann::ordered_json::array();
        for (float p : r.token_scores) scores.push_back(std::round(p * 1e4) / 1e4);
        j["token_scores"] = std::move(scores);
        add_tokens(j, r, batch[i], no_pair);
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
    } else if (head_kind == encore::HeadKind::kMaskedLm) {
      auto results = encoder->fill_mask(batch, top_k);
      if (!results.ok()) return fail(results.status());
      for (size_t i = 0; i < batch.size(); ++i) {
        const auto& r = (*results)[i];
        nlohmann::ordered_json j = head(i);
        j["masks"] = masks_json(r);
        add_tokens(j, r, batch[i], no_pair);
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
    } else {
      if (with_pairs) return encore::invalid_argument("text pairs need a classifier head; this model has none");
      auto results = encoder->embed(inputs, pool, run.normalize);
      if (!results.ok()) return fail(results.status());
      for (size_t i = 0; i < batch.size(); ++i) {
        const auto& r = (*results)[i];
        nlohmann::ordered_json j = head(i);
        add_tokens(j, r, inputs[i], no_pair);
        j["embedding"] = run.sentence.dimensions > 0
                             ? truncate_rows(r.values.data(), 1, static_cast<int64_t>(r.values.size()),
                                             run.sentence.dimensions)
                             : r.values;
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
    }
  }
  std::cout.flush();
  if (!run.attention_path.empty()) {
    ENCORE_RETURN_IF_ERROR(write_text_attention(model, texts, run.threads, run.attention_path));
  }
  return Status::Ok();
}

}  // namespace encore::run
