// Pre-tokenizers of tokenizer.json (tokenizers/src/pre_tokenizers/*.rs).
#include <array>

#include "core/str.h"
#include "tokenizer/pipeline.h"

namespace encore::tok {

std::pair<std::string, bool> parse_split_pattern(const Json& j, const std::string& path);

namespace {

template <typename Pred>
void split_chars(std::vector<Split>* splits, Pred pred, SplitBehavior behavior) {
  std::vector<Match> matches;
  split_each(splits, [&](const NormalizedString& n, std::vector<NormalizedString>* out) {
    find_char_matches(n.text, pred, &matches);
    split_by(n, matches, behavior, out);
  });
}

void invert(std::vector<Match>* matches) {
  for (auto& m : *matches) m.is_match = !m.is_match;
}

class BertPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Split>* splits) const override {
    split_chars(splits, is_white_space, SplitBehavior::kRemoved);
    split_chars(splits, is_punctuation, SplitBehavior::kIsolated);
  }
};

class WhitespaceSplit final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Split>* splits) const override {
    split_chars(splits, is_white_space, SplitBehavior::kRemoved);
  }
};

// Whitespace: the words of `\w+|[^\w\s]+` (Rust regex crate, Unicode classes) are kept, the
// rest removed. Scanned by hand with the same classes instead of a regex.
class Whitespace final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Split>* splits) const override {
    std::vector<Match> matches;
    split_each(splits, [&](const NormalizedString& n, std::vector<NormalizedString>* out) {
      matches.clear();
      const std::string& s = n.text;
      if (s.empty()) return;
      uint32_t prev = 0;
      size_t i = 0;
      while (i < s.size()) {
        size_t l = 0;
        const char32_t c = decode_utf8(s.data() + i, &l);
        const bool word = is_word_char(c);
        if (!word && is_white_space(c)) {
          i += l;
          continue;
        }
        size_t e = i + l;
        while (e < s.size()) {
          size_t l2 = 0;
          const char32_t d = decode_utf8(s.data() + e, &l2);
          const bool w2 = is_word_char(d);
          if (word ? !w2 : (w2 || is_white_space(d))) break;
          e += l2;
        }
        if (prev != i) matches.push_back({prev, static_cast<uint32_t>(i), true});  // inverted: gaps match
        matches.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(e), false});
        prev = static_cast<uint32_t>(e);
        i = e;
      }
      if (prev != s.size()) matches.push_back({prev, static_cast<uint32_t>(s.size()), true});
      split_by(n, matches, SplitBehavior::kRemoved, out);
    });
  }
};

class Punctuation final : public PreTokenizer {
 public:
  explicit Punctuation(SplitBehavior b) : behavior_(b) {}
  void pre_tokenize(std::vector<Split>* splits) const override { split_chars(splits, is_punctuation, behavior_); }

 private:
  SplitBehavior behavior_;
};

class Digits final : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}
  void pre_tokenize(std::vector<Split>* splits) const override {
    split_chars(splits, is_numeric, individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
  }

 private:
  bool individual_;
};

class CharDelimiterSplit final : public PreTokenizer {
 public:
  explicit CharDelimiterSplit(char32_t d) : d_(d) {}
  void pre_tokenize(std::vector<Split>* splits) const override {
    split_chars(splits, [this](char32_t c) { return c == d_; }, SplitBehavior::kRemoved);
  }

 private:
  char32_t d_;
};

class SplitPre final : public PreTokenizer {
 public:
  SplitPre(const std::string& pattern, bool is_regex, SplitBehavior b, bool inv, const std::string& path)
      : regex_(is_regex ? pattern : regex_escape(pattern), path + ".pattern"), behavior_(b), invert_(inv) {}
  void pre_tokenize(std::vector<Split>* splits) const override {
    std::vector<Match> matches;
    split_each(splits, [&](const NormalizedString& n, std::vector<NormalizedString>* out) {
      regex_.find_matches(n.text, &matches);
      if (invert_) invert(&matches);
      split_by(n, matches, behavior_, out);
    });
  }

