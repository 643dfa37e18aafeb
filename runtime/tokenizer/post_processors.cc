// Post-processors of tokenizer.json (tokenizers/src/processors/*.rs): special tokens, type
// ids, and ByteLevel's offset trimming.
#include <map>

#include "core/str.h"
#include "tokenizer/pipeline.h"

namespace encore::tok {

constexpr uint8_t kNoSequence = 255;

// process_offsets (processors/byte_level.rs): offsets lose the leading / trailing spaces ('Ġ',
// U+0120, or any White_Space char) of the token string, except the single space that
// add_prefix_space put before the first token.
void byte_level_process_offsets(Encoding* e, bool add_prefix_space) {
  auto is_space = [](char32_t c) { return c == 0x120 || is_white_space(c); };
  for (size_t i = 0; i < e->size(); ++i) {
    const std::string& t = e->values[i];
    size_t leading = 0, trailing = 0, chars = 0;
    size_t k = 0;
    while (k < t.size()) {  // leading spaces, counted in chars
      size_t l = 0;
      if (!is_space(decode_utf8(t.data() + k, &l))) break;
      ++leading;
      k += l;
    }
    const size_t lead_bytes = k;
    for (size_t b = lead_bytes; b < t.size(); ++b) chars += (static_cast<unsigned char>(t[b]) & 0xC0) != 0x80;
    size_t end = t.size();
    while (end > lead_bytes) {  // trailing spaces (not overlapping the leading ones)
      size_t p = end - 1;
      while (p > lead_bytes && (static_cast<unsigned char>(t[p]) & 0xC0) == 0x80) --p;
      size_t l = 0;
      if (!is_space(decode_utf8(t.data() + p, &l))) break;
      ++trailing;
      end = p;
    }
    // An all-space token counts its spaces as leading and as trailing, as Rust's two scans do.
    if (chars == 0) trailing = leading;
    if (leading == 0 && trailing == 0) continue;
    Offsets& o = e->offsets[i];
    if (leading > 0) {
      const bool is_first = i == 0 || o.first == 0;
      if (is_first && add_prefix_space && leading == 1) leading = 0;
      o.first = std::min<uint32_t>(o.first + static_cast<uint32_t>(leading), o.second);
    }
    if (trailing > 0 && o.second >= trailing) {
      o.second = std::max<uint32_t>(o.second - static_cast<uint32_t>(trailing), o.first);
    }
  }
}

namespace {

void set_type_ids(Encoding* e, int32_t type_id) { e->type_ids.assign(e->size(), type_id); }

Encoding special(const std::vector<int32_t>& ids, const std::vector<std::string>& tokens, int32_t type_id) {
  Encoding e;
  e.ids = ids;
  e.type_ids.assign(ids.size(), type_id);
  e.offsets.assign(ids.size(), {0, 0});
  e.values = tokens;
  e.special.assign(ids.size(), 1);
  e.sequence.assign(ids.size(), kNoSequence);
  e.words.assign(ids.size(), -1);
  return e;
}

std::pair<std::string, int32_t> token_pair(const Json& j, const char* key, const std::string& path) {
  const Json& t = field(j, key, path);
  if (!t.is_array() || t.size() != 2 || !t[0].is_string()) fail_model(cat(path, ".", key, ": expected [token, id]"));
  const int64_t id = as_int(t[1], cat(path, ".", key, "[1]"));
  if (id < 0 || id > 0x7FFFFFFE) fail_model(cat(path, ".", key, ": id ", id, " is out of range"));
  return {t[0].get<std::string>(), static_cast<int32_t>(id)};
}

class BertProcessing final : public PostProcessor {
 public:
  BertProcessing(std::pair<std::string, int32_t> sep, std::pair<std::string, int32_t> cls)
      : sep_(std::move(sep)), cls_(std::move(cls)) {}
  size_t added_tokens(bool pair) const override { return pair ? 3 : 2; }
  void process(std::vector<Encoding>* encs, bool add_special) const override {
    if (!add_special) return;
    std::vector<Encoding> out;
    out.push_back(special({cls_.second}, {cls_.first}, 0));
    out.push_back(std::move((*encs)[0]));
    out.push_back(special({sep_.second}, {sep_.first}, 0));
    if (encs->size() > 1) {
      out.push_back(std::move((*encs)[1]));
      out.push_back(special({sep_.second}, {sep_.first}, 1));
    }
    *encs = std::move(out);
  }

