#include "convert/sentence_transformers.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <sys/stat.h>

#include "core/str.h"
#include "io/safetensors.h"
#include "model/format.h"

namespace encore::convert {

namespace {

using nlohmann::json;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// A JSON object from `path` (named relative to the directory in errors).
Result<json> read_json(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(cat(path, ": cannot open: ", std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return io_error(cat(path, ": read failed"));
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return invalid_model(cat(name, ": not valid JSON"));
  return j;
}

// The class a modules.json "type" names, for the classes of sentence_transformers.models:
// "sentence_transformers.models.Pooling" and "sentence_transformers.models.Pooling.Pooling"
// both name Pooling (import_from_string imports the module, then takes the attribute).
std::string module_class(const std::string& type) {
  const std::string prefix = "sentence_transformers.models.";
  if (type.rfind(prefix, 0) != 0) return "";
  std::string rest = type.substr(prefix.size());
  const size_t dot = rest.find('.');
  if (dot == std::string::npos) return rest;
  if (rest.substr(dot + 1) == rest.substr(0, dot)) return rest.substr(0, dot);
  return "";
}

// A module's folder: "" or a relative path inside the directory (no "..", not absolute).
Result<std::string> module_path(const json& m, size_t index) {
  auto it = m.find("path");
  if (it == m.end() || !it->is_string()) return invalid_model(cat("modules.json: module ", index, " has no 'path' string"));
  const std::string p = it->get<std::string>();
  if (!p.empty() && (p[0] == '/' || p == ".." || p.rfind("../", 0) == 0 || p.find("/../") != std::string::npos ||
                     (p.size() >= 3 && p.compare(p.size() - 3, 3, "/..") == 0))) {
    return invalid_model(cat("modules.json: module ", index, " path '", p, "' is outside the model directory"));
  }
  return p;
}

std::string join(const std::string& dir, const std::string& path) { return path.empty() ? dir : dir + "/" + path; }

Result<bool> bool_field(const json& j, const std::string& file, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return invalid_model(cat(file, ": '", key, "' is not true or false"));
  return it->get<bool>();
}

Result<int32_t> int_field(const json& j, const std::string& file, const char* key, int32_t fallback, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return invalid_model(cat(file, ": '", key, "' is missing"));
    return fallback;
  }
  if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > (int64_t{1} << 20)) {
    return invalid_model(cat(file, ": '", key, "' is not an integer in [1, 1048576]"));
  }
  return static_cast<int32_t>(it->get<int64_t>());
}

// Keys a module's constructor takes: any other would make sentence-transformers fail (a
// keyword argument it does not know), or mean something encore does not apply.
Status known_keys(const json& j, const std::string& file, const std::set<std::string>& keys) {
  if (!j.is_object()) return invalid_model(cat(file, ": not a JSON object"));
  for (const auto& [key, value] : j.items()) {
    if (!keys.count(key)) return unsupported(cat(file, ": key '", key, "' is not supported"));
  }
  return Status::Ok();
}

// sentence_bert_config.json (or the older per-family names Transformer.load_config tries, in
// its order) in the Transformer's folder: max_seq_length and do_lower_case. Without
// max_seq_length, sentence-transformers uses min(max_position_embeddings,
// tokenizer.model_max_length): the first is encore's own limit, the second is read here.
Status read_transformer_config(const SentenceModules& m, SentenceEmbeddingConfig* s, int32_t max_positions) {
  static const char* const kNames[] = {"sentence_bert_config.json",    "sentence_roberta_config.json",
                                       "sentence_distilbert_config.json", "sentence_camembert_config.json",
                                       "sentence_albert_config.json",  "sentence_xlm-roberta_config.json",
                                       "sentence_xlnet_config.json"};
  for (const char* name : kNames) {
    if (!exists(m.transformer_dir + "/" + name)) continue;
    ENCORE_ASSIGN_OR_RETURN(json j, read_json(m.transformer_dir, name));
    ENCORE_RETURN_IF_ERROR(known_keys(j, name, {"max_seq_length", "do_lower_case", "model_args", "tokenizer_args",
                                                "config_args"}));
    // Extra arguments to from_pretrained: only trust_remote_code, which Transformer.load_config
    // drops, is harmless; the others could change the model or its tokenizer.
    for (const char* key : {"model_args", "tokenizer_args", "config_args"}) {
      auto it = j.find(key);
      if (it == j.end() || it->is_null()) continue;
      if (!it->is_object()) return invalid_model(cat(name, ": '", key, "' is not an object"));
      for (const auto& [arg, value] : it->items()) {
        if (arg != "trust_remote_code") {
          return unsupported(cat(name, ": ", key, " '", arg, "' is not supported (encore loads the model as saved)"));
        }
      }
    }
    ENCORE_ASSIGN_OR_RETURN(bool lower, bool_field(j, name, "do_lower_case", false));
    if (lower) {
      return unsupported(cat(name, ": do_lower_case true is not supported (sentence-transformers lowercases texts "
                                   "with Python's str.lower before the tokenizer; encore does not)"));
    }
    ENCORE_ASSIGN_OR_RETURN(s->max_seq_length, int_field(j, name, "max_seq_length", 0, false));
    break;
  }
  if (s->max_seq_length == 0 && exists(m.transformer_dir + "/tokenizer_config.json")) {
    ENCORE_ASSIGN_OR_RETURN(json t, read_json(m.transformer_dir, "tokenizer_config.json"));
    auto it = t.find("model_max_length");
    // Tokenizers without a limit store a huge float (VERY_LARGE_INTEGER); only an integer
    // below the position embeddings limits anything.
    if (it != t.end() && it->is_number_integer() && it->get<int64_t>() >= 1 && it->get<int64_t>() < max_positions) {
      s->max_seq_length = static_cast<int32_t>(it->get<int64_t>());
    }
  }
  if (s->max_seq_length > max_positions) s->max_seq_length = 0;  // the encoder's own limit is lower
  return Status::Ok();
}

// 1_Pooling/config.json, as Pooling.__init__ reads it: `pooling_mode` (when given) replaces
// every pooling_mode_* flag; pooling_mode_mean_tokens defaults to true, the others to false.
Status read_pooling(const SentenceModules& m, int32_t hidden, SentenceEmbeddingConfig* s) {
  const std::string file = join(m.pooling_path, "config.json");
  ENCORE_ASSIGN_OR_RETURN(json j, read_json(m.dir, file));
  ENCORE_RETURN_IF_ERROR(known_keys(
      j, file,
      {"word_embedding_dimension", "pooling_mode", "pooling_mode_cls_token", "pooling_mode_max_tokens",
       "pooling_mode_mean_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
       "pooling_mode_lasttoken", "include_prompt"}));
  ENCORE_ASSIGN_OR_RETURN(int32_t width, int_field(j, file, "word_embedding_dimension", 0, true));
  if (width != hidden) {
    return invalid_model(cat(file, ": word_embedding_dimension ", width, " differs from the encoder's hidden_size ",
                             hidden));
  }
  struct Flag {
    const char* key;
    const char* mode;
    uint32_t bit;
    bool fallback;
  };
  static const Flag kFlags[] = {{"pooling_mode_cls_token", "cls", kPoolCls, false},
                                {"pooling_mode_max_tokens", "max", kPoolMax, false},
                                {"pooling_mode_mean_tokens", "mean", kPoolMean, true},
                                {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens", kPoolMeanSqrtLen, false},
                                {"pooling_mode_weightedmean_tokens", "weightedmean", kPoolWeightedMean, false},
                                {"pooling_mode_lasttoken", "lasttoken", kPoolLastToken, false}};
  uint32_t pooling = 0;
  auto mode = j.find("pooling_mode");
  if (mode != j.end() && !mode->is_null()) {
    if (!mode->is_string()) return invalid_model(cat(file, ": 'pooling_mode' is not a string"));
    std::string name = mode->get<std::string>();
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const Flag& f : kFlags) {
      if (name == f.mode) pooling = f.bit;
    }
    if (!pooling) return unsupported(cat(file, ": pooling_mode '", mode->get<std::string>(), "' is not supported"));
  } else {
    for (const Flag& f : kFlags) {
      ENCORE_ASSIGN_OR_RETURN(bool on, bool_field(j, file, f.key, f.fallback));
      if (on) pooling |= f.bit;
    }
  }
  if (!pooling) return invalid_model(cat(file, ": no pooling mode is set"));
  ENCORE_ASSIGN_OR_RETURN(bool include_prompt, bool_field(j, file, "include_prompt", true));
  if (!include_prompt) {
    return unsupported(cat(file, ": include_prompt false is not supported (pooling that leaves out the prompt's "
                                 "tokens)"));
  }
  s->pooling = pooling;
  return Status::Ok();
}

// One Dense module: its config.json (Dense.__init__'s keys; activation_function a class path
// that Dense.load imports) and linear.weight / linear.bias from its model.safetensors.
Status read_dense(const SentenceModules& m, size_t index, int32_t in_width, FloatCheckpoint* ck) {
  const std::string& path = m.dense_paths[index];
  const std::string file = join(path, "config.json");
  ENCORE_ASSIGN_OR_RETURN(json j, read_json(m.dir, file));
  ENCORE_RETURN_IF_ERROR(known_keys(j, file, {"in_features", "out_features", "bias", "activation_function"}));
  SentenceDense d;
  ENCORE_ASSIGN_OR_RETURN(d.in_features, int_field(j, file, "in_features", 0, true));
  ENCORE_ASSIGN_OR_RETURN(d.out_features, int_field(j, file, "out_features", 0, true));
  ENCORE_ASSIGN_OR_RETURN(d.bias, bool_field(j, file, "bias", true));
  auto act = j.find("activation_function");
  if (act == j.end() || !act->is_string()) return invalid_model(cat(file, ": 'activation_function' is missing"));
  const std::string a = act->get<std::string>();
  if (a == "torch.nn.modules.activation.Tanh" || a == "torch.nn.Tanh") {
    d.activation = DenseActivation::kTanh;
  } else if (a == "torch.nn.modules.linear.Identity" || a == "torch.nn.Identity") {
    d.activation = DenseActivation::kIdentity;
  } else {
    return unsupported(cat(file, ": activation_function '", a, "' is not supported (encore applies Identity and Tanh)"));
  }
  if (d.in_features != in_width) {
    return invalid_model(cat(file, ": in_features ", d.in_features, " but the module before gives ", in_width));
  }
  const std::string dir = join(m.dir, path);
  if (!exists(dir + "/model.safetensors") && exists(dir + "/pytorch_model.bin")) {
    return not_found(cat(join(path, "model.safetensors"), ": not found (only pytorch_model.bin is present: save the "
                         "model with safe_serialization=True)"));
  }
  auto file_or = io::SafetensorsFile::open(dir + "/model.safetensors");
  if (!file_or.ok()) return file_or.status();
  const io::SafetensorsFile& st = *file_or;
  auto read = [&](const char* name, std::vector<int64_t> shape, const char* dst) -> Status {
    const io::SafetensorsEntry* e = st.find(name);
    if (!e) return invalid_model(cat(join(path, "model.safetensors"), ": missing tensor '", name, "'"));
    if (e->shape != shape) {
      return invalid_model(cat(join(path, "model.safetensors"), ": tensor '", name, "' does not have the shape [",
                               shape[0], shape.size() > 1 ? cat(", ", shape[1]) : std::string(), "] config.json implies"));
    }
    ENCORE_ASSIGN_OR_RETURN(auto values, st.read_f32(name));
    ck->tensors[format::sentence_dense_name(index, dst)] = FloatTensor{shape, std::move(values)};
    return Status::Ok();
  };
  ENCORE_RETURN_IF_ERROR(read("linear.weight", {d.out_features, d.in_features}, "weight"));
  if (d.bias) ENCORE_RETURN_IF_ERROR(read("linear.bias", {d.out_features}, "bias"));
  // Dense.load loads strictly: a tensor it does not expect is an error there too.
  for (const auto& e : st.entries()) {
    if (e.name != "linear.weight" && !(d.bias && e.name == "linear.bias")) {
      return invalid_model(cat(join(path, "model.safetensors"), ": unexpected tensor '", e.name, "'"));
    }
  }
  ck->config.sentence.dense.push_back(d);
  return Status::Ok();
}

// config_sentence_transformers.json (optional): prompts, default_prompt_name,
// similarity_fn_name. The prompts stored are the ones SentenceTransformer ends up with: its
// defaults {"query": "", "document": ""} updated with the file's.
Status read_model_config(const SentenceModules& m, SentenceEmbeddingConfig* s) {
  const char* file = "config_sentence_transformers.json";
  s->prompts = {{"query", ""}, {"document", ""}};
  if (!exists(m.dir + "/" + file)) return Status::Ok();
  ENCORE_ASSIGN_OR_RETURN(json j, read_json(m.dir, file));
  if (!j.is_object()) return invalid_model(cat(file, ": not a JSON object"));
  if (auto t = j.find("model_type"); t != j.end() && !t->is_null()) {
    if (!t->is_string() || t->get<std::string>() != "SentenceTransformer") {
      return unsupported(cat(file, ": model_type ", t->dump(), " is not supported (encore converts SentenceTransformer)"));
    }
  }
  if (auto p = j.find("prompts"); p != j.end() && !p->is_null()) {
    if (!p->is_object()) return invalid_model(cat(file, ": 'prompts' is not an object"));
    for (const auto& [name, text] : p->items()) {
      if (!text.is_string()) return invalid_model(cat(file, ": prompt '", name, "' is not a string"));
      bool replaced = false;
      for (auto& [key, value] : s->prompts) {
        if (key == name) {
          value = text.get<std::string>();
          replaced = true;
        }
      }
      if (!replaced) s->prompts.emplace_back(name, text.get<std::string>());
    }
  }
  for (auto [key, dst] : {std::pair{"default_prompt_name", &s->default_prompt_name},
                          std::pair{"similarity_fn_name", &s->similarity_fn_name}}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) return invalid_model(cat(file, ": '", key, "' is not a string"));
    *dst = it->get<std::string>();
  }
  if (!s->default_prompt_name.empty() && !s->prompt(s->default_prompt_name)) {
    return invalid_model(cat(file, ": default_prompt_name '", s->default_prompt_name, "' is not one of the prompts"));
  }
  return Status::Ok();
}

}  // namespace