 private:
  Regex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

// GPT-2's byte-to-unicode map (bytes_char() in byte_level.rs), as UTF-8 strings.
const std::array<std::string, 256>& byte_chars() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      append_utf8(c, &t[b]);
    }
    return t;
  }();
  return table;
}

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex, const std::string& path)
      : add_prefix_space_(add_prefix_space),
        use_regex_(use_regex),
        re_(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", path) {}
  void pre_tokenize(std::vector<Split>* splits) const override {
    const Regex& re = re_;
    std::vector<Match> matches;
    split_each(splits, [&](const NormalizedString& in, std::vector<NormalizedString>* out) {
      NormalizedString n = in;
      if (add_prefix_space_ && (n.text.empty() || n.text[0] != ' ')) n.prepend(" ");
      if (use_regex_) {
        re.find_matches(n.text, &matches);
        split_by(n, matches, SplitBehavior::kIsolated, out);
      } else {
        out->push_back(std::move(n));
      }
    });
    const auto& bc = byte_chars();
    for (auto& s : *splits) {
      if (s.tokenized) continue;
      NormalizedString& n = s.n;
      std::string text;
      std::vector<Offsets> align;
      text.reserve(n.text.size() * 2);
      align.reserve(n.text.size() * 2);
      for (size_t i = 0; i < n.text.size(); ++i) {
        const std::string& m = bc[static_cast<unsigned char>(n.text[i])];
        text.append(m);
        align.insert(align.end(), m.size(), n.align[i]);
      }
      n.text = std::move(text);
      n.align = std::move(align);
    }
  }

 private:
  bool add_prefix_space_, use_regex_;
  Regex re_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class Metaspace final : public PreTokenizer {
 public:
  Metaspace(std::string replacement, PrependScheme scheme, bool split)
      : rep_(std::move(replacement)), scheme_(scheme), split_(split) {
    size_t l = 0;
    rep_char_ = decode_utf8(rep_.data(), &l);
  }
  void pre_tokenize(std::vector<Split>* splits) const override {
    std::vector<Match> matches;
    split_each(splits, [&](const NormalizedString& in, std::vector<NormalizedString>* out) {
      NormalizedString n;
      // normalized.replace(' ', replacement): each space's alignment is kept.
      n.original = in.original;
      n.text.reserve(in.text.size() + 16);
      n.align.reserve(in.text.size() + 16);
      for (size_t i = 0; i < in.text.size(); ++i) {
        if (in.text[i] == ' ') {
          n.text.append(rep_);
          n.align.insert(n.align.end(), rep_.size(), in.align[i]);
        } else {
          n.text.push_back(in.text[i]);
          n.align.push_back(in.align[i]);
        }
      }
      const bool starts = n.text.compare(0, rep_.size(), rep_) == 0;
      if (!starts && (scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && n.original.first == 0))) {
        n.prepend(rep_);
      }
      if (split_) {
        find_char_matches(n.text, [this](char32_t c) { return c == rep_char_; }, &matches);
        split_by(n, matches, SplitBehavior::kMergedWithNext, out);
      } else {
        out->push_back(std::move(n));
      }
    });
  }

 private:
  std::string rep_;
  char32_t rep_char_ = 0;
  PrependScheme scheme_;
  bool split_;
};

class SequencePre final : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Split>* splits) const override {
    for (const auto& p : parts_) p->pre_tokenize(splits);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

// A JSON string holding exactly one character (Rust `char`).
char32_t one_char(const Json& j, const char* key, const std::string& path) {
  const std::string s = get_string(j, key, path);
  size_t l = 0;
  if (s.empty() || !valid_utf8(s) || (decode_utf8(s.data(), &l), l != s.size())) {
    fail_model(cat(path, ".", key, ": expected one character"));
  }
  return decode_utf8(s.data(), &l);
}

}  // namespace

std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer() { return std::make_unique<BertPreTokenizer>(); }

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const std::string& path) {
  const std::string type = type_of(j, path);
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplit>();
  if (type == "Punctuation") {
    const Json* b = optional(j, "behavior");
    return std::make_unique<Punctuation>(b ? parse_behavior(*b, path + ".behavior") : SplitBehavior::kIsolated);
  }
  if (type == "Digits") return std::make_unique<Digits>(get_bool(j, "individual_digits", false, path));
  if (type == "CharDelimiterSplit") return std::make_unique<CharDelimiterSplit>(one_char(j, "delimiter", path));
  if (type == "Split") {
    auto [pattern, is_regex] = parse_split_pattern(field(j, "pattern", path), path + ".pattern");
    return std::make_unique<SplitPre>(pattern, is_regex, parse_behavior(field(j, "behavior", path), path + ".behavior"),
                                      get_bool(j, "invert", false, path), path);
  }
  if (type == "ByteLevel") {
    // trim_offsets only matters to the post-processor of the same name.
    return std::make_unique<ByteLevel>(get_bool(j, "add_prefix_space", true, path), get_bool(j, "use_regex", true, path),
                                       path);
  }
  if (type == "Metaspace") {
    const char32_t rep = one_char(j, "replacement", path);
    std::string rep_s;
    append_utf8(rep, &rep_s);
    PrependScheme scheme = PrependScheme::kAlways;
    if (const Json* p = optional(j, "prepend_scheme")) {
      const std::string s = p->is_string() ? p->get<std::string>() : "";
      if (s == "always") {
        scheme = PrependScheme::kAlways;
      } else if (s == "first") {
        scheme = PrependScheme::kFirst;
      } else if (s == "never") {
        scheme = PrependScheme::kNever;
      } else {
        fail_model(path + ".prepend_scheme: expected \"always\", \"first\" or \"never\"");
      }
    }
    if (const Json* a = optional(j, "add_prefix_space")) {
      if (!a->is_boolean()) fail_model(path + ".add_prefix_space: expected a boolean");
      if (!a->get<bool>()) {
        if (scheme != PrependScheme::kNever) {
          fail_model(path + ": add_prefix_space does not match declared prepend_scheme");
        }
        scheme = PrependScheme::kNever;
      }
    }
    return std::make_unique<Metaspace>(rep_s, scheme, get_bool(j, "split", true, path));
  }
  if (type == "Sequence") {
    const Json& list = field(j, "pretokenizers", path);
    if (!list.is_array()) fail_model(path + ".pretokenizers: expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      parts.push_back(make_pre_tokenizer(list[i], cat(path, ".pretokenizers[", i, "]")));
    }
    return std::make_unique<SequencePre>(std::move(parts));
  }
  fail_unsupported(cat(path, " type \"", type, "\" is not supported"));
}

}  // namespace encore::tok