 private:
  std::pair<std::string, int32_t> sep_, cls_;
};

class RobertaProcessing final : public PostProcessor {
 public:
  RobertaProcessing(std::pair<std::string, int32_t> sep, std::pair<std::string, int32_t> cls, bool trim, bool prefix)
      : sep_(std::move(sep)), cls_(std::move(cls)), trim_(trim), prefix_(prefix) {}
  size_t added_tokens(bool pair) const override { return pair ? 4 : 2; }
  bool needs_values() const override { return trim_; }
  void process(std::vector<Encoding>* encs, bool add_special) const override {
    for (auto& e : *encs) {
      if (trim_) byte_level_process_offsets(&e, prefix_);
      set_type_ids(&e, 0);
    }
    if (!add_special) return;
    std::vector<Encoding> out;
    out.push_back(special({cls_.second}, {cls_.first}, 0));
    out.push_back(std::move((*encs)[0]));
    out.push_back(special({sep_.second}, {sep_.first}, 0));
    if (encs->size() > 1) {
      out.push_back(special({sep_.second}, {sep_.first}, 0));
      out.push_back(std::move((*encs)[1]));
      out.push_back(special({sep_.second}, {sep_.first}, 0));
    }
    *encs = std::move(out);
  }

 private:
  std::pair<std::string, int32_t> sep_, cls_;
  bool trim_, prefix_;
};

class ByteLevelProcessing final : public PostProcessor {
 public:
  ByteLevelProcessing(bool trim, bool prefix) : trim_(trim), prefix_(prefix) {}
  size_t added_tokens(bool) const override { return 0; }
  bool needs_values() const override { return trim_; }
  void process(std::vector<Encoding>* encs, bool) const override {
    if (!trim_) return;
    for (auto& e : *encs) byte_level_process_offsets(&e, prefix_);
  }

 private:
  bool trim_, prefix_;
};

class TemplateProcessing final : public PostProcessor {
 public:
  TemplateProcessing(const Json& j, const std::string& path) {
    const Json& specials = field(j, "special_tokens", path);
    if (!specials.is_object()) fail_model(path + ".special_tokens: expected an object");
    for (auto it = specials.begin(); it != specials.end(); ++it) {
      const std::string p = path + ".special_tokens[\"" + it.key() + "\"]";
      const Json& s = it.value();
      if (!s.is_object()) fail_model(p + ": expected an object");
      const Json& ids = field(s, "ids", p);
      const Json& tokens = field(s, "tokens", p);
      if (!ids.is_array() || !tokens.is_array() || ids.size() != tokens.size()) {
        fail_model(p + ": ids and tokens must be arrays of the same length");
      }
      SpecialTokens st;
      for (size_t i = 0; i < ids.size(); ++i) {
        const int64_t id = as_int(ids[i], cat(p, ".ids[", i, "]"));
        if (id < 0 || id > 0x7FFFFFFE) fail_model(cat(p, ".ids[", i, "]: ", id, " is out of range"));
        if (!tokens[i].is_string()) fail_model(cat(p, ".tokens[", i, "]: expected a string"));
        st.ids.push_back(static_cast<int32_t>(id));
        st.tokens.push_back(tokens[i].get<std::string>());
      }
      specials_[it.key()] = std::move(st);
    }
    single_ = parse_template(field(j, "single", path), path + ".single", false);
    pair_ = parse_template(field(j, "pair", path), path + ".pair", true);
  }
  size_t added_tokens(bool pair) const override {
    size_t n = 0;
    for (const auto& p : pair ? pair_ : single_) {
      if (p.sequence < 0) n += specials_.at(p.special).ids.size();
    }
    return n;
  }
  void process(std::vector<Encoding>* encs, bool add_special) const override {
    const auto& tpl = encs->size() > 1 ? pair_ : single_;
    std::vector<Encoding> out;
    for (const auto& p : tpl) {
      if (p.sequence >= 0) {
        Encoding e = (*encs)[static_cast<size_t>(p.sequence)];
        set_type_ids(&e, p.type_id);
        out.push_back(std::move(e));
      } else if (add_special) {
        const auto& st = specials_.at(p.special);
        out.push_back(special(st.ids, st.tokens, p.type_id));
      }
    }
    *encs = std::move(out);
  }

