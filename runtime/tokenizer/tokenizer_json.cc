// TextTokenizer: reads tokenizer.json into the pipeline's components and runs them
// (tokenizers/src/tokenizer/mod.rs encode_single_sequence + post_process; truncation from
// utils/truncation.rs). See encore/text_tokenizer.h for the contract.
#include <algorithm>
#include <new>
#include <unordered_map>

#include "core/str.h"
#include "encore/model.h"
#include "encore/text_tokenizer.h"
#include "tokenizer/pipeline.h"

namespace encore {
namespace tok {

std::unique_ptr<Model> make_wordpiece(const Json& j, const std::string& path);
std::unique_ptr<Model> make_bpe(const Json& j, const std::string& path);
std::unique_ptr<Model> make_unigram(const Json& j, const std::string& path);

const Json* optional(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

const Json& field(const Json& j, const char* key, const std::string& path) {
  if (!j.is_object()) fail_model(path + ": expected an object");
  const Json* v = optional(j, key);
  if (!v) fail_model(cat(path, ": missing \"", key, "\""));
  return *v;
}

bool get_bool(const Json& j, const char* key, bool fallback, const std::string& path) {
  const Json* v = optional(j, key);
  if (!v) return fallback;
  if (!v->is_boolean()) fail_model(cat(path, ".", key, ": expected a boolean"));
  return v->get<bool>();
}

std::string get_string(const Json& j, const char* key, const std::string& path) {
  const Json& v = field(j, key, path);
  if (!v.is_string()) fail_model(cat(path, ".", key, ": expected a string"));
  return v.get<std::string>();
}

int64_t as_int(const Json& j, const std::string& path) {
  if (j.is_number_unsigned()) {
    const auto u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) fail_model(path + ": integer out of range");
    return static_cast<int64_t>(u);
  }
  if (j.is_number_integer()) return j.get<int64_t>();
  fail_model(path + ": expected an integer");
}

std::string type_of(const Json& j, const std::string& path) {
  // Sequences nest; a hostile file must not exhaust the stack.
  if (path.size() > 1024) fail_model(path.substr(0, 64) + "...: components nested too deeply");
  if (!j.is_object()) fail_model(path + ": expected an object");
  return get_string(j, "type", path);
}

std::unique_ptr<Model> make_model(const Json& j, const std::string& path) {
  if (!j.is_object()) fail_model(path + ": expected an object");
  std::string type;
  if (optional(j, "type")) {
    type = type_of(j, path);
  } else if (optional(j, "merges")) {  // files written before models were tagged
    type = "BPE";
  } else if (const Json* v = optional(j, "vocab"); v && v->is_array()) {
    type = "Unigram";
  } else if (optional(j, "continuing_subword_prefix") || optional(j, "max_input_chars_per_word")) {
    type = "WordPiece";
  } else {
    fail_model(path + ": missing \"type\"");
  }
  if (type == "WordPiece") return make_wordpiece(j, path);
  if (type == "BPE") return make_bpe(j, path);
  if (type == "Unigram") return make_unigram(j, path);
  fail_unsupported(cat(path, " type \"", type, "\" is not supported"));
}

}  // namespace tok

using tok::Json;

namespace {
struct TruncationConfig {
  bool on = false;
  size_t max_length = 0;
  TruncationStrategy strategy = TruncationStrategy::kLongestFirst;
  bool from_left = false;
};
}  // namespace

struct TextTokenizer::Impl {
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::Model> model;
  std::unique_ptr<tok::PostProcessor> post_processor;
  tok::AddedVocabulary added;
  TruncationConfig truncation;
  TextPadding padding;
  bool post_needs_values = false;

