// Internal pieces of the tokenizer.json pipeline (encore/text_tokenizer.h): the aligned
// string every stage edits, the split list, the component interfaces and their factories.
//
// Layout follows `tokenizers` (Rust): a NormalizedString keeps, for every byte of the
// normalized text, the byte range of the original text it came from (`alignments` in
// tokenizers/src/tokenizer/normalizer.rs); here those ranges are absolute offsets into the
// sequence passed to encode(), so a slice needs no shift. transform() is a port of
// NormalizedString::transform_range and gives the same alignments, which is what makes the
// offsets agree with the Rust crate.
#pragma once


#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "encore/status.h"

namespace encore::tok {

using Json = nlohmann::json;

// Thrown inside the builder only (caught in TextTokenizer::create, never crosses the API).
struct BuildError {
  Status status;
};
[[noreturn]] void fail(StatusCode code, std::string message);
[[noreturn]] inline void fail_model(std::string message) { fail(StatusCode::kInvalidModel, std::move(message)); }
[[noreturn]] inline void fail_unsupported(std::string message) { fail(StatusCode::kUnsupported, std::move(message)); }

// Typed field access with the JSON path in errors ("model.vocab: expected an object").
const Json& field(const Json& j, const char* key, const std::string& path);  // required
bool get_bool(const Json& j, const char* key, bool fallback, const std::string& path);
std::string get_string(const Json& j, const char* key, const std::string& path);  // required
// nullptr when absent or null.
const Json* optional(const Json& j, const char* key);
std::string type_of(const Json& j, const std::string& path);  // the "type" string
int64_t as_int(const Json& j, const std::string& path);

// ---- Unicode (utf8proc), with the predicates of Rust's char / unicode_categories ----------
// Decodes one code point of valid UTF-8 at p; *len gets its byte length.
char32_t decode_utf8(const char* p, size_t* len);
inline size_t utf8_len_of_lead(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }
void append_utf8(char32_t c, std::string* out);
size_t utf8_size(char32_t c);
bool valid_utf8(std::string_view s);
bool is_white_space(char32_t c);  // Unicode White_Space (Rust char::is_whitespace)
bool is_punctuation(char32_t c);  // ASCII punctuation or category P* (BertPreTokenizer, Punctuation)
bool is_other(char32_t c);        // category C* (Cc Cf Cs Co Cn)
bool is_numeric(char32_t c);      // category N* (Rust char::is_numeric)
bool is_mark_nonspacing(char32_t c);
bool is_word_char(char32_t c);    // Rust regex \w: Alphabetic, M*, Nd, Pc, Join_Control
// Rust char::to_lowercase: the simple mapping, except U+0130 -> "i\u0307".
void to_lowercase(char32_t c, char32_t out[3], int* n);
enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };
// Grapheme cluster boundaries (extended, UAX #29) of s, as byte offsets including 0 and size.
void grapheme_boundaries(std::string_view s, std::vector<uint32_t>* out);

// ---- The aligned string ----------------------------------------------------------------
using Offsets = std::pair<uint32_t, uint32_t>;

struct CharChange {
  char32_t c;
  int32_t change;  // 0 replaces one char, +1 is inserted, -n replaces one and removes n more
};

struct NormalizedString {
  std::string text;            // normalized UTF-8
  std::vector<Offsets> align;  // per byte of text: original byte range (absolute)
  Offsets original{0, 0};      // the original range this piece covers (offsets_original)

  static NormalizedString from(std::string_view s);
  // NormalizedString::transform(dest, initial_offset) over the whole string.
  void transform(const std::vector<CharChange>& dest, size_t initial_offset);
  NormalizedString slice(uint32_t begin, uint32_t end) const;
  // Original range of normalized bytes [begin, end) (convert_offsets).
  Offsets to_original(uint32_t begin, uint32_t end) const;
  void normalize_unicode(NormalForm form);
  void lowercase();
  void prepend(std::string_view s);
  void lrstrip(bool left, bool right);
  template <typename Keep>
  void filter(Keep keep);
};

