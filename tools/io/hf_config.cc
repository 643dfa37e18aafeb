#include "io/hf_config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>

#include "core/str.h"

namespace encore::io {
namespace {

using nlohmann::json;

constexpr int64_t kMaxDimension = int64_t{1} << 20;

Result<std::string> read_text(const std::string& path) {
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0) return io_error(cat(path, ": cannot open: ", std::strerror(errno)));
  if (!S_ISREG(sb.st_mode)) return io_error(cat(path, ": not a regular file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(cat(path, ": cannot open: ", std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return io_error(cat(path, ": read failed"));
  return ss.str();
}

// A positive integer field; `required` false gives `fallback` when absent.
Result<int32_t> int_field(const json& j, const char* key, bool required, int32_t fallback, int64_t min_value = 1) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return invalid_model(cat("config.json: '", key, "' is missing"));
    return fallback;
  }
  if (!it->is_number_integer()) return invalid_model(cat("config.json: '", key, "' is not an integer"));
  const int64_t v = it->get<int64_t>();
  if (v < min_value || v > kMaxDimension) {
    return invalid_model(cat("config.json: '", key, "' = ", v, " is outside [", min_value, ", ", kMaxDimension, "]"));
  }
  return static_cast<int32_t>(v);
}

bool is_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

// The family of a model_type, and the prefix of its Hugging Face class names.
Status set_family(const std::string& model_type, HfModelConfig* hf) {
  struct Known {
    const char* model_type;
    Family family;
    const char* class_prefix;
  };
  static const Known kKnown[] = {{"bert", Family::kBert, "Bert"},
                                 {"distilbert", Family::kDistilBert, "DistilBert"},
                                 {"roberta", Family::kRoberta, "Roberta"},
                                 {"xlm-roberta", Family::kRoberta, "XLMRoberta"},
                                 {"camembert", Family::kRoberta, "Camembert"},
                                 {"electra", Family::kElectra, "Electra"},
                                 {"modernbert", Family::kModernBert, "ModernBert"}};
  for (const Known& k : kKnown) {
    if (model_type == k.model_type) {
      hf->encoder.family = k.family;
      hf->class_prefix = k.class_prefix;
      return Status::Ok();
    }
  }
  return unsupported(cat("config.json: model_type '", model_type,
                         "' is not supported (bert, distilbert, roberta, xlm-roberta, camembert, electra, modernbert)"));
}

// Sizes under each family's keys and defaults (Hugging Face's config classes): DistilBERT's
// dim / n_heads / n_layers / hidden_dim and no token types; RoBERTa's pad_token_id 1; ELECTRA's
// embedding_size (128 by default; equal to hidden_size means no projection).
Status read_sizes(const json& j, HfModelConfig* hf) {
  EncoderConfig& c = hf->encoder;
  const bool distil = c.family == Family::kDistilBert;
  ENCORE_ASSIGN_OR_RETURN(c.hidden_size, int_field(j, distil ? "dim" : "hidden_size", true, 0));
  ENCORE_ASSIGN_OR_RETURN(c.head_count, int_field(j, distil ? "n_heads" : "num_attention_heads", true, 0));
  ENCORE_ASSIGN_OR_RETURN(c.layer_count, int_field(j, distil ? "n_layers" : "num_hidden_layers", true, 0));
  ENCORE_ASSIGN_OR_RETURN(c.intermediate_size, int_field(j, distil ? "hidden_dim" : "intermediate_size", true, 0));
  ENCORE_ASSIGN_OR_RETURN(c.vocab_size, int_field(j, "vocab_size", true, 0));
  const bool modern = c.family == Family::kModernBert;
  ENCORE_ASSIGN_OR_RETURN(c.max_positions, int_field(j, "max_position_embeddings", !modern, 8192));
  if (distil || modern) {
    c.type_vocab_size = 0;
  } else {
    ENCORE_ASSIGN_OR_RETURN(c.type_vocab_size, int_field(j, "type_vocab_size", false, 2));
  }
  const int32_t pad_default = c.family == Family::kRoberta ? 1 : modern ? 50283 : 0;
  ENCORE_ASSIGN_OR_RETURN(c.pad_token_id, int_field(j, "pad_token_id", false, pad_default, 0));
  if (c.family == Family::kElectra) {
    ENCORE_ASSIGN_OR_RETURN(int32_t e, int_field(j, "embedding_size", false, 128));
    c.embedding_size = e == c.hidden_size ? 0 : e;
  }
  if (c.family == Family::kRoberta && c.max_positions <= c.pad_token_id + 1) {
    return invalid_model(cat("config.json: max_position_embeddings ", c.max_positions,
                             " leaves no position after pad_token_id ", c.pad_token_id));
  }
  return Status::Ok();
}

// A boolean key with its default when absent or null.
Result<bool> bool_field(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return invalid_model(cat("config.json: '", key, "' is not true or false"));
  return it->get<bool>();
}

// A number key > 0 with its default when absent or null.
Result<double> number_field(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) return invalid_model(cat("config.json: '", key, "' is not a number"));
  const double v = it->get<double>();
  if (!(v > 0.0) || !std::isfinite(v)) return invalid_model(cat("config.json: '", key, "' = ", v, " must be > 0"));
  return v;
}