  Status encode_sequence(std::string_view text, int32_t type_id, bool need_values, bool skip_special,
                         tok::Encoding* out) const;
  Result<TextEncoding> encode(std::string_view a, const std::string_view* b, const TextEncodeOptions& o) const;
  Result<TextEncoding> encode_unguarded(std::string_view a, const std::string_view* b, const TextEncodeOptions& o) const;
};

namespace {

void read_truncation(const Json& j, TruncationConfig* t) {
  const std::string path = "truncation";
  t->on = true;
  const int64_t max = tok::as_int(tok::field(j, "max_length", path), path + ".max_length");
  if (max < 0) tok::fail_model(path + ".max_length: must not be negative");
  t->max_length = static_cast<size_t>(max);
  if (const Json* s = tok::optional(j, "strategy")) {
    const std::string v = s->is_string() ? s->get<std::string>() : "";
    if (v == "LongestFirst") {
      t->strategy = TruncationStrategy::kLongestFirst;
    } else if (v == "OnlyFirst") {
      t->strategy = TruncationStrategy::kOnlyFirst;
    } else if (v == "OnlySecond") {
      t->strategy = TruncationStrategy::kOnlySecond;
    } else {
      tok::fail_model(path + ".strategy: expected LongestFirst, OnlyFirst or OnlySecond");
    }
  }
  if (const Json* d = tok::optional(j, "direction")) {
    const std::string v = d->is_string() ? d->get<std::string>() : "";
    if (v != "Left" && v != "Right") tok::fail_model(path + ".direction: expected Left or Right");
    t->from_left = v == "Left";
  }
  // "stride" only shapes the overflowing encodings, which encode() does not return.
}

void read_padding(const Json& j, TextPadding* p) {
  const std::string path = "padding";
  if (!j.is_object()) tok::fail_model(path + ": expected an object or null");
  p->present = true;
  if (const Json* v = tok::optional(j, "pad_id")) p->pad_id = static_cast<int32_t>(tok::as_int(*v, path + ".pad_id"));
  if (const Json* v = tok::optional(j, "pad_type_id")) {
    p->pad_type_id = static_cast<int32_t>(tok::as_int(*v, path + ".pad_type_id"));
  }
  if (tok::optional(j, "pad_token")) p->pad_token = tok::get_string(j, "pad_token", path);
  if (const Json* v = tok::optional(j, "pad_to_multiple_of")) {
    const int64_t m = tok::as_int(*v, path + ".pad_to_multiple_of");
    if (m < 0) tok::fail_model(path + ".pad_to_multiple_of: must not be negative");
    p->pad_to_multiple_of = static_cast<size_t>(m);
  }
}

std::vector<tok::AddedToken> read_added_tokens(const Json& j) {
  if (!j.is_array()) tok::fail_model("added_tokens: expected an array");
  std::vector<tok::AddedToken> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string path = cat("added_tokens[", i, "]");
    const Json& t = j[i];
    tok::AddedToken a;
    a.content = tok::get_string(t, "content", path);
    if (const Json* id = tok::optional(t, "id")) a.id = static_cast<int32_t>(std::clamp<int64_t>(tok::as_int(*id, path + ".id"), -1, 0x7FFFFFFE));
    a.single_word = tok::get_bool(t, "single_word", false, path);
    a.lstrip = tok::get_bool(t, "lstrip", false, path);
    a.rstrip = tok::get_bool(t, "rstrip", false, path);
    a.special = tok::get_bool(t, "special", false, path);
    a.normalized = tok::get_bool(t, "normalized", !a.special, path);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<TextTokenizer>> TextTokenizer::create(std::string_view json) {
  auto impl = std::make_unique<Impl>();
  try {
    const Json j = Json::parse(json.begin(), json.end());
    if (!j.is_object()) return invalid_model("tokenizer.json: expected a JSON object");
    if (const Json* t = tok::optional(j, "truncation")) read_truncation(*t, &impl->truncation);
    if (const Json* p = tok::optional(j, "padding")) read_padding(*p, &impl->padding);
    if (const Json* n = tok::optional(j, "normalizer")) impl->normalizer = tok::make_normalizer(*n, "normalizer");
    if (const Json* p = tok::optional(j, "pre_tokenizer")) impl->pre_tokenizer = tok::make_pre_tokenizer(*p, "pre_tokenizer");
    impl->model = tok::make_model(tok::field(j, "model", "tokenizer"), "model");
    if (const Json* p = tok::optional(j, "post_processor")) {
      impl->post_processor = tok::make_post_processor(*p, "post_processor");
      impl->post_needs_values = impl->post_processor->needs_values();
    }
    std::vector<tok::AddedToken> added;
    if (const Json* a = tok::optional(j, "added_tokens")) added = read_added_tokens(*a);
    impl->added.build(std::move(added), *impl->model, impl->normalizer.get());
  } catch (const tok::BuildError& e) {
    return e.status;
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    return invalid_model("tokenizer.json: " + what);
  } catch (const std::bad_alloc&) {
    return resource_exhausted("tokenizer.json: out of memory");
  } catch (const std::exception& e) {
    return invalid_model(std::string("tokenizer.json: ") + e.what());
  }
  return std::unique_ptr<TextTokenizer>(new TextTokenizer(std::move(impl)));
}

Result<std::unique_ptr<TextTokenizer>> TextTokenizer::from_wordpiece(const TokenizerInfo& info) {
  if (info.vocab.empty()) return invalid_model("the model has no tokenizer vocabulary");
  try {
    auto impl = std::make_unique<Impl>();
    // The first occurrence wins for a repeated line; empty strings (padding of a vocab.txt
    // shorter than vocab_size) never match and are left out.
    std::unordered_map<std::string_view, int32_t> ids;
    std::vector<std::pair<std::string, int64_t>> entries;
    entries.reserve(info.vocab.size());
    for (size_t i = 0; i < info.vocab.size(); ++i) {
      const std::string& token = info.vocab[i];
      if (!token.empty() && ids.emplace(token, static_cast<int32_t>(i)).second) {
        entries.emplace_back(token, static_cast<int64_t>(i));
      }
    }
    auto id_of = [&](const char* token) {
      auto it = ids.find(token);
      return it == ids.end() ? -1 : it->second;
    };
    for (const char* required : {"[CLS]", "[SEP]", "[UNK]"}) {
      if (id_of(required) < 0) return invalid_model(cat("the tokenizer vocabulary has no ", required, " token"));
    }
    const bool strip = info.strip_accents_set ? info.strip_accents : info.do_lower_case;
    impl->normalizer = tok::make_bert_normalizer(true, true, strip, info.do_lower_case);
    impl->pre_tokenizer = tok::make_bert_pre_tokenizer();
    impl->model = tok::make_wordpiece(std::move(entries), "[UNK]", "##", 100);
    // BertProcessing adds what BertConverter's template does: [CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1.
    impl->post_processor = tok::make_bert_processing({"[SEP]", id_of("[SEP]")}, {"[CLS]", id_of("[CLS]")});
    impl->post_needs_values = impl->post_processor->needs_values();
    std::vector<tok::AddedToken> added;
    for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
      if (id_of(token) < 0) continue;
      tok::AddedToken a;
      a.content = token;
      a.id = id_of(token);
      a.special = true;
      a.normalized = false;
      added.push_back(std::move(a));
    }
    impl->added.build(std::move(added), *impl->model, impl->normalizer.get());
    return std::unique_ptr<TextTokenizer>(new TextTokenizer(std::move(impl)));
  } catch (const tok::BuildError& e) {
    return e.status;
  } catch (const std::bad_alloc&) {
    return resource_exhausted("tokenizer: out of memory");
  }
}

TextTokenizer::TextTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TextTokenizer::~TextTokenizer() = default;

Status TextTokenizer::Impl::encode_sequence(std::string_view text, int32_t type_id, bool need_values,
                                            bool skip_special, tok::Encoding* out) const {
  std::vector<tok::Split> splits;
  added.extract_and_normalize(text, normalizer.get(), skip_special, &splits);
  if (pre_tokenizer) pre_tokenizer->pre_tokenize(&splits);
  size_t total = 0;
  for (auto& s : splits) {
    if (!s.tokenized) {
      ENCORE_RETURN_IF_ERROR(model->tokenize(s.n.text, &s.tokens));
      s.tokenized = true;
    }
    total += s.tokens.size();
  }
  out->ids.reserve(total);
  out->offsets.reserve(total);
  out->words.reserve(total);
  // A token's word is the index of the split it came from (PreTokenizedString::into_encoding).
  int32_t word = 0;
  for (const auto& s : splits) {
    for (const auto& t : s.tokens) {
      out->ids.push_back(t.id);
      out->words.push_back(word);
      // into_encoding: normalized range -> original; an empty range maps to the piece's start
      // plus its begin, and a range past the piece (byte fallback with a prefix) stays raw.
      tok::Offsets o;
      if (t.begin == t.end) {
        o = {s.n.original.first + t.begin, s.n.original.first + t.begin};
      } else if (t.end <= s.n.align.size()) {
        o = {s.n.align[t.begin].first, s.n.align[t.end - 1].second};
      } else {
        o = {t.begin, t.end};
      }
      out->offsets.push_back(o);
      if (need_values) {
        if (t.text_value) {
          out->values.emplace_back(s.n.text, t.begin, t.end - t.begin);
        } else {
          const std::string* v = model->id_to_token(t.id);
          out->values.push_back(v ? *v : std::string());
        }
      }
    }
    ++word;
  }
  out->type_ids.assign(out->ids.size(), type_id);
  out->special.assign(out->ids.size(), 0);
  out->sequence.assign(out->ids.size(), static_cast<uint8_t>(type_id));
  return Status::Ok();
}

namespace {

// utils/truncation.rs truncate_encodings.
Status truncate_encodings(std::vector<tok::Encoding>* encs, size_t max_length, TruncationStrategy strategy,
                          bool from_left) {
  auto& a = (*encs)[0];
  tok::Encoding* b = encs->size() > 1 ? &(*encs)[1] : nullptr;
  if (max_length == 0) {
    a.truncate(0, from_left);
    if (b) b->truncate(0, from_left);
    return Status::Ok();
  }
  const size_t total = a.size() + (b ? b->size() : 0);
  if (total <= max_length) return Status::Ok();
  const size_t to_remove = total - max_length;
  if (strategy == TruncationStrategy::kLongestFirst) {
    if (!b) {
      a.truncate(total - to_remove, from_left);
      return Status::Ok();
    }
    size_t n1 = a.size(), n2 = b->size();
    const bool swap = n1 > n2;
    if (swap) std::swap(n1, n2);
    if (n1 > max_length) {
      n2 = n1;
    } else {
      n2 = std::max(n1, max_length - n1);
    }
    if (n1 + n2 > max_length) {
      n1 = max_length / 2;
      n2 = n1 + max_length % 2;
    }
    if (swap) std::swap(n1, n2);
    a.truncate(n1, from_left);
    b->truncate(n2, from_left);
    return Status::Ok();
  }
  tok::Encoding* target = &a;
  if (strategy == TruncationStrategy::kOnlySecond) {
    if (!b) return invalid_argument("truncation only_second: there is no second sequence");
    target = b;
  }
  if (target->size() <= to_remove) {
    return invalid_argument(cat("truncation: the sequence to truncate has ", target->size(),
                                " tokens, too few to remove ", to_remove));
  }
  target->truncate(target->size() - to_remove, from_left);
  return Status::Ok();
}

}  // namespace

// No exception leaves encode(): allocation failure becomes a Status.
Result<TextEncoding> TextTokenizer::Impl::encode(std::string_view a, const std::string_view* b,
                                                 const TextEncodeOptions& o) const {
  try {
    return encode_unguarded(a, b, o);
  } catch (const std::bad_alloc&) {
    return resource_exhausted("tokenizer: out of memory");
  } catch (const std::exception& e) {
    return internal_error(std::string("tokenizer: ") + e.what());
  }
}

Result<TextEncoding> TextTokenizer::Impl::encode_unguarded(std::string_view a, const std::string_view* b,
                                                           const TextEncodeOptions& o) const {
  if (!tok::valid_utf8(a) || (b && !tok::valid_utf8(*b))) return invalid_argument("text is not valid UTF-8");
  if (a.size() > 0x7FFFFFFF || (b && b->size() > 0x7FFFFFFF)) return invalid_argument("text longer than 2 GiB");
  const bool need_values = o.want_tokens || post_needs_values;
  std::vector<tok::Encoding> encs(b ? 2 : 1);
  ENCORE_RETURN_IF_ERROR(encode_sequence(a, 0, need_values, o.special_tokens_as_text, &encs[0]));
  if (b) ENCORE_RETURN_IF_ERROR(encode_sequence(*b, 1, need_values, o.special_tokens_as_text, &encs[1]));
  // post_process: truncation (leaving room for the special tokens), then the processor.
  const bool pair = b != nullptr;
  bool truncate = truncation.on;
  size_t max_length = truncation.max_length;
  TruncationStrategy strategy = truncation.strategy;
  if (o.max_length > 0) {
    truncate = true;
    max_length = o.max_length;
    strategy = o.strategy;
  }
  TextEncoding result;
  if (truncate) {
    const size_t n_added = post_processor ? post_processor->added_tokens(pair) : 0;
    if (o.add_special_tokens && n_added > 0) {
      if (max_length < n_added) {
        return invalid_argument(cat("max_length ", max_length, " leaves no room for the ", n_added, " special tokens"));
      }
      max_length -= n_added;
    }
    const size_t before = encs[0].size() + (pair ? encs[1].size() : 0);
    ENCORE_RETURN_IF_ERROR(truncate_encodings(&encs, max_length, strategy, truncation.from_left));
    result.truncated = encs[0].size() + (pair ? encs[1].size() : 0) < before;
  }
  if (post_processor) post_processor->process(&encs, o.add_special_tokens);
  tok::Encoding all;
  for (auto& e : encs) all.append(std::move(e));
  result.ids = std::move(all.ids);
  result.type_ids = std::move(all.type_ids);
  result.offsets.reserve(all.offsets.size());
  for (const auto& off : all.offsets) result.offsets.push_back({off.first, off.second});
  result.special_tokens_mask = std::move(all.special);
  result.sequence_ids = std::move(all.sequence);
  result.word_ids = std::move(all.words);
  if (o.want_tokens) result.tokens = std::move(all.values);
  return result;
}

Result<TextEncoding> TextTokenizer::encode(std::string_view text, const TextEncodeOptions& options) const {
  return impl_->encode(text, nullptr, options);
}

Result<TextEncoding> TextTokenizer::encode_pair(std::string_view a, std::string_view b,
                                                const TextEncodeOptions& options) const {
  return impl_->encode(a, &b, options);
}

int32_t TextTokenizer::token_to_id(std::string_view token) const {
  const int32_t id = impl_->added.token_to_id(token);
  return id >= 0 ? id : impl_->model->token_to_id(token);
}

std::string TextTokenizer::id_to_token(int32_t id) const {
  if (const std::string* s = impl_->added.id_to_token(id)) return *s;
  if (const std::string* s = impl_->model->id_to_token(id)) return *s;
  return {};
}

size_t TextTokenizer::vocab_size() const {
  return static_cast<size_t>(std::max(impl_->model->max_id(), impl_->added.max_id()) + 1);
}

size_t TextTokenizer::num_special_tokens(bool pair) const {
  return impl_->post_processor ? impl_->post_processor->added_tokens(pair) : 0;
}

const TextPadding& TextTokenizer::padding() const { return impl_->padding; }

}  // namespace encore