template <typename Keep>
void NormalizedString::filter(Keep keep) {
  int32_t removed = 0;
  size_t removed_start = 0;
  bool have_last = false;
  char32_t last_c = 0;
  std::vector<CharChange> dest;
  dest.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t l = 0;
    const char32_t c = decode_utf8(text.data() + i, &l);
    if (keep(c)) {
      if (have_last) {
        dest.push_back({last_c, -removed});
      } else {
        removed_start = static_cast<size_t>(removed);
      }
      last_c = c;
      have_last = true;
      removed = 0;
    } else {
      ++removed;
    }
    i += l;
  }
  if (have_last) dest.push_back({last_c, -removed});
  transform(dest, removed_start);
}

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
SplitBehavior parse_behavior(const Json& j, const std::string& path);

struct Match {
  uint32_t begin, end;
  bool is_match;
};

// NormalizedString::split: cuts `in` at `matches` (which cover it in order), appending the
// pieces to `out` (empty ones included, as Rust does; PreTokenizedString drops them).
void split_by(const NormalizedString& in, std::vector<Match>& matches, SplitBehavior behavior,
              std::vector<NormalizedString>* out);

// Pattern::find_matches of a char predicate.
template <typename Pred>
void find_char_matches(std::string_view s, Pred pred, std::vector<Match>* out) {
  out->clear();
  if (s.empty()) {
    out->push_back({0, 0, false});
    return;
  }
  uint32_t last = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    const char32_t c = decode_utf8(s.data() + i, &len);
    if (pred(c)) {
      if (last < i) out->push_back({last, static_cast<uint32_t>(i), false});
      out->push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(i + len), true});
      last = static_cast<uint32_t>(i + len);
    }
    i += len;
  }
  if (last < s.size()) out->push_back({last, static_cast<uint32_t>(s.size()), false});
}

// PCRE2 with UTF and UCP (\s \w \d and \p{..} by Unicode properties, as Oniguruma's Unicode
// mode, which `tokenizers` uses for every regex it reads from JSON), JIT-compiled. A build
// without PCRE2 (ENCORE_HAVE_PCRE2 unset) refuses every pattern by name.
class Regex {
 public:
  // Throws BuildError (kInvalidModel) naming `path` when the pattern does not compile.
  Regex(const std::string& pattern, const std::string& path);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Pattern::find_matches for a regex (matches and the gaps between them).
  void find_matches(std::string_view s, std::vector<Match>* out) const;

 private:
  void* code_ = nullptr;  // pcre2_code*
};
std::string regex_escape(std::string_view literal);

// ---- Splits, tokens, encodings -----------------------------------------------------------
struct Token {
  int32_t id;
  uint32_t begin, end;     // byte range in the split's normalized text
  bool text_value = false;  // its string is the text [begin, end) rather than the vocabulary's
};

struct Split {
  NormalizedString n;
  std::vector<Token> tokens;
  bool tokenized = false;
};

struct Encoding {
  std::vector<int32_t> ids, type_ids;
  std::vector<Offsets> offsets;
  std::vector<std::string> values;  // token strings (only when some stage needs them)
  std::vector<uint8_t> special, sequence;
  std::vector<int32_t> words;  // per token: the split it came from (word_idx of into_encoding); -1 for added specials
  size_t size() const { return ids.size(); }
  void append(const Encoding& o);
  void append(Encoding&& o);
  void truncate(size_t n, bool from_left);
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString* s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(std::vector<Split>* splits) const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  // Tokens of one pre-token; Status for a model that cannot cover it (no unk).
  virtual Status tokenize(std::string_view word, std::vector<Token>* out) const = 0;
  virtual int32_t token_to_id(std::string_view token) const = 0;
  virtual const std::string* id_to_token(int32_t id) const = 0;
  virtual size_t vocab_size() const = 0;  // entries (get_vocab_size)
  virtual int32_t max_id() const = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual size_t added_tokens(bool pair) const = 0;
  virtual bool needs_values() const { return false; }
  // process_encodings: edits the one or two encodings in place (it may add specials).
  virtual void process(std::vector<Encoding>* encodings, bool add_special_tokens) const = 0;
};