// An activation name as Hugging Face's ACT2FN maps it, for the ones encore computes.
Result<Activation> activation_of(const std::string& key, const std::string& name) {
  if (name == "gelu") return Activation::kGeluErf;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  if (name == "relu") return Activation::kRelu;
  return unsupported(cat("config.json: ", key, " '", name, "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)"));
}

Result<std::string> string_field(const json& j, const char* key, const char* fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string(fallback);
  if (!it->is_string()) return invalid_model(cat("config.json: '", key, "' is not a string"));
  return it->get<std::string>();
}

// One entry of rope_parameters (configuration_modernbert.py: full_attention / sliding_attention):
// rope_type default, and only rope_theta besides it.
Status read_rope_entry(const json& rp, const char* kind, float* theta) {
  auto e = rp.find(kind);
  if (e == rp.end() || e->is_null()) return Status::Ok();
  if (!e->is_object()) return invalid_model(cat("config.json: rope_parameters.", kind, " is not an object"));
  for (auto it = e->begin(); it != e->end(); ++it) {
    if (it.key() == "rope_type") {
      if (!it->is_string() || it->get<std::string>() != "default") {
        return unsupported(cat("config.json: rope_parameters.", kind, ".rope_type ", it->dump(),
                               " is not supported (encore computes the default rotary embedding)"));
      }
    } else if (it.key() == "rope_theta") {
      if (!it->is_number() || !(it->get<double>() > 1.0)) {
        return invalid_model(cat("config.json: rope_parameters.", kind, ".rope_theta must be a number > 1"));
      }
      *theta = static_cast<float>(it->get<double>());
    } else {
      return unsupported(cat("config.json: rope_parameters.", kind, ".", it.key(),
                             " is not supported (encore computes the default rotary embedding)"));
    }
  }
  return Status::Ok();
}

// Labels: id2label in id order, else LABEL_i for num_labels.
Status read_labels(const json& j, EncoderConfig* c) {
  if (auto id2 = j.find("id2label"); id2 != j.end() && !id2->is_null()) {
    if (!id2->is_object()) return invalid_model("config.json: 'id2label' is not an object");
    std::map<int64_t, std::string> by_id;
    for (auto it = id2->begin(); it != id2->end(); ++it) {
      char* end = nullptr;
      errno = 0;
      const long long id = std::strtoll(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end != '\0' || errno != 0 || id < 0 || id >= kMaxDimension) {
        return invalid_model(cat("config.json: id2label key '", it.key(), "' is not a label id"));
      }
      if (!it.value().is_string()) return invalid_model(cat("config.json: id2label['", it.key(), "'] is not a string"));
      by_id[id] = it.value().get<std::string>();
    }
    int64_t expect = 0;
    for (const auto& [id, label] : by_id) {
      if (id != expect++) return invalid_model(cat("config.json: id2label ids are not 0..", by_id.size() - 1));
      c->labels.push_back(label);
    }
  }
  if (auto nl = j.find("num_labels"); nl != j.end() && !nl->is_null()) {
    ENCORE_ASSIGN_OR_RETURN(int32_t n, int_field(j, "num_labels", true, 0));
    if (c->labels.empty()) {
      for (int32_t i = 0; i < n; ++i) c->labels.push_back(cat("LABEL_", i));
    } else if (static_cast<int32_t>(c->labels.size()) != n) {
      return invalid_model(cat("config.json: num_labels ", n, " disagrees with id2label's ", c->labels.size(), " labels"));
    }
  }
  return Status::Ok();
}

