// encore-inspect MODEL.encore [--tensors] [--activations]: what a model file holds — config,
// tokenizer settings, provenance, sizes by dtype, and optionally every tensor (shape, dtype,
// bytes, quantization) and every calibrated activation range. The file is fully validated
// (Model::load) before anything is printed, so a file this tool describes is one encore runs.
// encore-inspect attention MODEL.encore (--text TEXT | --ids IDS.npy) -o REPORT.html: one
// self-contained page with a layers x heads grid of attention heatmaps for that input.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "analyze/html_report.h"
#include "common/cli_parse.h"
#include "core/str.h"
#include "common/model_text.h"
#include "encore/encore_generated.h"
#include "encore/model.h"
#include "encore/session.h"
#include "io/atomic_file.h"
#include "io/npy.h"

namespace {

std::string shape_string(const flatbuffers::Vector<int64_t>* shape) {
  std::string s = "[";
  if (shape) {
    for (uint32_t i = 0; i < shape->size(); ++i) s += (i ? ", " : "") + std::to_string(shape->Get(i));
  }
  return s + "]";
}

std::string megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MB", double(bytes) / 1e6);
  return buf;
}

// The dense layer on the first token: the pooler (its output is pooler_output), or a
// classification head's first layer with its activation.
std::string head_dense(const encore::EncoderConfig& c) {
  if (!c.has_pooler) return "pooler no";
  static const char* const kAct[] = {"tanh", "relu", "gelu"};
  const char* act = kAct[static_cast<int>(c.pooler_activation)];
  return c.pooler_output ? encore::cat("pooler yes (", act, ")") : encore::cat("head dense + ", act, " (no pooler_output)");
}

// One line on a stored tokenizer.json: where it came from, its model and the type of each stage.
std::string describe_tokenizer_json(const encore::TokenizerInfo& tok, int32_t model_limit) {
  std::string out = "tokenizer.json";
  if (!tok.source.empty() && tok.source != "tokenizer.json") out += " (from " + tok.source + ")";
  const auto j = nlohmann::json::parse(tok.json, nullptr, /*allow_exceptions=*/false);
  auto type_of = [&](const char* stage) -> std::string {
    if (!j.is_object() || !j.contains(stage) || !j[stage].is_object() || !j[stage].contains("type")) return "none";
    const auto& t = j[stage]["type"];
    return t.is_string() ? t.get<std::string>() : "?";
  };
  size_t vocab = 0;
  if (j.is_object() && j.contains("model") && j["model"].is_object() && j["model"].contains("vocab")) {
    vocab = j["model"]["vocab"].size();
  }
  const size_t added = j.is_object() && j.contains("added_tokens") ? j["added_tokens"].size() : 0;
  out += encore::cat(": ", type_of("model"), ", ", vocab, " tokens + ", added, " added; normalizer ",
                     type_of("normalizer"), ", pre-tokenizer ", type_of("pre_tokenizer"), ", post-processor ",
                     type_of("post_processor"));
  // Texts are cut to the smaller of tokenizer_config.json's model_max_length and the model's own limit.
  if (tok.model_max_length > 0 && tok.model_max_length < model_limit) {
    out += encore::cat("; at most ", tok.model_max_length, " tokens (model_max_length)");
  } else if (tok.model_max_length > 0) {
    out += encore::cat("; model_max_length ", tok.model_max_length, " (the model takes at most ", model_limit, " tokens)");
  }
  return out;
}

