// Normalizers of tokenizer.json (tokenizers/src/normalizers/*.rs), each editing the aligned
// string through the same (char, change) transformations as the Rust code, so offsets agree.
#include <array>
#include <cstring>

#include "core/str.h"
#include "tokenizer/pipeline.h"

namespace encore::tok {
namespace {

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool has_non_ascii(const std::string& s) {
  for (unsigned char ch : s) {
    if (ch >= 0x80) return true;
  }
  return false;
}

// NormalizedString::map: each char replaced by one char, keeping its alignment.
template <typename Map>
void map_chars(NormalizedString* n, Map map) {
  if (!has_non_ascii(n->text)) {
    for (auto& ch : n->text) ch = static_cast<char>(map(static_cast<char32_t>(static_cast<unsigned char>(ch))));
    return;
  }
  std::vector<CharChange> dest;
  dest.reserve(n->text.size());
  for (size_t i = 0; i < n->text.size();) {
    size_t l = 0;
    dest.push_back({map(decode_utf8(n->text.data() + i, &l)), 0});
    i += l;
  }
  n->transform(dest, 0);
}

template <typename Pred>
bool any_char(const std::string& s, Pred pred) {
  for (size_t i = 0; i < s.size();) {
    size_t l = 0;
    if (pred(decode_utf8(s.data() + i, &l))) return true;
    i += l;
  }
  return false;
}

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean, bool chinese, bool strip, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
  void normalize(NormalizedString* n) const override {
    if (clean_) {
      auto drop = [](char32_t c) {
        return c == 0 || c == 0xFFFD || (c != '\t' && c != '\n' && c != '\r' && is_other(c));
      };
      if (any_char(n->text, drop)) n->filter([&](char32_t c) { return !drop(c); });
      map_chars(n, [](char32_t c) -> char32_t { return (c == '\t' || c == '\n' || c == '\r' || is_white_space(c)) ? ' ' : c; });
    }
    if (chinese_ && has_non_ascii(n->text) && any_char(n->text, is_chinese_char)) {
      std::vector<CharChange> dest;
      for (size_t i = 0; i < n->text.size();) {
        size_t l = 0;
        const char32_t c = decode_utf8(n->text.data() + i, &l);
        if (is_chinese_char(c)) {
          dest.push_back({' ', 0});
          dest.push_back({c, 1});
          dest.push_back({' ', 1});
        } else {
          dest.push_back({c, 0});
        }
        i += l;
      }
      n->transform(dest, 0);
    }
    if (strip_ && has_non_ascii(n->text)) {
      n->normalize_unicode(NormalForm::kNfd);
      if (any_char(n->text, is_mark_nonspacing)) n->filter([](char32_t c) { return !is_mark_nonspacing(c); });
    }
    if (lower_) n->lowercase();
  }

 private:
  bool clean_, chinese_, strip_, lower_;
};

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  void normalize(NormalizedString* n) const override { n->normalize_unicode(form_); }

 private:
  NormalForm form_;
};

class Lowercase final : public Normalizer {
 public:
  void normalize(NormalizedString* n) const override { n->lowercase(); }
};

class StripAccents final : public Normalizer {
 public:
  void normalize(NormalizedString* n) const override {
    if (has_non_ascii(n->text) && any_char(n->text, is_mark_nonspacing)) {
      n->filter([](char32_t c) { return !is_mark_nonspacing(c); });
    }
  }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString* n) const override { n->lrstrip(left_, right_); }

 private:
  bool left_, right_;
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string s) : s_(std::move(s)) {}
  void normalize(NormalizedString* n) const override { n->prepend(s_); }

 private:
  std::string s_;
};