// ModernBertConfig's keys (configuration_modernbert.py and its defaults), applied to hf.
Status read_modernbert(const json& j, HfModelConfig* hf) {
  EncoderConfig& c = hf->encoder;
  ENCORE_ASSIGN_OR_RETURN(hf->hidden_act, string_field(j, "hidden_activation", "gelu"));
  ENCORE_ASSIGN_OR_RETURN(c.activation, activation_of("hidden_activation", hf->hidden_act));
  ENCORE_ASSIGN_OR_RETURN(std::string head_act, string_field(j, "classifier_activation", "gelu"));
  ENCORE_ASSIGN_OR_RETURN(c.head_activation, activation_of("classifier_activation", head_act));
  ENCORE_ASSIGN_OR_RETURN(double eps, number_field(j, "norm_eps", 1e-5));
  if (!(eps < 1.0)) return invalid_model(cat("config.json: norm_eps ", eps, " is outside (0, 1)"));
  c.layer_norm_eps = static_cast<float>(eps);
  ENCORE_ASSIGN_OR_RETURN(c.local_attention, int_field(j, "local_attention", false, 128, 2));
  ENCORE_ASSIGN_OR_RETURN(c.global_attn_every_n_layers, int_field(j, "global_attn_every_n_layers", false, 3));
  ENCORE_ASSIGN_OR_RETURN(double global_theta, number_field(j, "global_rope_theta", 160000.0));
  ENCORE_ASSIGN_OR_RETURN(double local_theta, number_field(j, "local_rope_theta", 10000.0));
  c.global_rope_theta = static_cast<float>(global_theta);
  c.local_rope_theta = static_cast<float>(local_theta);
  if (auto rp = j.find("rope_parameters"); rp != j.end() && !rp->is_null()) {
    if (!rp->is_object()) return invalid_model("config.json: 'rope_parameters' is not an object");
    ENCORE_RETURN_IF_ERROR(read_rope_entry(*rp, "full_attention", &c.global_rope_theta));
    ENCORE_RETURN_IF_ERROR(read_rope_entry(*rp, "sliding_attention", &c.local_rope_theta));
  }
  if ((c.hidden_size / c.head_count) % 2 != 0) {
    return unsupported(cat("config.json: head size ", c.hidden_size / c.head_count,
                           " (hidden_size / num_attention_heads) is odd; rotary positions need an even one"));
  }
  if (auto rs = j.find("rope_scaling"); rs != j.end() && !rs->is_null()) {
    return unsupported("config.json: rope_scaling is not supported (encore computes the default rotary embedding)");
  }
  if (auto hd = j.find("head_dim"); hd != j.end() && !hd->is_null()) {
    if (!hd->is_number_integer() || hd->get<int64_t>() != c.hidden_size / c.head_count) {
      return unsupported(cat("config.json: head_dim ", hd->dump(), " is not hidden_size / num_attention_heads = ",
                             c.hidden_size / c.head_count, ", which the attention uses"));
    }
  }
  // Hugging Face derives layer_types from global_attn_every_n_layers; the attention's window
  // follows global_attn_every_n_layers whatever layer_types says, the rotary base layer_types.
  if (auto lt = j.find("layer_types"); lt != j.end() && !lt->is_null()) {
    if (!lt->is_array() || lt->size() != static_cast<size_t>(c.layer_count)) {
      return invalid_model("config.json: 'layer_types' is not a list of num_hidden_layers entries");
    }
    for (int l = 0; l < c.layer_count; ++l) {
      const char* want = c.layer_is_global(l) ? "full_attention" : "sliding_attention";
      const json& v = (*lt)[static_cast<size_t>(l)];
      if (!v.is_string() || v.get<std::string>() != want) {
        return unsupported(cat("config.json: layer_types[", l, "] = ", v.dump(), " differs from the \"", want,
                               "\" that global_attn_every_n_layers ", c.global_attn_every_n_layers,
                               " gives, which encore does not compute"));
      }
    }
  }
  ENCORE_ASSIGN_OR_RETURN(std::string pooling, string_field(j, "classifier_pooling", "cls"));
  if (pooling == "cls") {
    c.classifier_pooling = ClassifierPooling::kCls;
  } else if (pooling == "mean") {
    c.classifier_pooling = ClassifierPooling::kMean;
  } else {
    return unsupported(cat("config.json: classifier_pooling '", pooling, "' is not supported (cls, mean)"));
  }
  auto& b = hf->modernbert;
  ENCORE_ASSIGN_OR_RETURN(b.attention, bool_field(j, "attention_bias", false));
  ENCORE_ASSIGN_OR_RETURN(b.mlp, bool_field(j, "mlp_bias", false));
  ENCORE_ASSIGN_OR_RETURN(b.norm, bool_field(j, "norm_bias", false));
  ENCORE_ASSIGN_OR_RETURN(b.classifier, bool_field(j, "classifier_bias", false));
  ENCORE_ASSIGN_OR_RETURN(b.decoder, bool_field(j, "decoder_bias", true));
  return Status::Ok();
}

}  // namespace