int inspect(const std::string& path, bool tensors, bool activations) {
  auto loaded = encore::Model::load(path);
  if (!loaded.ok()) {
    std::cerr << "encore-inspect: error: " << loaded.status().message() << "\n";
    return 1;
  }
  const encore::Model& model = **loaded;
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() != model.file_size()) {
    std::cerr << "encore-inspect: error: " << path << " changed while it was read\n";
    return 1;
  }
  const encore::fb::Model& m = *encore::fb::GetSizePrefixedModel(bytes.data());
  const encore::EncoderConfig& c = model.config();

  std::cout << path << ": encore model, format version " << m.format_version() << ", "
            << (model.is_quantized() ? "int8" : "f32") << " linear layers, " << megabytes(model.file_size()) << "\n";
  std::cout << "config: " << encore::family_name(c.family) << ", " << c.layer_count << " layers, hidden "
            << c.hidden_size << (c.embedding_size ? encore::cat(" (embeddings ", c.embedding_size, ", projected)") : "")
            << ", " << c.head_count
            << " heads (head size " << c.head_dim() << "), FFN " << c.intermediate_size << ", "
            << encore::activation_name(c.activation) << ", LayerNorm eps " << c.layer_norm_eps << "\n";
  if (c.is_modernbert()) {
    std::cout << "        pre-norm, GeGLU, rotary positions (global base " << c.global_rope_theta << ", local "
              << c.local_rope_theta << "), global attention in layers 0, " << c.global_attn_every_n_layers << ", "
              << 2 * c.global_attn_every_n_layers << ", ..., a window of " << c.local_attention
              << " tokens in the others, classifier pooling "
              << (c.classifier_pooling == encore::ClassifierPooling::kMean ? "mean" : "cls") << "\n";
  }
  std::cout << "        max positions " << c.max_positions << ", vocab " << c.vocab_size << ", token types "
            << c.type_vocab_size << ", " << head_dense(c) << ", ";
  if (c.labels.empty()) {
    std::cout << "no classifier\n";
  } else {
    std::cout << c.labels.size() << " labels:";
    for (const auto& l : c.labels) std::cout << " " << l;
    std::cout << "\n";
  }
  if (c.is_pruned()) {
    std::cout << "pruned:";
    for (int l = 0; l < c.layer_count; ++l) {
      std::cout << (l ? ";" : "") << " layer " << l << " heads";
      for (int32_t h : c.layer_heads[static_cast<size_t>(l)]) std::cout << " " << h;
      std::cout << ", FFN " << c.intermediate_in_layer(l);
    }
    std::cout << "\n";
  }
  const auto& tok = model.tokenizer();
  std::cout << "tokenizer: ";
  if (tok.empty()) {
    std::cout << "none (token ids only)\n";
  } else if (tok.json.empty()) {
    const bool strip = tok.strip_accents_set ? tok.strip_accents : tok.do_lower_case;
    std::cout << "WordPiece, " << tok.vocab.size() << " tokens, lowercase " << (tok.do_lower_case ? "yes" : "no")
              << ", strip accents " << (strip ? "yes" : "no") << (tok.strip_accents_set ? "" : " (default)") << "\n";
  } else {
    std::cout << describe_tokenizer_json(tok, model.config().max_sequence_length()) << "\n";
  }
  const auto& md = model.metadata();
  std::cout << "source: " << (md.source.empty() ? "-" : md.source) << "\nconverter: "
            << (md.converter_version.empty() ? "-" : md.converter_version) << ", created "
            << (md.created_utc.empty() ? "-" : md.created_utc) << "\ncalibration: "
            << (md.calibration.empty() ? "-" : md.calibration) << "\n";
  if (model.is_quantized()) {
    std::cout << "precision: ";
    if (md.layer_precision.empty()) {
      std::cout << "every layer int8\n";
    } else {
      for (size_t l = 0; l < md.layer_precision.size(); ++l) {
        const encore::LayerPrecision& p = md.layer_precision[l];
        std::cout << (l ? "; " : "") << "layer " << l << " attention " << (p.attention_f32 ? "f32" : "int8") << ", ffn "
                  << (p.ffn_f32 ? "f32" : "int8");
      }
      std::cout << "\n";
    }
    if (m.ffn_down_row_scales()) {
      std::cout << "ffn_down input: per-token int8 scales (max |row| / 127), output relative to them, f32 bias\n";
    }
    const encore::QualityGateFigures& g = md.quality_gate;
    if (g.ran) {
      std::cout << std::fixed << std::setprecision(5) << "quality gate: " << (g.passed ? "passed" : "missed")
                << " (max cosine drop " << g.max_cosine_drop << "), " << g.heldout_sequences << " held-out sequences, "
                << g.heldout_tokens << " tokens; per-token cosine vs f32: every layer int8 mean " << g.int8_mean_cosine
                << ", 1st percentile " << g.int8_p1_cosine << "; as stored mean " << g.mean_cosine
                << ", 1st percentile " << g.p1_cosine << ", min " << g.min_cosine << "\n";
      std::cout.unsetf(std::ios::floatfield);
      std::cout << std::setprecision(6);
    } else {
      std::cout << "quality gate: not run\n";
    }
  }

  // Sizes by dtype.
  std::map<std::string, std::pair<int, uint64_t>> by_dtype;
  if (m.tensors()) {
    for (const auto* t : *m.tensors()) {
      auto& e = by_dtype[encore::fb::EnumNameDType(t->dtype())];
      e.first += 1;
      e.second += m.buffers()->Get(t->buffer())->size();
    }
  }
  std::cout << "tensors:";
  for (const auto& [dtype, e] : by_dtype) std::cout << " " << e.first << " " << dtype << " (" << megabytes(e.second) << ")";
  std::cout << "\n";

  if (tensors && m.tensors()) {
    std::cout << "\n  name                                                dtype  shape               bytes  quantization\n";
    for (const auto* t : *m.tensors()) {
      const auto* q = t->quantization();
      std::string quant = "-";
      if (q && q->scale() && q->scale()->size() > 0) {
        const auto* s = q->scale();
        float lo = s->Get(0), hi = s->Get(0);
        for (uint32_t i = 1; i < s->size(); ++i) {
          lo = std::min(lo, s->Get(i));
          hi = std::max(hi, s->Get(i));
        }
        char buf[96];
        if (s->size() == 1) {
          std::snprintf(buf, sizeof buf, "per tensor, scale %.3g", double(lo));
        } else {
          std::snprintf(buf, sizeof buf, "per channel (%u), scale %.3g..%.3g", s->size(), double(lo), double(hi));
        }
        quant = buf;
      }
      char line[256];
      std::snprintf(line, sizeof line, "  %-50s %-5s  %-18s %10llu  %s\n", t->name()->c_str(),
                    encore::fb::EnumNameDType(t->dtype()), shape_string(t->shape()).c_str(),
                    static_cast<unsigned long long>(m.buffers()->Get(t->buffer())->size()), quant.c_str());
      std::cout << line;
    }
  }
  if (activations && m.activations()) {
    std::cout << "\n  activation                                   scale    zero point   observed range\n";
    for (const auto* a : *m.activations()) {
      char line[256];
      std::snprintf(line, sizeof line, "  %-40s %10.4g %8d      [%.4g, %.4g]\n", a->name()->c_str(), double(a->scale()),
                    a->zero_point(), double(a->observed_min()), double(a->observed_max()));
      std::cout << line;
    }
  }
  return 0;
}

}  // namespace

