// See tokenizer_files.h. The Hugging Face behaviour each step follows is cited where it is
// implemented; "transformers" means its v4 sources (tokenization_utils_base.py,
// tokenization_utils_fast.py, models/*/tokenization_*_fast.py, convert_slow_tokenizer.py).
//
// SentencePiece .model files are read by sentencepiece_model.h (why not libsentencepiece: there).
#include "convert/tokenizer_files.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>

#include "convert/sentencepiece_model.h"
#include "core/str.h"
#include "encore/text_tokenizer.h"

namespace encore::convert {
namespace {

using Json = nlohmann::ordered_json;

bool is_file(const std::string& path) {
  struct stat sb;
  return ::stat(path.c_str(), &sb) == 0 && S_ISREG(sb.st_mode);
}

Result<std::string> read_bytes(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(cat(name, ": cannot open: ", std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return io_error(cat(name, ": read failed"));
  return ss.str();
}

// A JSON file that must hold an object; absent gives null.
Result<Json> read_json_object(const std::string& dir, const std::string& name) {
  if (!is_file(dir + "/" + name)) return Json();
  ENCORE_ASSIGN_OR_RETURN(std::string text, read_bytes(dir, name));
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_model(cat(name, ": not valid JSON"));
  if (!j.is_object()) return invalid_model(cat(name, ": not a JSON object"));
  return j;
}

const Json* find(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

Result<bool> get_bool(const Json& j, const char* key, bool fallback, const std::string& where) {
  const Json* v = find(j, key);
  if (!v) return fallback;
  if (!v->is_boolean()) return invalid_model(cat(where, ": '", key, "' is not true or false"));
  return v->get<bool>();
}

// ---- Special and added tokens ------------------------------------------------------------------

// transformers' AddedToken. `explicit_flags`: the value was an AddedToken (a dict in the file, or
// the class wrapping a string, as RobertaTokenizerFast does for <mask>), which replaces the flags
// of a tokenizer.json entry with the same content when the fast tokenizer re-adds its special
// tokens; a plain string only adds the token when it is missing.
struct TokenSpec {
  std::string content;
  bool lstrip = false, rstrip = false, single_word = false, normalized = false, special = true;
  bool explicit_flags = false;
};

// An AddedToken dict ({"content", "lstrip", "rstrip", "single_word", "normalized", "special"},
// "__type" ignored). `special` as given, else `special_default`; normalized defaults to
// !special (tokenizers' AddedToken::from).
Result<TokenSpec> token_from_dict(const Json& v, bool special_default, const std::string& where) {
  if (!v.is_object()) return invalid_model(cat(where, ": expected a string or an AddedToken object"));
  TokenSpec t;
  const Json* c = find(v, "content");
  if (!c || !c->is_string() || c->get<std::string>().empty()) return invalid_model(cat(where, ": 'content' is not a non-empty string"));
  t.content = c->get<std::string>();
  ENCORE_ASSIGN_OR_RETURN(t.special, get_bool(v, "special", special_default, where));
  ENCORE_ASSIGN_OR_RETURN(t.lstrip, get_bool(v, "lstrip", false, where));
  ENCORE_ASSIGN_OR_RETURN(t.rstrip, get_bool(v, "rstrip", false, where));
  ENCORE_ASSIGN_OR_RETURN(t.single_word, get_bool(v, "single_word", false, where));
  ENCORE_ASSIGN_OR_RETURN(t.normalized, get_bool(v, "normalized", !t.special, where));
  t.explicit_flags = true;
  return t;
}

enum class Kind { kBert, kRoberta, kXlmRoberta, kCamembert, kGeneric };

struct TokenizerClass {
  std::string name;  // as written (or derived from model_type), for messages
  Kind kind = Kind::kGeneric;
};

const char* const kSpecialKeys[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};

// The special tokens a class's __init__ defaults to. RoBERTa-like classes wrap a string mask token
// as AddedToken(mask, lstrip=True, rstrip=False) ("Mask token behave like a normal word, i.e.
// include the space before it": RobertaTokenizerFast / XLMRobertaTokenizerFast /
// CamembertTokenizerFast).
struct SpecialTokens {
  std::map<std::string, TokenSpec> by_key;
  std::vector<TokenSpec> additional;
};

TokenSpec plain(const std::string& content) {
  TokenSpec t;
  t.content = content;
  return t;
}

bool mask_lstrip(Kind k) { return k == Kind::kRoberta || k == Kind::kXlmRoberta || k == Kind::kCamembert; }

SpecialTokens class_defaults(Kind k) {
  SpecialTokens s;
  if (k == Kind::kBert) {
    for (auto [key, v] : {std::pair{"unk_token", "[UNK]"}, {"sep_token", "[SEP]"}, {"pad_token", "[PAD]"},
                          {"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}})
      s.by_key[key] = plain(v);
  } else if (k != Kind::kGeneric) {
    for (auto [key, v] : {std::pair{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"sep_token", "</s>"}, {"cls_token", "<s>"},
                          {"unk_token", "<unk>"}, {"pad_token", "<pad>"}, {"mask_token", "<mask>"}})
      s.by_key[key] = plain(v);
    s.by_key["mask_token"].lstrip = true;
    s.by_key["mask_token"].explicit_flags = true;
  }
  if (k == Kind::kCamembert) {
    // CamembertTokenizer(Fast) additional_special_tokens default.
    for (const char* t : {"<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED"}) s.additional.push_back(plain(t));
  }
  return s;
}

// A special-token value from a config file: a string, an AddedToken dict, or null (no token).
Status set_special(SpecialTokens* s, Kind kind, const std::string& key, const Json& v, const std::string& where) {
  if (v.is_null()) {
    s->by_key.erase(key);
    return Status::Ok();
  }
  TokenSpec t;
  if (v.is_string()) {
    if (v.get<std::string>().empty()) return invalid_model(cat(where, ": '", key, "' is empty"));
    t = plain(v.get<std::string>());
    if (key == "mask_token" && mask_lstrip(kind)) {
      t.lstrip = true;
      t.explicit_flags = true;
    }
  } else {
    ENCORE_ASSIGN_OR_RETURN(t, token_from_dict(v, true, cat(where, ": '", key, "'")));
  }
  s->by_key[key] = t;
  return Status::Ok();
}

Status add_additional(SpecialTokens* s, const Json& list, const std::string& where) {
  if (!list.is_array()) return invalid_model(cat(where, ": 'additional_special_tokens' is not a list"));
  for (const auto& v : list) {
    TokenSpec t;
    if (v.is_string()) {
      t = plain(v.get<std::string>());
    } else {
      ENCORE_ASSIGN_OR_RETURN(t, token_from_dict(v, true, cat(where, ": 'additional_special_tokens'")));
    }
    bool seen = false;
    for (const auto& a : s->additional) seen = seen || a.content == t.content;
    if (!seen) s->additional.push_back(t);
  }
  return Status::Ok();
}

struct AddedTokensDecoder {
  std::vector<std::pair<int64_t, TokenSpec>> entries;  // id order as in the file
};

// tokenizer_config.json "added_tokens_decoder": {"50264": {"content": "<mask>", ...}} (transformers
// >= 4.34); its entries are AddedToken(**dict) (special defaults to False there).
Result<AddedTokensDecoder> read_added_tokens_decoder(const Json& cfg) {
  AddedTokensDecoder d;
  const Json* a = find(cfg, "added_tokens_decoder");
  if (!a) return d;
  if (!a->is_object()) return invalid_model("tokenizer_config.json: 'added_tokens_decoder' is not an object");
  for (auto it = a->begin(); it != a->end(); ++it) {
    const std::string where = cat("tokenizer_config.json: added_tokens_decoder['", it.key(), "']");
    char* end = nullptr;
    errno = 0;
    const long long id = std::strtoll(it.key().c_str(), &end, 10);
    if (it.key().empty() || *end != '\0' || errno != 0 || id < 0 || id > INT32_MAX)
      return invalid_model(cat(where, ": the key is not a token id"));
    ENCORE_ASSIGN_OR_RETURN(TokenSpec t, token_from_dict(it.value(), false, where));
    d.entries.emplace_back(id, t);
  }
  return d;
}

// The special tokens after from_pretrained's resolution (tokenization_utils_base.py
// _from_pretrained): class defaults, then tokenizer_config.json's values; special_tokens_map.json
// overrides those only in the legacy branch (no added_tokens_decoder); finally every special
// token whose content is in added_tokens_decoder takes that entry's flags.
Result<SpecialTokens> resolve_special_tokens(Kind kind, const Json& cfg, const Json& stmap, const AddedTokensDecoder& dec) {
  SpecialTokens s = class_defaults(kind);
  for (const char* key : kSpecialKeys) {
    if (cfg.is_object() && cfg.contains(key)) ENCORE_RETURN_IF_ERROR(set_special(&s, kind, key, cfg.at(key), "tokenizer_config.json"));
  }
  if (const Json* a = find(cfg, "additional_special_tokens")) {
    s.additional.clear();
    ENCORE_RETURN_IF_ERROR(add_additional(&s, *a, "tokenizer_config.json"));
  }
  if (!find(cfg, "added_tokens_decoder") && stmap.is_object()) {
    for (const char* key : kSpecialKeys) {
      if (stmap.contains(key)) ENCORE_RETURN_IF_ERROR(set_special(&s, kind, key, stmap.at(key), "special_tokens_map.json"));
    }
    if (const Json* a = find(stmap, "additional_special_tokens")) ENCORE_RETURN_IF_ERROR(add_additional(&s, *a, "special_tokens_map.json"));
  }
  for (auto& [key, t] : s.by_key) {
    for (const auto& [id, d] : dec.entries) {
      if (d.content == t.content) t = d;
    }
  }
  return s;
}

// Model vocabulary lookups on a tokenizer.json "model" (BPE / WordPiece: {token: id}; Unigram:
// [[piece, score], ...], the last piece of a text winning as in tokenizers' Unigram::from).
struct ModelVocab {
  std::map<std::string, int64_t> ids;
  int64_t size = 0;
};

Result<ModelVocab> model_vocab(const Json& tok, const std::string& where) {
  ModelVocab v;
  const Json* m = find(tok, "model");
  const Json* vocab = m ? find(*m, "vocab") : nullptr;
  if (!vocab) return invalid_model(cat(where, ": model.vocab is missing"));
  if (vocab->is_object()) {
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
      if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0)
        return invalid_model(cat(where, ": model.vocab['", it.key(), "'] is not a token id"));
      const int64_t id = it.value().get<int64_t>();
      v.ids[it.key()] = id;
      v.size = std::max(v.size, id + 1);
    }
  } else if (vocab->is_array()) {
    for (size_t i = 0; i < vocab->size(); ++i) {
      const Json& e = (*vocab)[i];
      if (!e.is_array() || e.empty() || !e[0].is_string()) return invalid_model(cat(where, ": model.vocab[", i, "] is not [piece, score]"));
      v.ids[e[0].get<std::string>()] = static_cast<int64_t>(i);
    }
    v.size = static_cast<int64_t>(vocab->size());
  } else {
    return invalid_model(cat(where, ": model.vocab is neither an object nor a list"));
  }
  return v;
}

Json added_token_json(int64_t id, const TokenSpec& t) {
  return Json{{"id", id},           {"content", t.content}, {"single_word", t.single_word}, {"lstrip", t.lstrip},
              {"rstrip", t.rstrip}, {"normalized", t.normalized}, {"special", t.special}};
}

// What PreTrainedTokenizerFast.__init__ does with the resolved tokens: the added_tokens_decoder
// entries and the special tokens are (re-)added to the backend (tokenizers' AddedVocabulary
// add_tokens: an existing content keeps its id and takes the new flags; a new one takes its id in
// the model vocabulary, else the next free id). A plain-string special token already present is
// left as it is. A token in no vocabulary would get an id past the model's embeddings: it is
// left out with a warning.
Status merge_added_tokens(Json* tok, const SpecialTokens& specials, const AddedTokensDecoder& dec, const std::string& where,
                          std::vector<std::string>* warnings) {
  ENCORE_ASSIGN_OR_RETURN(ModelVocab vocab, model_vocab(*tok, where));
  Json& added = (*tok)["added_tokens"];
  if (added.is_null()) added = Json::array();
  if (!added.is_array()) return invalid_model(cat(where, ": added_tokens is not a list"));
  auto find_added = [&](const std::string& content) -> Json* {
    for (auto& a : added) {
      if (a.is_object() && a.contains("content") && a["content"] == content) return &a;
    }
    return nullptr;
  };
  auto add = [&](int64_t id, const TokenSpec& t) -> Status {
    Json* existing = find_added(t.content);
    if (existing) {
      if (!(*existing)["id"].is_number_integer()) return invalid_model(cat(where, ": added token \"", t.content, "\" has no integer id"));
      if (id >= 0 && (*existing)["id"].get<int64_t>() != id)
        return invalid_model(cat("tokenizer_config.json: added_tokens_decoder gives \"", t.content, "\" id ", id, " but ", where,
                                 " has id ", (*existing)["id"].get<int64_t>()));
      if (t.explicit_flags) *existing = added_token_json((*existing)["id"].get<int64_t>(), t);
      return Status::Ok();
    }
    auto v = vocab.ids.find(t.content);
    if (v != vocab.ids.end()) {
      if (id >= 0 && v->second != id)
        return invalid_model(cat("tokenizer_config.json: added_tokens_decoder gives \"", t.content, "\" id ", id,
                                 " but the vocabulary has it as id ", v->second));
      added.push_back(added_token_json(v->second, t));
      return Status::Ok();
    }
    if (id >= 0) {
      if (id < vocab.size)
        return invalid_model(cat("tokenizer_config.json: added_tokens_decoder gives \"", t.content, "\" id ", id,
                                 ", which the vocabulary uses for another token"));
      added.push_back(added_token_json(id, t));
      return Status::Ok();
    }
    warnings->push_back(cat("special token \"", t.content, "\" is not in the vocabulary; transformers would give it a new id past ",
                            "the model's vocabulary; encore leaves it out"));
    return Status::Ok();
  };
  for (const auto& [id, t] : dec.entries) ENCORE_RETURN_IF_ERROR(add(id, t));
  for (const auto& [key, t] : specials.by_key) ENCORE_RETURN_IF_ERROR(add(-1, t));
  for (const auto& t : specials.additional) ENCORE_RETURN_IF_ERROR(add(-1, t));
  return Status::Ok();
}

// ---- Tokenizer class ------------------------------------------------------------------------------

// tokenizer_config.json "tokenizer_class", else config.json "model_type" through AutoTokenizer's
// TOKENIZER_MAPPING (the fast class). A slow class name means its fast counterpart: AutoTokenizer
// appends "Fast" when that class exists (use_fast=True, the default).
Result<TokenizerClass> tokenizer_class(const std::string& dir, const Json& cfg) {
  TokenizerClass c;
  if (const Json* t = find(cfg, "tokenizer_class")) {
    if (!t->is_string()) return invalid_model("tokenizer_config.json: 'tokenizer_class' is not a string");
    c.name = t->get<std::string>();
    std::string base = c.name;
    if (base.size() > 4 && base.compare(base.size() - 4, 4, "Fast") == 0) base.resize(base.size() - 4);
    static const std::map<std::string, Kind> kClasses = {
        {"BertTokenizer", Kind::kBert},        {"DistilBertTokenizer", Kind::kBert}, {"ElectraTokenizer", Kind::kBert},
        {"RobertaTokenizer", Kind::kRoberta},  {"XLMRobertaTokenizer", Kind::kXlmRoberta},
        {"CamembertTokenizer", Kind::kCamembert}, {"PreTrainedTokenizer", Kind::kGeneric}};
    auto it = kClasses.find(base);
    if (it == kClasses.end())
      return unsupported(cat("tokenizer_config.json: tokenizer_class \"", c.name,
                             "\" is not supported (encore loads Bert, DistilBert, Electra, Roberta, XLMRoberta, Camembert "
                             "and PreTrainedTokenizerFast tokenizers)"));
    c.kind = it->second;
    return c;
  }
  ENCORE_ASSIGN_OR_RETURN(Json config, read_json_object(dir, "config.json"));
  const Json* mt = find(config, "model_type");
  if (!mt || !mt->is_string()) {
    c.name = "PreTrainedTokenizerFast";
    return c;
  }
  static const std::map<std::string, std::pair<const char*, Kind>> kModelTypes = {
      {"bert", {"BertTokenizerFast", Kind::kBert}},
      {"distilbert", {"DistilBertTokenizerFast", Kind::kBert}},
      {"electra", {"ElectraTokenizerFast", Kind::kBert}},
      {"roberta", {"RobertaTokenizerFast", Kind::kRoberta}},
      {"xlm-roberta", {"XLMRobertaTokenizerFast", Kind::kXlmRoberta}},
      {"camembert", {"CamembertTokenizerFast", Kind::kCamembert}},
      {"modernbert", {"PreTrainedTokenizerFast", Kind::kGeneric}}};
  auto it = kModelTypes.find(mt->get<std::string>());
  if (it == kModelTypes.end())
    return unsupported(cat("config.json: model_type \"", mt->get<std::string>(),
                           "\" has no tokenizer_class in tokenizer_config.json and encore does not know its tokenizer"));
  c.name = it->second.first;
  c.kind = it->second.second;
  return c;
}

// ---- What the fast classes change at load ------------------------------------------------------

// BertTokenizerFast.__init__ (and DistilBert / Electra, copied from it): when the normalizer's
// state has "lowercase" / "strip_accents" / "handle_chinese_chars" differing from the init
// arguments do_lower_case (default True), strip_accents (default None) and
// tokenize_chinese_chars (default True), the normalizer is rebuilt from its state with all three
// replaced. A key the normalizer lacks (not a BertNormalizer) compares equal: no change.
Status apply_bert(Json* tok, const TokenizerClass& cls, const Json& cfg, std::vector<std::string>* warnings) {
  const std::string where = "tokenizer_config.json";
  ENCORE_ASSIGN_OR_RETURN(bool lower, get_bool(cfg, "do_lower_case", true, where));
  ENCORE_ASSIGN_OR_RETURN(bool chinese, get_bool(cfg, "tokenize_chinese_chars", true, where));
  Json strip;  // null = None
  if (const Json* sa = find(cfg, "strip_accents")) {
    if (!sa->is_boolean()) return invalid_model("tokenizer_config.json: 'strip_accents' is not true, false or null");
    strip = *sa;
  }
  Json& norm = (*tok)["normalizer"];
  if (!norm.is_object())
    return unsupported(cat("tokenizer.json: ", cls.name, " needs a normalizer (transformers fails to load it without one)"));
  auto differs = [&](const char* key, const Json& want) { return norm.contains(key) && norm[key] != want; };
  if (!(differs("lowercase", lower) || differs("strip_accents", strip) || differs("handle_chinese_chars", chinese))) return Status::Ok();
  if (norm.contains("lowercase") && norm["lowercase"] != lower) {
    warnings->push_back(cat(cls.name, " with do_lower_case ", lower ? "true" : "false",
                            cfg.contains("do_lower_case") ? " (tokenizer_config.json)" : " (its default: no tokenizer_config.json value)",
                            " rebuilds tokenizer.json's normalizer with lowercase ", lower ? "true" : "false", ", as transformers does"));
  }
  norm["lowercase"] = lower;
  norm["strip_accents"] = strip;
  norm["handle_chinese_chars"] = chinese;
  return Status::Ok();
}

// RobertaTokenizerFast.__init__: add_prefix_space (default False) replaces the pre-tokenizer's
// when its state has one that differs; the post-processor's add_prefix_space and trim_offsets
// (default True) likewise.
Status apply_roberta(Json* tok, const Json& cfg) {
  ENCORE_ASSIGN_OR_RETURN(bool aps, get_bool(cfg, "add_prefix_space", false, "tokenizer_config.json"));
  ENCORE_ASSIGN_OR_RETURN(bool trim, get_bool(cfg, "trim_offsets", true, "tokenizer_config.json"));
  Json& pre = (*tok)["pre_tokenizer"];
  if (pre.is_object() && pre.contains("add_prefix_space")) pre["add_prefix_space"] = aps;
  Json& post = (*tok)["post_processor"];
  if (post.is_object()) {
    if (post.contains("add_prefix_space")) post["add_prefix_space"] = aps;
    if (post.contains("trim_offsets")) post["trim_offsets"] = trim;
  }
  if (pre.is_null()) tok->erase("pre_tokenizer");
  if (post.is_null()) (*tok)["post_processor"] = nullptr;
  return Status::Ok();
}

// ---- vocab.json + merges.txt (RobertaConverter) ---------------------------------------------------

// GPT2Tokenizer / RobertaTokenizer read merges as `f.read().split("\n")[1:-1]` (the first line is
// the "#version" header, the text after the last newline is dropped), each line `.split()` into a
// pair.
Result<Json> read_merges(const std::string& text) {
  Json merges = Json::array();
  std::vector<std::string> lines;
  size_t start = 0;
  for (;;) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;  // the part after the last newline is dropped
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> parts;
    std::istringstream ss(lines[i]);
    for (std::string p; ss >> p;) parts.push_back(p);
    if (parts.size() != 2) return invalid_model(cat("merges.txt: line ", i + 1, " is not two tokens separated by a space"));
    merges.push_back(Json::array({parts[0], parts[1]}));
  }
  return merges;
}

Result<Json> roberta_from_vocab_merges(const std::string& dir, const Json& cfg) {
  ENCORE_ASSIGN_OR_RETURN(Json vocab, read_json_object(dir, "vocab.json"));
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > INT32_MAX)
      return invalid_model(cat("vocab.json: '", it.key(), "' has no token id"));
  }
  ENCORE_ASSIGN_OR_RETURN(std::string merges_text, read_bytes(dir, "merges.txt"));
  ENCORE_ASSIGN_OR_RETURN(Json merges, read_merges(merges_text));
  ENCORE_ASSIGN_OR_RETURN(bool aps, get_bool(cfg, "add_prefix_space", false, "tokenizer_config.json"));
  // RobertaConverter: BPE(dropout None, continuing_subword_prefix "", end_of_word_suffix "",
  // fuse_unk False, no unk_token), ByteLevel(add_prefix_space), RobertaProcessing(sep, cls,
  // add_prefix_space, trim_offsets=True); RobertaTokenizerFast then applies trim_offsets
  // (apply_roberta). The sep / cls ids are filled in by fill_roberta_processing.
  Json tok;
  tok["version"] = "1.0";
  tok["truncation"] = nullptr;
  tok["padding"] = nullptr;
  tok["added_tokens"] = Json::array();
  tok["normalizer"] = nullptr;
  tok["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", aps}, {"trim_offsets", true}, {"use_regex", true}};
  tok["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", Json::array({"", 0})}, {"cls", Json::array({"", 0})},
                           {"trim_offsets", true},        {"add_prefix_space", aps}};
  tok["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  tok["model"] = {{"type", "BPE"},          {"dropout", nullptr},          {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                  {"end_of_word_suffix", ""}, {"fuse_unk", false},         {"byte_fallback", false}, {"ignore_merges", false},
                  {"vocab", std::move(vocab)}, {"merges", std::move(merges)}};
  return tok;
}

std::string base64(const std::string& in) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// XLMRobertaConverter / CamembertConverter (SpmConverter.converted): Unigram over the fairseq
// vocabulary layout, normalizer Sequence[Precompiled (when the model has a charsmap),
// Strip(right), Replace(" {2,}" -> "▁")], Metaspace("▁", prepend_scheme "always": these slow
// classes have neither add_prefix_space nor legacy, see _get_prepend_scheme), TemplateProcessing
// "<s> $A </s>" / "<s> $A </s> </s> $B </s>", and the model's CONTROL (special) and USER_DEFINED
// pieces as added tokens (normalized false).
Result<Json> xlmr_from_spm(const SpmModel& m, const TokenizerClass& cls, const std::string& name, std::vector<std::string>* warnings) {
  if (m.model_type != 1)
    return unsupported(cat(name, ": a SentencePiece ", m.model_type == 2 ? "BPE" : cat("type ", m.model_type), " model is not supported (",
                           cls.name, " converts only Unigram models here)"));
  if (m.byte_fallback)
    warnings->push_back(cat(name, ": the model uses byte fallback, which ", cls.name,
                            "Fast does not (transformers warns the same): characters outside the pieces become <unk>"));
  Json vocab = Json::array();
  auto add = [&](const std::string& piece, double score) { vocab.push_back(Json::array({piece, score})); };
  size_t first_piece = 3;
  if (cls.kind == Kind::kCamembert) {
    add("<s>NOTUSED", 0.0), add("<pad>", 0.0), add("</s>NOTUSED", 0.0), add("<unk>", 0.0), add("<unk>NOTUSED", -100.0);
    first_piece = 1;
  } else {
    add("<s>", 0.0), add("<pad>", 0.0), add("</s>", 0.0), add("<unk>", 0.0);
  }
  for (size_t i = first_piece; i < m.pieces.size(); ++i) add(m.pieces[i].piece, m.pieces[i].score);
  add("<mask>", 0.0);
  std::map<std::string, int64_t> ids;  // last piece of a text wins, as in tokenizers' Unigram
  for (size_t i = 0; i < vocab.size(); ++i) ids[vocab[i][0].get<std::string>()] = static_cast<int64_t>(i);
  for (const char* t : {"<s>", "</s>"}) {
    if (!ids.count(t)) return invalid_model(cat(name, ": the model has no \"", t, "\" piece, which ", cls.name, " needs"));
  }
  Json added = Json::array();
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const SpmPiece& p = m.pieces[i];
    if (p.type != 3 && p.type != 4) continue;
    TokenSpec t = plain(p.piece);
    t.special = p.type == 3;
    added.push_back(added_token_json(ids.at(p.piece) , t));
  }
  Json normalizers = Json::array();
  if (!m.precompiled_charsmap.empty()) normalizers.push_back({{"type", "Precompiled"}, {"precompiled_charsmap", base64(m.precompiled_charsmap)}});
  normalizers.push_back({{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}});
  normalizers.push_back({{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", "\xE2\x96\x81"}});
  auto special = [](const char* id, int type_id) { return Json{{"SpecialToken", {{"id", id}, {"type_id", type_id}}}}; };
  auto sequence = [](const char* id) { return Json{{"Sequence", {{"id", id}, {"type_id", 0}}}}; };
  Json tok;
  tok["version"] = "1.0";
  tok["truncation"] = nullptr;
  tok["padding"] = nullptr;
  tok["added_tokens"] = std::move(added);
  tok["normalizer"] = {{"type", "Sequence"}, {"normalizers", std::move(normalizers)}};
  tok["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "always"}, {"split", true}};
  tok["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", Json::array({special("<s>", 0), sequence("A"), special("</s>", 0)})},
      {"pair", Json::array({special("<s>", 0), sequence("A"), special("</s>", 0), special("</s>", 0), sequence("B"), special("</s>", 0)})},
      {"special_tokens",
       {{"<s>", {{"id", "<s>"}, {"ids", Json::array({ids.at("<s>")})}, {"tokens", Json::array({"<s>"})}}},
        {"</s>", {{"id", "</s>"}, {"ids", Json::array({ids.at("</s>")})}, {"tokens", Json::array({"</s>"})}}}}}};
  tok["decoder"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "always"}, {"split", true}};
  tok["model"] = {{"type", "Unigram"}, {"unk_id", 3}, {"vocab", std::move(vocab)}, {"byte_fallback", false}};
  return tok;
}

// The id a token text has after loading: an added token's, else the model vocabulary's.
Result<int64_t> token_id(const Json& tok, const std::string& content, const std::string& where) {
  if (const Json* added = find(tok, "added_tokens"); added && added->is_array()) {
    for (const auto& a : *added) {
      const Json* c = find(a, "content");
      const Json* id = find(a, "id");
      if (c && id && id->is_number_integer() && *c == content) return id->get<int64_t>();
    }
  }
  ENCORE_ASSIGN_OR_RETURN(ModelVocab v, model_vocab(tok, where));
  auto it = v.ids.find(content);
  if (it == v.ids.end()) return invalid_model(cat(where, ": \"", content, "\" is not in the vocabulary"));
  return it->second;
}

Result<int64_t> read_model_max_length(const Json& cfg) {
  const Json* v = find(cfg, "model_max_length");
  if (!v) return int64_t{0};
  if (!v->is_number()) return invalid_model("tokenizer_config.json: 'model_max_length' is not a number");
  const double d = v->get<double>();
  if (!(d >= 1.0)) return invalid_model(cat("tokenizer_config.json: 'model_max_length' ", v->dump(), " is not a positive length"));
  if (d >= 1e6) return int64_t{0};  // VERY_LARGE_INTEGER (1e30) and the like: no limit recorded
  if (d != std::floor(d)) return invalid_model(cat("tokenizer_config.json: 'model_max_length' ", v->dump(), " is not an integer"));
  return static_cast<int64_t>(d);
}

Result<Json> load(const std::string& dir, const Json& cfg, TokenizerFiles* out) {
  const bool has_json = is_file(dir + "/tokenizer.json");
  const bool has_vocab_json = is_file(dir + "/vocab.json"), has_merges = is_file(dir + "/merges.txt");
  std::string spm_name;
  for (const char* n : {"sentencepiece.bpe.model", "spiece.model"}) {
    if (spm_name.empty() && is_file(dir + "/" + n)) spm_name = n;
  }
  if (!has_json && !has_vocab_json && !has_merges && spm_name.empty()) {
    if (is_file(dir + "/vocab.txt")) out->source = "vocab.txt";
    return Json();
  }
  ENCORE_ASSIGN_OR_RETURN(TokenizerClass cls, tokenizer_class(dir, cfg));
  ENCORE_ASSIGN_OR_RETURN(Json stmap, read_json_object(dir, "special_tokens_map.json"));
  if (!find(cfg, "added_tokens_decoder")) {
    ENCORE_ASSIGN_OR_RETURN(Json legacy_added, read_json_object(dir, "added_tokens.json"));
    if (legacy_added.is_object() && !legacy_added.empty())
      return unsupported("added_tokens.json: legacy added tokens are not supported (save the tokenizer with a recent transformers)");
  }
  Json tok;
  if (has_json) {
    out->source = "tokenizer.json";
    ENCORE_ASSIGN_OR_RETURN(tok, read_json_object(dir, "tokenizer.json"));
  } else if (has_vocab_json || has_merges) {
    out->source = "vocab.json + merges.txt";
    if (!has_vocab_json || !has_merges) return invalid_model(cat(has_merges ? "merges.txt" : "vocab.json", " without ", has_merges ? "vocab.json" : "merges.txt"));
    if (cls.kind != Kind::kRoberta)
      return unsupported(cat("vocab.json + merges.txt: tokenizer class \"", cls.name, "\" is not supported (only RobertaTokenizer)"));
    ENCORE_ASSIGN_OR_RETURN(tok, roberta_from_vocab_merges(dir, cfg));
  } else {
    out->source = spm_name;
    if (cls.kind != Kind::kXlmRoberta && cls.kind != Kind::kCamembert)
      return unsupported(cat(spm_name, ": tokenizer class \"", cls.name, "\" is not supported (only XLMRobertaTokenizer and CamembertTokenizer)"));
    if (find(cfg, "add_prefix_space"))
      return unsupported(cat("tokenizer_config.json: add_prefix_space with ", cls.name, " and a SentencePiece model is not supported"));
    ENCORE_ASSIGN_OR_RETURN(std::string bytes, read_bytes(dir, spm_name));
    ENCORE_ASSIGN_OR_RETURN(SpmModel m, parse_spm(bytes, spm_name));
    ENCORE_ASSIGN_OR_RETURN(tok, xlmr_from_spm(m, cls, spm_name, &out->warnings));
  }
  const std::string where = has_json ? "tokenizer.json" : cat(out->source, " (converted)");
  ENCORE_ASSIGN_OR_RETURN(AddedTokensDecoder dec, read_added_tokens_decoder(cfg));
  ENCORE_ASSIGN_OR_RETURN(SpecialTokens specials, resolve_special_tokens(cls.kind, cfg, stmap, dec));
  if (cls.kind == Kind::kBert) ENCORE_RETURN_IF_ERROR(apply_bert(&tok, cls, cfg, &out->warnings));
  if (cls.kind == Kind::kRoberta) ENCORE_RETURN_IF_ERROR(apply_roberta(&tok, cfg));
  ENCORE_RETURN_IF_ERROR(merge_added_tokens(&tok, specials, dec, where, &out->warnings));
  if (!has_json && has_vocab_json) {
    // RobertaProcessing(sep=(sep_token, sep_token_id), cls=(cls_token, cls_token_id)).
    for (const char* key : {"sep_token", "cls_token"}) {
      auto it = specials.by_key.find(key);
      if (it == specials.by_key.end()) return invalid_model(cat("tokenizer_config.json: ", key, " is null; RobertaProcessing needs it"));
      ENCORE_ASSIGN_OR_RETURN(int64_t id, token_id(tok, it->second.content, where));
      tok["post_processor"][key[0] == 's' ? "sep" : "cls"] = Json::array({it->second.content, id});
    }
  }
  return tok;
}

}  // namespace

Result<TokenizerFiles> read_tokenizer_files(const std::string& dir) {
  TokenizerFiles out;
  ENCORE_ASSIGN_OR_RETURN(Json cfg, read_json_object(dir, "tokenizer_config.json"));
  ENCORE_ASSIGN_OR_RETURN(out.model_max_length, read_model_max_length(cfg));
  ENCORE_ASSIGN_OR_RETURN(Json tok, load(dir, cfg, &out));
  if (tok.is_null()) return out;
  const std::string where = out.source == "tokenizer.json" ? out.source : cat(out.source, " (converted)");
  try {
    out.json = tok.dump();
  } catch (const nlohmann::json::exception&) {
    return invalid_model(cat(where, ": a token or string is not valid UTF-8"));
  }
  auto t = TextTokenizer::create(out.json);
  if (!t.ok()) {
    const std::string& msg = t.status().message();
    const std::string prefix = "tokenizer.json: ";
    const std::string body = msg.compare(0, prefix.size(), prefix) == 0 ? msg.substr(prefix.size()) : msg;
    return Status(t.status().code(), cat(where, ": ", body));
  }
  return out;
}

}  // namespace encore::convert