// NormalizedString::replace: every match becomes `content`, whose characters all take the
// alignment of the last byte of the match (or the piece's start for an empty match at 0).
class Replace final : public Normalizer {
 public:
  Replace(const std::string& pattern, bool is_regex, std::string content, const std::string& path)
      : literal_(is_regex ? "" : pattern), content_(std::move(content)) {
    if (is_regex) regex_ = std::make_unique<Regex>(pattern, path + ".pattern");
  }
  void normalize(NormalizedString* n) const override {
    std::vector<Match> matches;
    if (regex_) {
      regex_->find_matches(n->text, &matches);
    } else {
      if (literal_.empty()) return;  // an empty string pattern matches nothing
      size_t at = 0;
      while (true) {
        const size_t p = n->text.find(literal_, at);
        if (p == std::string::npos) break;
        matches.push_back({static_cast<uint32_t>(p), static_cast<uint32_t>(p + literal_.size()), true});
        at = p + literal_.size();
      }
      if (matches.empty()) return;
    }
    std::string text;
    std::vector<Offsets> align;
    text.reserve(n->text.size());
    align.reserve(n->text.size());
    size_t last = 0;
    for (const auto& m : matches) {
      if (!m.is_match) continue;
      text.append(n->text, last, m.begin - last);
      align.insert(align.end(), n->align.begin() + last, n->align.begin() + m.begin);
      const Offsets a = m.end < 1 ? Offsets{n->original.first, n->original.first} : n->align[m.end - 1];
      text.append(content_);
      align.insert(align.end(), content_.size(), a);
      last = m.end;
    }
    text.append(n->text, last, std::string::npos);
    align.insert(align.end(), n->align.begin() + last, n->align.end());
    n->text = std::move(text);
    n->align = std::move(align);
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

// ---- Precompiled: SentencePiece's normalization charsmap -----------------------------------
//
// The blob (spm's normalizer_spec.precompiled_charsmap) is [u32 trie size in bytes][trie: u32
// units of a darts-clone double array][replacement strings, each NUL-terminated]. Lookup is the
// `spm_precompiled` crate's: the value of the *first* (shortest) key that is a prefix of the
// chunk, tried on whole grapheme clusters shorter than 6 bytes and otherwise char by char.

bool base64_decode(const std::string& in, std::string* out) {
  static const std::array<int8_t, 256> table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(chars[i])] = static_cast<int8_t>(i);
    return t;
  }();
  if (in.size() % 4 != 0) return false;
  out->clear();
  out->reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char ch = in[i + k];
      if (ch == '=') {
        if (i + 4 != in.size() || k < 2) return false;
        v[k] = 0;
        ++pad;
      } else {
        if (pad) return false;
        v[k] = table[static_cast<unsigned char>(ch)];
        if (v[k] < 0) return false;
      }
    }
    const uint32_t w = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out->push_back(static_cast<char>(w >> 16));
    if (pad < 2) out->push_back(static_cast<char>((w >> 8) & 0xFF));
    if (pad < 1) out->push_back(static_cast<char>(w & 0xFF));
  }
  return true;
}

class Precompiled final : public Normalizer {
 public:
  Precompiled(const std::string& b64, const std::string& path) {
    std::string blob;
    if (!base64_decode(b64, &blob)) fail_model(path + ".precompiled_charsmap: not valid base64");
    if (blob.size() < 4) fail_model(path + ".precompiled_charsmap: cannot parse precompiled_charsmap");
    uint32_t trie_bytes = 0;
    for (int k = 0; k < 4; ++k) trie_bytes |= uint32_t(static_cast<unsigned char>(blob[k])) << (8 * k);
    const size_t units = trie_bytes / 4;
    if (units > (blob.size() - 4) / 4) fail_model(path + ".precompiled_charsmap: cannot parse precompiled_charsmap");
    array_.resize(units);
    for (size_t i = 0; i < units; ++i) {
      uint32_t u = 0;
      for (int k = 0; k < 4; ++k) u |= uint32_t(static_cast<unsigned char>(blob[4 + 4 * i + k])) << (8 * k);
      array_[i] = u;
    }
    normalized_ = blob.substr(4 + units * 4);
    if (!valid_utf8(normalized_)) fail_model(path + ".precompiled_charsmap: replacement strings are not valid UTF-8");
    if (array_.empty()) fail_model(path + ".precompiled_charsmap: empty trie");
    for (int c = 0; c < 128; ++c) {
      const char key = static_cast<char>(c);
      ascii_[c] = lookup(std::string_view(&key, 1));
    }
  }

  void normalize(NormalizedString* n) const override {
    const std::string& s = n->text;
    std::vector<CharChange> dest;
    dest.reserve(s.size() + 8);
    bool modified = false;
    std::vector<uint32_t> bounds;
    grapheme_boundaries(s, &bounds);
    for (size_t g = 0; g + 1 < bounds.size(); ++g) {
      const std::string_view grapheme(s.data() + bounds[g], bounds[g + 1] - bounds[g]);
      if (grapheme.size() < 6) {
        const int64_t v = find(grapheme);
        if (v >= 0) {
          modified = true;
          replace(&dest, grapheme, value(v));
          continue;
        }
      }
      for (size_t i = 0; i < grapheme.size();) {
        size_t l = 0;
        const char32_t c = decode_utf8(grapheme.data() + i, &l);
        const std::string_view part = grapheme.substr(i, l);
        const int64_t v = find(part);
        if (v >= 0) {
          modified = true;
          replace(&dest, part, value(v));
        } else {
          dest.push_back({c, 0});
        }
        i += l;
      }
    }
    if (modified) n->transform(dest, 0);
  }

 private:
  int64_t find(std::string_view chunk) const {
    if (chunk.size() == 1 && static_cast<unsigned char>(chunk[0]) < 0x80) return ascii_[static_cast<unsigned char>(chunk[0])];
    return lookup(chunk);
  }

