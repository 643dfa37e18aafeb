#include <utf8proc.h>

#include <string>
#include <unordered_map>
#include <utility>

#include "core/str.h"
#include "encore/tokenizer.h"

namespace encore {
namespace {

constexpr size_t kMaxWordChars = 100;  // longer words become [UNK], as in BERT's WordPiece

bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

// Space separators plus line / paragraph separators (Unicode White_Space minus the control
// characters, which the clean step has already dropped).
bool is_whitespace(char32_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return true;
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

// Category C* (control, format, surrogate, private use, unassigned), but not \t \n \r.
bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
      return true;
    default:
      return false;
  }
}

// ASCII symbols count as punctuation although Unicode files some ($, +, ^, ...) as S*.
bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

Status decode_utf8(std::string_view text, std::u32string* out) {
  out->clear();
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0 || c < 0) {
      return invalid_argument(cat("text is not valid UTF-8 (byte ", text.size() - static_cast<size_t>(left), ")"));
    }
    out->push_back(static_cast<char32_t>(c));
    p += n;
    left -= n;
  }
  return Status::Ok();
}

void append_utf8(char32_t c, std::string* out) {
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

// Canonical decomposition with nonspacing marks (Mn) removed: "é" -> "e".
void strip_accents(const std::u32string& in, std::u32string* out) {
  out->clear();
  for (char32_t c : in) {
    utf8proc_int32_t parts[8];
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), parts, 8, UTF8PROC_DECOMPOSE,
                                                 &boundclass);
    if (n < 0 || n > 8) {  // no decomposition of this size exists; keep the character
      out->push_back(c);
      continue;
    }
    for (utf8proc_ssize_t i = 0; i < n; ++i) {
      if (category(static_cast<char32_t>(parts[i])) != UTF8PROC_CATEGORY_MN) out->push_back(static_cast<char32_t>(parts[i]));
    }
  }
}

bool is_cased(char32_t c) {
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

bool is_case_ignorable(char32_t c) {
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF ||
         cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK || c == '\'' || c == 0x2019 || c == '.' ||
         c == ':' || c == 0xB7;
}

// Full lowercase mapping as Unicode (and Python's / JavaScript's lower()) defines it: simple
// per-character mappings, plus the two context rules that matter here: U+0130 becomes
// "i" + U+0307, and a capital sigma at the end of a word becomes the final form.
void lowercase(const std::u32string& in, std::u32string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const char32_t c = in[i];
    if (c == 0x130) {
      out->push_back('i');
      out->push_back(0x307);
      continue;
    }
    if (c == 0x3A3) {
      // Final_Sigma: preceded by a cased letter and not followed by one (case-ignorable
      // characters in between are skipped on both sides).
      size_t b = i;
      while (b > 0 && is_case_ignorable(in[b - 1])) --b;
      size_t a = i + 1;
      while (a < in.size() && is_case_ignorable(in[a])) ++a;
      const bool final = b > 0 && is_cased(in[b - 1]) && !(a < in.size() && is_cased(in[a]));
      out->push_back(final ? 0x3C2 : 0x3C3);
      continue;
    }
    out->push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
  }
}

}  // namespace

struct Tokenizer::Impl {
  std::vector<std::string> vocab;
  std::unordered_map<std::string, int32_t> ids;
  bool lower = true;
  bool strip = true;
  int32_t cls = -1, sep = -1, unk = -1, pad = -1;

  // Appends one token of segment `type` to an encoding.
  void push(int32_t id, int32_t type, Encoding* e) const {
    e->ids.push_back(id);
    e->token_type_ids.push_back(type);
    e->tokens.push_back(vocab[static_cast<size_t>(id)]);
  }