Result<HfModelConfig> parse_hf_config(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_model("config.json: not valid JSON");
  if (!j.is_object()) return invalid_model("config.json: not a JSON object");
  HfModelConfig hf;
  auto mt = j.find("model_type");
  if (mt == j.end() || !mt->is_string()) return invalid_model("config.json: 'model_type' is missing");
  hf.model_type = mt->get<std::string>();
  ENCORE_RETURN_IF_ERROR(set_family(hf.model_type, &hf));
  const bool distil = hf.encoder.family == Family::kDistilBert;
  if (auto a = j.find("architectures"); a != j.end() && !a->is_null()) {
    if (!a->is_array()) return invalid_model("config.json: 'architectures' is not a list");
    for (const auto& s : *a) {
      if (!s.is_string()) return invalid_model("config.json: 'architectures' holds a non-string");
      hf.architectures.push_back(s.get<std::string>());
    }
  }
  // Relative position schemes add a learned distance term to every attention score, which
  // encore does not compute: refused rather than converted without it.
  if (auto pe = j.find("position_embedding_type"); pe != j.end() && !pe->is_null()) {
    if (!pe->is_string()) return invalid_model("config.json: 'position_embedding_type' is not a string");
    if (pe->get<std::string>() != "absolute") {
      return unsupported(cat("config.json: position_embedding_type '", pe->get<std::string>(),
                             "' is not supported (encore computes 'absolute' positions)"));
    }
  }
  // A decoder config (causal self-attention, cross-attention) is not an encoder.
  for (const char* key : {"is_decoder", "add_cross_attention"}) {
    if (auto d = j.find(key); d != j.end() && !d->is_null()) {
      if (!d->is_boolean()) return invalid_model(cat("config.json: '", key, "' is not a boolean"));
      if (d->get<bool>()) return unsupported(cat("config.json: ", key, " true is not supported (encore runs encoders)"));
    }
  }
  if (auto pt = j.find("problem_type"); pt != j.end() && !pt->is_null()) {
    if (!pt->is_string()) return invalid_model("config.json: 'problem_type' is not a string");
    hf.problem_type = pt->get<std::string>();
  }
  EncoderConfig& c = hf.encoder;
  if (c.family == Family::kModernBert) {
    ENCORE_RETURN_IF_ERROR(read_sizes(j, &hf));
    if (c.hidden_size % c.head_count != 0) {
      return invalid_model(cat("config.json: hidden_size ", c.hidden_size, " is not divisible by num_attention_heads ",
                               c.head_count));
    }
    if (c.pad_token_id >= c.vocab_size) {
      return invalid_model(cat("config.json: pad_token_id ", c.pad_token_id, " is outside the vocabulary"));
    }
    ENCORE_RETURN_IF_ERROR(read_modernbert(j, &hf));
    ENCORE_RETURN_IF_ERROR(read_labels(j, &c));
    return hf;
  }
  // DistilBERT names its activation "activation"; the others "hidden_act". "gelu" is every
  // family's default.
  const char* act_key = distil ? "activation" : "hidden_act";
  auto act = j.find(act_key);
  if (act == j.end()) {
    hf.hidden_act = "gelu";
  } else if (!act->is_string()) {
    return invalid_model(cat("config.json: '", act_key, "' is not a string"));
  } else {
    hf.hidden_act = act->get<std::string>();
  }
  if (hf.hidden_act == "gelu") {
    c.activation = Activation::kGeluErf;
  } else if (hf.hidden_act == "gelu_new" || hf.hidden_act == "gelu_pytorch_tanh") {
    c.activation = Activation::kGeluTanh;
  } else if (hf.hidden_act == "relu") {
    c.activation = Activation::kRelu;
  } else {
    return unsupported(cat("config.json: ", act_key, " '", hf.hidden_act,
                           "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)"));
  }
  ENCORE_RETURN_IF_ERROR(read_sizes(j, &hf));
  if (c.hidden_size % c.head_count != 0) {
    return invalid_model(cat("config.json: hidden_size ", c.hidden_size, " is not divisible by num_attention_heads ",
                             c.head_count));
  }
  if (c.pad_token_id >= c.vocab_size) {
    return invalid_model(cat("config.json: pad_token_id ", c.pad_token_id, " is outside the vocabulary"));
  }
  // DistilBERT's LayerNorms use eps 1e-12 in the code, whatever a config says.
  if (auto e = j.find("layer_norm_eps"); !distil && e != j.end() && !e->is_null()) {
    if (!e->is_number()) return invalid_model("config.json: 'layer_norm_eps' is not a number");
    const double eps = e->get<double>();
    if (!(eps > 0.0 && eps < 1.0)) return invalid_model(cat("config.json: layer_norm_eps ", eps, " is outside (0, 1)"));
    c.layer_norm_eps = static_cast<float>(eps);
  }
  ENCORE_RETURN_IF_ERROR(read_labels(j, &c));
  return hf;
}