// PreTokenizedString::split: replaces every untokenized split with the pieces fn gives,
// dropping empty ones.
template <typename Fn>
void split_each(std::vector<Split>* splits, Fn fn) {
  std::vector<Split> out;
  out.reserve(splits->size() * 2);
  std::vector<NormalizedString> pieces;
  for (auto& s : *splits) {
    if (s.tokenized) {
      out.push_back(std::move(s));
      continue;
    }
    pieces.clear();
    fn(s.n, &pieces);
    for (auto& p : pieces) {
      if (p.text.empty()) continue;
      out.push_back(Split{std::move(p), {}, false});
    }
  }
  *splits = std::move(out);
}

// Factories (one per file); `path` is the JSON path for errors ("normalizer.normalizers[1]").
std::unique_ptr<Normalizer> make_normalizer(const Json& j, const std::string& path);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const std::string& path);
std::unique_ptr<Model> make_model(const Json& j, const std::string& path);
std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const std::string& path);
// The same components built without a JSON document, for a model's WordPiece vocab.txt
// (TextTokenizer::for_model): no nlohmann tree is built or destroyed on that path, so an
// allocation failure anywhere in it unwinds cleanly (nlohmann's destructor allocates).
std::unique_ptr<Normalizer> make_bert_normalizer(bool clean, bool chinese, bool strip, bool lower);
std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer();
std::unique_ptr<Model> make_wordpiece(std::vector<std::pair<std::string, int64_t>> vocab, std::string unk,
                                      std::string prefix, size_t max_chars);
std::unique_ptr<PostProcessor> make_bert_processing(std::pair<std::string, int32_t> sep,
                                                    std::pair<std::string, int32_t> cls);
// ByteLevel's offset trimming (processors/byte_level.rs process_offsets).
void byte_level_process_offsets(Encoding* e, bool add_prefix_space);

// Added tokens (tokenizer/added_vocabulary.rs).
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

class AddedVocabulary {
 public:
  // Assigns ids as `tokenizers` does (the model's id when it has the content, else the next
  // free id); normalizes "normalized" tokens with `normalizer` for matching.
  void build(std::vector<AddedToken> tokens, const Model& model, const Normalizer* normalizer);
  // extract_and_normalize: splits of `text` with added tokens tokenized and the rest normalized.
  void extract_and_normalize(std::string_view text, const Normalizer* normalizer, bool skip_special,
                             std::vector<Split>* out) const;
  int32_t token_to_id(std::string_view s) const;
  const std::string* id_to_token(int32_t id) const;
  int32_t max_id() const;

 private:
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> next;  // sorted by byte
      int32_t token = -1;                                    // index into tokens_
    };
    std::vector<Node> nodes{1};
    int32_t root_next[256];
    bool empty = true;
    void add(const std::string& s, int32_t token);
    void finish();
    // Longest token starting at `at`, or -1; *len gets its length.
    int32_t longest_at(std::string_view s, size_t at, size_t* len) const;
  };
  void find_matches(std::string_view s, const Trie& trie, bool skip_special,
                    std::vector<std::pair<int32_t, Offsets>>* out) const;
  void split_with_indices(const NormalizedString& n, const Trie& trie, bool skip_special,
                          std::vector<Split>* out) const;

  std::vector<AddedToken> tokens_;
  std::vector<std::string> match_text_;  // what is matched: content, or its normalized form
  std::unordered_map<std::string, int32_t> by_content_;  // -> index into tokens_ (the last one)
  std::unordered_map<int32_t, int32_t> by_id_;
  Trie raw_, normalized_;
};

}  // namespace encore::tok