  // Appends the WordPiece ids (and strings) of one pre-tokenized word.
  void word_piece(const std::u32string& text, size_t begin, size_t end, std::vector<int32_t>* out,
                  std::vector<std::string>* pieces) const {
    if (end - begin > kMaxWordChars) {
      out->push_back(unk);
      if (pieces) pieces->push_back(vocab[static_cast<size_t>(unk)]);
      return;
    }
    const size_t first_new = out->size();
    const size_t first_piece = pieces ? pieces->size() : 0;
    std::string candidate;
    size_t start = begin;
    while (start < end) {
      int32_t match = -1;
      size_t stop = end;
      for (; stop > start; --stop) {
        candidate.assign(start > begin ? "##" : "");
        for (size_t i = start; i < stop; ++i) append_utf8(text[i], &candidate);
        auto it = ids.find(candidate);
        if (it != ids.end()) {
          match = it->second;
          break;
        }
      }
      if (match < 0) {  // some part matches nothing: the whole word is unknown
        out->resize(first_new);
        out->push_back(unk);
        if (pieces) {
          pieces->resize(first_piece);
          pieces->push_back(vocab[static_cast<size_t>(unk)]);
        }
        return;
      }
      out->push_back(match);
      if (pieces) pieces->push_back(vocab[static_cast<size_t>(match)]);
      start = stop;
    }
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(const TokenizerInfo& info) {
  if (info.vocab.empty()) return invalid_model("the model has no tokenizer vocabulary");
  auto impl = std::make_unique<Impl>();
  impl->vocab = info.vocab;
  impl->ids.reserve(info.vocab.size());
  for (size_t i = 0; i < info.vocab.size(); ++i) {
    // The first occurrence wins for duplicated lines, as in Hugging Face's vocab loading.
    impl->ids.emplace(info.vocab[i], static_cast<int32_t>(i));
  }
  impl->lower = info.do_lower_case;
  impl->strip = info.strip_accents_set ? info.strip_accents : info.do_lower_case;
  auto find = [&](const char* token) {
    auto it = impl->ids.find(token);
    return it == impl->ids.end() ? -1 : it->second;
  };
  impl->cls = find("[CLS]");
  impl->sep = find("[SEP]");
  impl->unk = find("[UNK]");
  impl->pad = find("[PAD]");
  for (auto [name, id] : {std::pair<const char*, int32_t>{"[CLS]", impl->cls}, {"[SEP]", impl->sep}, {"[UNK]", impl->unk}}) {
    if (id < 0) return invalid_model(cat("the tokenizer vocabulary has no ", name, " token"));
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

Result<std::vector<int32_t>> Tokenizer::tokenize(std::string_view text, std::vector<std::string>* pieces) const {
  std::u32string chars, normalized, scratch;
  ENCORE_RETURN_IF_ERROR(decode_utf8(text, &chars));
  // 1-2: clean, whitespace to spaces, CJK ideographs as words of their own.
  normalized.reserve(chars.size());
  for (char32_t c : chars) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      normalized.push_back(' ');
    } else if (is_cjk(c)) {
      normalized.push_back(' ');
      normalized.push_back(c);
      normalized.push_back(' ');
    } else {
      normalized.push_back(c);
    }
  }
  // 3: case, then accents (the order of BertTokenizer and tokenizers.js).
  if (impl_->lower) {
    lowercase(normalized, &scratch);
    normalized.swap(scratch);
  }
  if (impl_->strip) {
    strip_accents(normalized, &scratch);
    normalized.swap(scratch);
  }
  // 4-5: words split at whitespace, punctuation split off, WordPiece on each part.
  std::vector<int32_t> out;
  size_t i = 0;
  const size_t n = normalized.size();
  while (i < n) {
    const char32_t c = normalized[i];
    if (is_whitespace(c)) {
      ++i;
      continue;
    }
    if (is_punctuation(c)) {
      impl_->word_piece(normalized, i, i + 1, &out, pieces);
      ++i;
      continue;
    }
    size_t end = i;
    while (end < n && !is_whitespace(normalized[end]) && !is_punctuation(normalized[end])) ++end;
    impl_->word_piece(normalized, i, end, &out, pieces);
    i = end;
  }
  return out;
}

Result<Encoding> Tokenizer::encode(std::string_view text, size_t max_length) const {
  if (max_length < 2) return invalid_argument(cat("max_length ", max_length, " leaves no room for [CLS] and [SEP]"));
  ENCORE_ASSIGN_OR_RETURN(std::vector<int32_t> a, tokenize(text));
  Encoding e;
  if (a.size() > max_length - 2) {
    a.resize(max_length - 2);
    e.truncated = true;
  }
  impl_->push(impl_->cls, 0, &e);
  for (int32_t id : a) impl_->push(id, 0, &e);
  impl_->push(impl_->sep, 0, &e);
  return e;
}

Result<Encoding> Tokenizer::encode_pair(std::string_view first, std::string_view second, size_t max_length) const {
  if (max_length < 3) return invalid_argument(cat("max_length ", max_length, " leaves no room for [CLS] and two [SEP]"));
  ENCORE_ASSIGN_OR_RETURN(std::vector<int32_t> a, tokenize(first));
  ENCORE_ASSIGN_OR_RETURN(std::vector<int32_t> b, tokenize(second));
  Encoding e;
  while (a.size() + b.size() > max_length - 3) {
    (a.size() > b.size() ? a : b).pop_back();
    e.truncated = true;
  }
  impl_->push(impl_->cls, 0, &e);
  for (int32_t id : a) impl_->push(id, 0, &e);
  impl_->push(impl_->sep, 0, &e);
  for (int32_t id : b) impl_->push(id, 1, &e);
  impl_->push(impl_->sep, 1, &e);
  return e;
}

int32_t Tokenizer::cls_id() const { return impl_->cls; }
int32_t Tokenizer::sep_id() const { return impl_->sep; }
int32_t Tokenizer::unk_id() const { return impl_->unk; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }

}  // namespace encore