Result<HfModelConfig> read_hf_config(const std::string& model_dir) {
  ENCORE_ASSIGN_OR_RETURN(std::string text, read_text(model_dir + "/config.json"));
  auto hf = parse_hf_config(text);
  if (!hf.ok()) return hf.status().with_context(model_dir);
  const std::string tok_path = model_dir + "/tokenizer_config.json";
  struct stat sb;
  if (stat(tok_path.c_str(), &sb) != 0) return hf;
  ENCORE_ASSIGN_OR_RETURN(std::string tok_text, read_text(tok_path));
  json t = json::parse(tok_text, nullptr, false);
  if (t.is_discarded() || !t.is_object()) return invalid_model(cat(tok_path, ": not a JSON object"));
  if (auto lc = t.find("do_lower_case"); lc != t.end() && !lc->is_null()) {
    if (!lc->is_boolean()) return invalid_model(cat(tok_path, ": 'do_lower_case' is not true or false"));
    hf->do_lower_case = lc->get<bool>();
  }
  if (auto sa = t.find("strip_accents"); sa != t.end() && !sa->is_null()) {
    if (!sa->is_boolean()) return invalid_model(cat(tok_path, ": 'strip_accents' is not true, false or null"));
    hf->strip_accents_set = true;
    hf->strip_accents = sa->get<bool>();
  }
  return hf;
}

Result<std::vector<std::string>> read_vocab(const std::string& path) {
  ENCORE_ASSIGN_OR_RETURN(std::string text, read_text(path));
  if (text.empty()) return invalid_model(cat(path, ": the vocabulary is empty"));
  std::vector<std::string> vocab;
  std::map<std::string, size_t> seen;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string token = text.substr(start, end - start);
    if (!token.empty() && token.back() == '\r') token.pop_back();
    const size_t line = vocab.size() + 1;
    if (!is_utf8(token)) return invalid_model(cat(path, ": line ", line, " is not valid UTF-8"));
    auto [it, inserted] = seen.emplace(token, line);
    if (!inserted) return invalid_model(cat(path, ": line ", line, " repeats the token on line ", it->second));
    vocab.push_back(std::move(token));
    start = end + 1;
  }
  return vocab;
}

}  // namespace encore::io