bool is_sentence_transformers_dir(const std::string& dir) { return exists(dir + "/modules.json"); }

Result<SentenceModules> read_modules_json(const std::string& dir) {
  ENCORE_ASSIGN_OR_RETURN(json j, read_json(dir, "modules.json"));
  if (!j.is_array()) return invalid_model("modules.json: not a JSON array of modules");
  SentenceModules m;
  m.dir = dir;
  // The order encore applies: Transformer, Pooling, Dense..., Normalize.
  enum Stage { kStart, kTransformer, kPooling, kDense, kNormalize } stage = kStart;
  for (size_t i = 0; i < j.size(); ++i) {
    const json& e = j[i];
    if (!e.is_object() || !e.contains("type") || !e["type"].is_string()) {
      return invalid_model(cat("modules.json: module ", i, " has no 'type' string"));
    }
    const std::string type = e["type"].get<std::string>();
    const std::string cls = module_class(type);
    ENCORE_ASSIGN_OR_RETURN(std::string path, module_path(e, i));
    const char* order = " (encore applies Transformer, Pooling, Dense..., Normalize, in that order)";
    if (cls == "Transformer" && stage == kStart) {
      m.transformer_dir = join(dir, path);
      stage = kTransformer;
    } else if (cls == "Pooling" && stage == kTransformer) {
      m.pooling_path = path;
      stage = kPooling;
    } else if (cls == "Dense" && (stage == kPooling || stage == kDense)) {
      m.dense_paths.push_back(path);
      stage = kDense;
    } else if (cls == "Normalize" && (stage == kPooling || stage == kDense)) {
      m.normalize = true;
      stage = kNormalize;
    } else if (cls == "Transformer" || cls == "Pooling" || cls == "Dense" || cls == "Normalize") {
      return unsupported(cat("modules.json: module ", i, " (", cls, ") is out of order", order));
    } else {
      return unsupported(cat("modules.json: module ", i, " type '", type, "' is not supported", order));
    }
  }
  if (stage == kStart) return unsupported("modules.json: no Transformer module (encore converts Transformer models)");
  if (stage == kTransformer) return unsupported("modules.json: no Pooling module after the Transformer");
  return m;
}

Status read_sentence_modules(const SentenceModules& m, FloatCheckpoint* ck) {
  EncoderConfig& c = ck->config;
  SentenceEmbeddingConfig& s = c.sentence;
  ENCORE_RETURN_IF_ERROR(read_transformer_config(m, &s, c.max_sequence_length()));
  ENCORE_RETURN_IF_ERROR(read_pooling(m, c.hidden_size, &s));
  int32_t width = s.pooled_width(c.hidden_size);
  for (size_t i = 0; i < m.dense_paths.size(); ++i) {
    ENCORE_RETURN_IF_ERROR(read_dense(m, i, width, ck));
    width = s.dense.back().out_features;
  }
  s.normalize = m.normalize;
  return read_model_config(m, &s);
}

}  // namespace encore::convert