  // DoubleArray::first_prefix_value, with bounds checks (the blob comes from the file).
  int64_t lookup(std::string_view key) const {
    auto offset = [](uint32_t unit) -> size_t { return (unit >> 10) << ((unit & (1u << 9)) >> 6); };
    size_t node = 0;
    uint32_t unit = array_[node];
    node ^= offset(unit);
    for (char ch : key) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == 0) break;
      node ^= c;
      if (node >= array_.size()) return -1;
      unit = array_[node];
      if ((unit & ((1u << 31) | 0xFF)) != c) return -1;
      node ^= offset(unit);
      if (node >= array_.size()) return -1;
      if ((unit >> 8) & 1) {
        const int64_t v = array_[node] & ((1u << 31) - 1);
        if (static_cast<size_t>(v) >= normalized_.size() + 1) return -1;
        return v;
      }
    }
    return -1;
  }

  std::string_view value(int64_t index) const {
    const size_t start = static_cast<size_t>(index);
    if (start >= normalized_.size()) return {};
    const size_t end = normalized_.find('\0', start);
    std::string_view v(normalized_.data() + start, (end == std::string::npos ? normalized_.size() : end) - start);
    // A value that starts inside a character (hostile blob) is ignored up to the next one.
    while (!v.empty() && (static_cast<unsigned char>(v[0]) & 0xC0) == 0x80) v.remove_prefix(1);
    return v;
  }

  // precompiled.rs replace(): the new chars replace the old ones; extra ones are insertions,
  // missing ones are removals charged to the last char pushed so far.
  static void replace(std::vector<CharChange>* dest, std::string_view old_part, std::string_view new_part) {
    int32_t old_count = 0, new_count = 0;
    for (size_t i = 0; i < old_part.size(); i += utf8_len_of_lead(static_cast<unsigned char>(old_part[i]))) ++old_count;
    for (size_t i = 0; i < new_part.size();) {
      size_t l = 0;
      dest->push_back({decode_utf8(new_part.data() + i, &l), 0});
      ++new_count;
      i += l;
    }
    const int32_t diff = new_count - old_count;
    if (diff > 0) {
      for (int32_t k = 0; k < diff; ++k) (*dest)[dest->size() - 1 - k].change = 1;
    } else if (diff < 0 && !dest->empty()) {
      dest->back().change += diff;
    }
  }

  std::vector<uint32_t> array_;
  std::string normalized_;
  int64_t ascii_[128];
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(NormalizedString* n) const override {
    for (const auto& p : parts_) p->normalize(n);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

// Replace's and Split's {"String": s} or {"Regex": r}.
std::pair<std::string, bool> parse_pattern(const Json& j, const std::string& path) {
  if (!j.is_object() || j.size() != 1) fail_model(path + ": expected {\"String\": ...} or {\"Regex\": ...}");
  if (auto* s = optional(j, "String")) {
    if (!s->is_string()) fail_model(path + ".String: expected a string");
    return {s->get<std::string>(), false};
  }
  if (auto* r = optional(j, "Regex")) {
    if (!r->is_string()) fail_model(path + ".Regex: expected a string");
    return {r->get<std::string>(), true};
  }
  fail_model(path + ": expected {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace

std::pair<std::string, bool> parse_split_pattern(const Json& j, const std::string& path) { return parse_pattern(j, path); }

std::unique_ptr<Normalizer> make_bert_normalizer(bool clean, bool chinese, bool strip, bool lower) {
  return std::make_unique<BertNormalizer>(clean, chinese, strip, lower);
}

std::unique_ptr<Normalizer> make_normalizer(const Json& j, const std::string& path) {
  const std::string type = type_of(j, path);
  if (type == "BertNormalizer") {
    const bool lower = get_bool(j, "lowercase", true, path);
    bool strip = lower;
    if (auto* s = optional(j, "strip_accents")) {
      if (!s->is_boolean()) fail_model(path + ".strip_accents: expected a boolean or null");
      strip = s->get<bool>();
    }
    return std::make_unique<BertNormalizer>(get_bool(j, "clean_text", true, path),
                                            get_bool(j, "handle_chinese_chars", true, path), strip, lower);
  }
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfc);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfd);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfkc);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfkd);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip") {
    return std::make_unique<Strip>(get_bool(j, "strip_left", true, path), get_bool(j, "strip_right", true, path));
  }
  if (type == "Prepend") return std::make_unique<Prepend>(get_string(j, "prepend", path));
  if (type == "Replace") {
    auto [pattern, is_regex] = parse_pattern(field(j, "pattern", path), path + ".pattern");
    return std::make_unique<Replace>(pattern, is_regex, get_string(j, "content", path), path);
  }
  if (type == "Precompiled") {
    const Json& m = field(j, "precompiled_charsmap", path);
    if (!m.is_string()) fail_model(path + ".precompiled_charsmap: expected a base64 string");
    return std::make_unique<Precompiled>(m.get<std::string>(), path);
  }
  if (type == "Sequence") {
    const Json& list = field(j, "normalizers", path);
    if (!list.is_array()) fail_model(path + ".normalizers: expected an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      parts.push_back(make_normalizer(list[i], cat(path, ".normalizers[", i, "]")));
    }
    return std::make_unique<Sequence>(std::move(parts));
  }
  fail_unsupported(cat(path, " type \"", type, "\" is not supported"));
}

}  // namespace encore::tok