 private:
  struct SpecialTokens {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
  };
  struct Piece {
    int sequence = -1;  // 0 = A, 1 = B, -1 = special token
    std::string special;
    int32_t type_id = 0;
  };
  std::vector<Piece> parse_template(const Json& j, const std::string& path, bool pair) {
    if (!j.is_array()) fail_model(path + ": expected an array of pieces");
    std::vector<Piece> out;
    bool has_a = false, has_b = false;
    for (size_t i = 0; i < j.size(); ++i) {
      const std::string p = cat(path, "[", i, "]");
      const Json& piece = j[i];
      if (!piece.is_object() || piece.size() != 1) fail_model(p + ": expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
      Piece pc;
      const Json* body = nullptr;
      if ((body = optional(piece, "Sequence"))) {
        const std::string id = get_string(*body, "id", p + ".Sequence");
        if (id == "A") {
          pc.sequence = 0;
          has_a = true;
        } else if (id == "B") {
          pc.sequence = 1;
          has_b = true;
        } else {
          fail_model(p + ".Sequence.id: expected \"A\" or \"B\"");
        }
      } else if ((body = optional(piece, "SpecialToken"))) {
        pc.special = get_string(*body, "id", p + ".SpecialToken");
        if (!specials_.count(pc.special)) fail_model(p + ": special token \"" + pc.special + "\" is not in special_tokens");
      } else {
        fail_model(p + ": expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
      }
      const int64_t type_id = as_int(field(*body, "type_id", p), p + ".type_id");
      if (type_id < 0 || type_id > 255) fail_model(cat(p, ".type_id: ", type_id, " is out of range"));
      pc.type_id = static_cast<int32_t>(type_id);
      out.push_back(std::move(pc));
    }
    if (!pair && has_b) fail_model(path + ": the single template uses sequence B");
    if (pair && !(has_a && has_b)) fail_model(path + ": the pair template must use sequences A and B");
    return out;
  }

  std::map<std::string, SpecialTokens> specials_;
  std::vector<Piece> single_, pair_;
};

class SequenceProcessing final : public PostProcessor {
 public:
  explicit SequenceProcessing(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  size_t added_tokens(bool pair) const override {
    size_t n = 0;
    for (const auto& p : parts_) n += p->added_tokens(pair);
    return n;
  }
  bool needs_values() const override {
    for (const auto& p : parts_) {
      if (p->needs_values()) return true;
    }
    return false;
  }
  void process(std::vector<Encoding>* encs, bool add_special) const override {
    for (const auto& p : parts_) p->process(encs, add_special);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

}  // namespace

std::unique_ptr<PostProcessor> make_bert_processing(std::pair<std::string, int32_t> sep,
                                                    std::pair<std::string, int32_t> cls) {
  return std::make_unique<BertProcessing>(std::move(sep), std::move(cls));
}

std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const std::string& path) {
  const std::string type = type_of(j, path);
  if (type == "BertProcessing") {
    return std::make_unique<BertProcessing>(token_pair(j, "sep", path), token_pair(j, "cls", path));
  }
  if (type == "RobertaProcessing") {
    return std::make_unique<RobertaProcessing>(token_pair(j, "sep", path), token_pair(j, "cls", path),
                                               get_bool(j, "trim_offsets", true, path),
                                               get_bool(j, "add_prefix_space", true, path));
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelProcessing>(get_bool(j, "trim_offsets", true, path),
                                                 get_bool(j, "add_prefix_space", true, path));
  }
  if (type == "TemplateProcessing") return std::make_unique<TemplateProcessing>(j, path);
  if (type == "Sequence") {
    const Json& list = field(j, "processors", path);
    if (!list.is_array()) fail_model(path + ".processors: expected an array");
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      parts.push_back(make_post_processor(list[i], cat(path, ".processors[", i, "]")));
    }
    return std::make_unique<SequenceProcessing>(std::move(parts));
  }
  fail_unsupported(cat(path, " type \"", type, "\" is not supported"));
}

}  // namespace encore::tok