// The attention maps of one input as an HTML page.
encore::Status attention_report(const std::string& path, const std::string& text, const std::string& ids_path,
                                const std::string& out_path, int threads) {
  ENCORE_ASSIGN_OR_RETURN(auto model, encore::Model::load(path));
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::string source;
  if (!text.empty()) {
    ENCORE_RETURN_IF_ERROR(encore::tools::encode_text(*model, text, &ids, &tokens));
    source = "\"" + text + "\"";
  } else {
    ENCORE_ASSIGN_OR_RETURN(encore::io::NpyArray a, encore::io::read_npy(ids_path));
    if (a.dtype == encore::io::NpyDType::kFloat32 || a.shape.empty() || a.shape.size() > 2 ||
        (a.shape.size() == 2 && a.shape[0] != 1) || a.element_count() == 0) {
      return encore::invalid_argument(ids_path + ": token ids must be int32/int64 of shape [S] or [1, S]");
    }
    const auto& c = model->config();
    if (static_cast<int64_t>(a.ints.size()) > c.max_positions) {
      return encore::out_of_range(ids_path + ": " + std::to_string(a.ints.size()) +
                                  " tokens exceed the model's maximum of " + std::to_string(c.max_positions));
    }
    for (int64_t v : a.ints) {
      if (v < 0 || v >= c.vocab_size) {
        return encore::out_of_range(ids_path + ": token id " + std::to_string(v) + " is outside the vocabulary [0, " +
                                    std::to_string(c.vocab_size) + ")");
      }
      ids.push_back(static_cast<int32_t>(v));
    }
    tokens = encore::tools::token_strings(*model, ids);
    source = "token ids from " + ids_path;
  }
  encore::SessionOptions so;
  so.threads = threads;
  so.attention_probabilities = true;
  ENCORE_ASSIGN_OR_RETURN(auto session, encore::Session::create(model, so));
  ENCORE_ASSIGN_OR_RETURN(auto maps, encore::analyze::capture_attention(*session, ids, tokens, source));
  const auto& c = model->config();
  std::string heads;
  for (int l = 0; l < c.layer_count; ++l) heads += (l ? "/" : "") + std::to_string(c.heads_in_layer(l));
  const std::string line = path + ": " + (model->is_quantized() ? "int8" : "f32") + ", " +
                           std::to_string(c.layer_count) + " layers, heads per layer " + heads + ", " +
                           std::to_string(ids.size()) + " tokens";
  const std::string html = encore::analyze::attention_html("encore-inspect: attention maps", line, maps);
  ENCORE_ASSIGN_OR_RETURN(auto file, encore::io::AtomicFile::create(out_path));
  ENCORE_RETURN_IF_ERROR(file.write(html.data(), html.size()));
  ENCORE_RETURN_IF_ERROR(file.commit());
  std::cerr << "encore-inspect: " << c.total_heads() << " heatmaps of " << ids.size() << " tokens -> " << out_path << "\n";
  return encore::Status::Ok();
}

int attention_main(int argc, char** argv) {
  std::string path, text, ids, out;
  int threads = 1;
  CLI::App app{"Write the attention maps of one input as a self-contained HTML page (layers x heads heatmaps)."};
  app.name("encore-inspect attention");
  app.add_option("model", path, ".encore model file")->required();
  auto* text_opt = app.add_option("--text", text, "the input text (tokenized with the model's tokenizer)");
  app.add_option("--ids", ids, "the input as token ids, .npy [S] or [1, S]")->excludes(text_opt);
  app.add_option("-o,--output", out, "the HTML file to write")->required();
  app.add_option("--threads", threads, "threads")->check(CLI::Range(1, 256));
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-inspect")) return *code;
  if (text.empty() == ids.empty()) {
    std::cerr << "encore-inspect: error: give the input as --text TEXT or --ids IDS.npy\n";
    return 2;
  }
  const encore::Status st = attention_report(path, text, ids, out, threads);
  if (!st.ok()) {
    std::cerr << "encore-inspect: error: " << st.message() << "\n";
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "attention") return attention_main(argc - 1, argv + 1);
  std::string path;
  bool tensors = false, activations = false;
  CLI::App app{"Describe an encore model file: config, tokenizer, provenance, sizes, tensors.\n"
               "  encore-inspect attention MODEL (--text TEXT | --ids IDS.npy) -o REPORT.html: attention maps"};
  app.add_option("model", path, ".encore model file")->required();
  app.add_flag("--tensors", tensors, "list every tensor: dtype, shape, bytes, quantization");
  app.add_flag("--activations", activations, "list every calibrated activation: scale, zero point, observed range");
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-inspect")) return *code;
  return inspect(path, tensors, activations);
}
