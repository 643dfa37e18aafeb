// The aligned string of the tokenizer pipeline, its Unicode predicates and the PCRE2 wrapper.
// Ports of tokenizers/src/tokenizer/{normalizer.rs, pattern.rs}; see pipeline.h.
#include <utf8proc.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "core/str.h"
#include "tokenizer/pipeline.h"

#ifdef ENCORE_HAVE_PCRE2
#include <pcre2.h>
#endif

namespace encore::tok {

[[noreturn]] void fail(StatusCode code, std::string message) {
  throw BuildError{Status(code, "tokenizer.json: " + std::move(message))};
}

// ---- Unicode -------------------------------------------------------------------------------

char32_t decode_utf8(const char* p, size_t* len) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  if (u[0] < 0x80) {
    *len = 1;
    return u[0];
  }
  if (u[0] < 0xE0) {
    *len = 2;
    return (char32_t(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
  }
  if (u[0] < 0xF0) {
    *len = 3;
    return (char32_t(u[0] & 0x0F) << 12) | (char32_t(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
  }
  *len = 4;
  return (char32_t(u[0] & 0x07) << 18) | (char32_t(u[1] & 0x3F) << 12) | (char32_t(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
}

size_t utf8_size(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

void append_utf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    if (*p < 0x80) {
      ++p;
      --left;
      continue;
    }
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0 || c < 0) return false;
    p += n;
    left -= n;
  }
  return true;
}

namespace {
utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }
}  // namespace

bool is_white_space(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 9 && c <= 13);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_punctuation(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
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

bool is_other(char32_t c) {
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

bool is_numeric(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

bool is_mark_nonspacing(char32_t c) { return c >= 0x300 && category(c) == UTF8PROC_CATEGORY_MN; }

bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  switch (category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      // Join_Control, and the Other_Alphabetic symbols (circled / squared Latin letters).
      return c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
             (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189);
  }
}

void to_lowercase(char32_t c, char32_t out[3], int* n) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    *n = 1;
    return;
  }
  if (c == 0x130) {  // the one multi-character lowercase mapping (SpecialCasing.txt)
    out[0] = 'i';
    out[1] = 0x307;
    *n = 2;
    return;
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  *n = 1;
}

void grapheme_boundaries(std::string_view s, std::vector<uint32_t>* out) {
  out->clear();
  out->push_back(0);
  utf8proc_int32_t state = 0;
  char32_t prev = 0;
  size_t i = 0;
  bool first = true;
  while (i < s.size()) {
    size_t len = 0;
    const char32_t c = decode_utf8(s.data() + i, &len);
    if (!first && utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                                   static_cast<utf8proc_int32_t>(c), &state)) {
      out->push_back(static_cast<uint32_t>(i));
    }
    first = false;
    prev = c;
    i += len;
  }
  if (!s.empty()) out->push_back(static_cast<uint32_t>(s.size()));
}

// ---- NormalizedString ----------------------------------------------------------------------

NormalizedString NormalizedString::from(std::string_view s) {
  NormalizedString n;
  n.text.assign(s);
  n.align.resize(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t len = utf8_len_of_lead(static_cast<unsigned char>(s[i]));
    for (size_t k = 0; k < len; ++k) n.align[i + k] = {static_cast<uint32_t>(i), static_cast<uint32_t>(i + len)};
    i += len;
  }
  n.original = {0, static_cast<uint32_t>(s.size())};
  return n;
}

void NormalizedString::transform(const std::vector<CharChange>& dest, size_t initial_offset) {
  std::string new_text;
  std::vector<Offsets> new_align;
  new_text.reserve(text.size() + 8);
  new_align.reserve(text.size() + 8);
  size_t pos = 0;  // next unconsumed byte of the old text
  auto take_char = [&]() -> size_t {
    if (pos >= text.size()) return 0;
    const size_t len = utf8_len_of_lead(static_cast<unsigned char>(text[pos]));
    pos += len;
    return len;
  };
  for (size_t k = 0; k < initial_offset; ++k) take_char();
  size_t offset = pos;
  for (const auto& d : dest) {
    Offsets a;
    if (d.change > 0) {
      a = offset < 1 ? Offsets{original.first, original.first} : align[offset - 1];
    } else {
      a = offset < align.size() ? align[offset] : (align.empty() ? Offsets{original.first, original.first} : align.back());
    }
    size_t consumed = 0;
    if (d.change <= 0) consumed += take_char();
    if (d.change < 0) {
      for (int32_t k = 0; k < -d.change; ++k) consumed += take_char();
    }
    offset += consumed;
    const size_t before = new_text.size();
    append_utf8(d.c, &new_text);
    new_align.insert(new_align.end(), new_text.size() - before, a);
  }
  text = std::move(new_text);
  align = std::move(new_align);
}

Offsets NormalizedString::to_original(uint32_t begin, uint32_t end) const {
  if (begin >= end || end > align.size()) return {original.first + begin, original.first + begin};
  return {align[begin].first, align[end - 1].second};
}

NormalizedString NormalizedString::slice(uint32_t begin, uint32_t end) const {
  NormalizedString n;
  n.text.assign(text, begin, end - begin);
  n.align.assign(align.begin() + begin, align.begin() + end);
  n.original = to_original(begin, end);
  return n;
}

namespace {

// utf8proc_map for one normalization form; `out` gets the code points.
void unicode_normalize(const char32_t* cps, size_t n, NormalForm form, std::vector<char32_t>* out) {
  std::string utf8;
  for (size_t i = 0; i < n; ++i) append_utf8(cps[i], &utf8);
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::kNfc: options |= UTF8PROC_COMPOSE; break;
    case NormalForm::kNfd: options |= UTF8PROC_DECOMPOSE; break;
    case NormalForm::kNfkc: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalForm::kNfkd: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t* dst = nullptr;
  const utf8proc_ssize_t len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                                            static_cast<utf8proc_ssize_t>(utf8.size()), &dst,
                                            static_cast<utf8proc_option_t>(options));
  out->clear();
  if (len < 0 || dst == nullptr) {  // cannot happen on valid UTF-8; keep the input
    out->assign(cps, cps + n);
    std::free(dst);
    return;
  }
  size_t i = 0;
  const char* p = reinterpret_cast<const char*>(dst);
  while (i < static_cast<size_t>(len)) {
    size_t l = 0;
    out->push_back(decode_utf8(p + i, &l));
    i += l;
  }
  std::free(dst);
}

int combining_class(char32_t c) {
  return c < 0x300 ? 0 : utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

bool is_cjk_ideograph(char32_t c) { return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF); }

}  // namespace

// Normalizes chunk by chunk (a starter and the marks after it; for the composing forms, also a
// following starter that composes with it, such as a Hangul vowel jamo). Within a chunk of n_in
// characters normalized to n_out, output character i takes the alignment of input character
// min(i, n_in - 1): the (char, change) pairs 0.., +1 for extra characters, -k on the last one
// when fewer come out, which is what unicode-normalization-alignments gives for the common
// decompositions and compositions.
void NormalizedString::normalize_unicode(NormalForm form) {
  bool ascii = true;
  for (unsigned char ch : text) {
    if (ch >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return;
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t l = 0;
    cps.push_back(decode_utf8(text.data() + i, &l));
    i += l;
  }
  const bool composing = form == NormalForm::kNfc || form == NormalForm::kNfkc;
  std::vector<CharChange> dest;
  dest.reserve(cps.size() + 8);
  std::vector<char32_t> out, a, b, ab;
  size_t start = 0;
  auto emit = [&](size_t begin, size_t end) {
    const size_t n_in = end - begin;
    if (n_in == 1 && cps[begin] < 0x80) {
      dest.push_back({cps[begin], 0});
      return;
    }
    unicode_normalize(cps.data() + begin, n_in, form, &out);
    const size_t n_out = out.size();
    for (size_t i = 0; i < n_out; ++i) {
      int32_t change = i < n_in ? 0 : 1;
      if (i + 1 == n_out && n_out < n_in) change = -static_cast<int32_t>(n_in - n_out);
      dest.push_back({out[i], change});
    }
    if (n_out == 0 && !dest.empty()) dest.back().change -= static_cast<int32_t>(n_in);
  };
  for (size_t i = 1; i <= cps.size(); ++i) {
    bool boundary = i == cps.size();
    if (!boundary) {
      const char32_t c = cps[i];
      if (combining_class(c) != 0) {
        boundary = false;
      } else if (!composing || c < 0x80 || is_cjk_ideograph(c)) {
        boundary = true;
      } else {
        unicode_normalize(cps.data() + start, i - start, form, &a);
        unicode_normalize(cps.data() + i, 1, form, &b);
        unicode_normalize(cps.data() + start, i - start + 1, form, &ab);
        a.insert(a.end(), b.begin(), b.end());
        boundary = a == ab;
      }
    }
    if (boundary) {
      emit(start, i);
      start = i;
    }
  }
  transform(dest, 0);
}

void NormalizedString::lowercase() {
  bool ascii = true;
  for (unsigned char ch : text) ascii = ascii && ch < 0x80;
  if (ascii) {  // one byte per char either way: the alignments stay
    for (auto& ch : text) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
    }
    return;
  }
  std::vector<CharChange> dest;
  dest.reserve(text.size());
  bool changed = false;
  for (size_t i = 0; i < text.size();) {
    size_t l = 0;
    const char32_t c = decode_utf8(text.data() + i, &l);
    char32_t lc[3];
    int n = 0;
    to_lowercase(c, lc, &n);
    for (int k = 0; k < n; ++k) dest.push_back({lc[k], k > 0 ? 1 : 0});
    changed |= n != 1 || lc[0] != c;
    i += l;
  }
  if (changed) transform(dest, 0);
}

// NormalizedString::prepend: transform_range over the first char with (s[0], 0), (s[1..], +1),
// (first, +1). Every new byte and the first char end up with the first char's alignment, which
// is what this does directly.
void NormalizedString::prepend(std::string_view s) {
  if (text.empty() || s.empty()) return;
  const Offsets a = align[0];
  text.insert(0, s);
  align.insert(align.begin(), s.size(), a);
}

void NormalizedString::lrstrip(bool left, bool right) {
  std::vector<char32_t> cps;
  for (size_t i = 0; i < text.size();) {
    size_t l = 0;
    cps.push_back(decode_utf8(text.data() + i, &l));
    i += l;
  }
  size_t leading = 0, trailing = 0;
  if (left) {
    while (leading < cps.size() && is_white_space(cps[leading])) ++leading;
  }
  if (right) {
    while (trailing < cps.size() - leading && is_white_space(cps[cps.size() - 1 - trailing])) ++trailing;
  }
  if (leading == 0 && trailing == 0) return;
  std::vector<CharChange> dest;
  for (size_t i = leading; i + trailing < cps.size(); ++i) {
    dest.push_back({cps[i], i + 1 + trailing == cps.size() ? -static_cast<int32_t>(trailing) : 0});
  }
  transform(dest, leading);
}

// ---- Splitting -----------------------------------------------------------------------------

SplitBehavior parse_behavior(const Json& j, const std::string& path) {
  if (!j.is_string()) fail_model(path + ": expected a string");
  const auto s = j.get<std::string>();
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  fail_unsupported(cat(path, ": split behavior \"", s, "\" is not supported"));
}

void split_by(const NormalizedString& in, std::vector<Match>& matches, SplitBehavior behavior,
              std::vector<NormalizedString>* out) {
  // (offsets, remove) as in NormalizedString::split.
  std::vector<Match> splits;
  splits.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (auto m : matches) splits.push_back({m.begin, m.end, false});
      break;
    case SplitBehavior::kRemoved:
      splits = matches;
      break;
    case SplitBehavior::kContiguous: {
      bool previous = false;
      for (auto m : matches) {
        if (m.is_match == previous && !splits.empty()) {
          splits.back().end = m.end;
        } else {
          splits.push_back({m.begin, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous = false;
      for (auto m : matches) {
        if (m.is_match && !previous && !splits.empty()) {
          splits.back().end = m.end;
        } else {
          splits.push_back({m.begin, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous = false;
      for (size_t k = matches.size(); k-- > 0;) {
        const auto m = matches[k];
        if (m.is_match && !previous && !splits.empty()) {
          splits.back().begin = m.begin;
        } else {
          splits.push_back({m.begin, m.end, false});
        }
        previous = m.is_match;
      }
      std::reverse(splits.begin(), splits.end());
      break;
    }
  }
  for (const auto& s : splits) {
    if (!s.is_match) out->push_back(in.slice(s.begin, s.end));
  }
}

// ---- Regex ---------------------------------------------------------------------------------

#ifdef ENCORE_HAVE_PCRE2
namespace {
pcre2_code* code_of(void* p) { return static_cast<pcre2_code*>(p); }
}  // namespace

Regex::Regex(const std::string& pattern, const std::string& path) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    fail_model(cat(path, ": regex does not compile at ", error_offset, ": ", reinterpret_cast<const char*>(message)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // the interpreter is used where JIT is not available
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(code_of(code_)); }

namespace {
struct MatchData {
  pcre2_match_data* data = pcre2_match_data_create(32, nullptr);
  ~MatchData() { pcre2_match_data_free(data); }
};
}  // namespace

// Oniguruma's find_iter (rust-onig FindMatches): after an empty match the search resumes one
// character later, and an empty match right where the previous match ended is skipped.
void Regex::find_matches(std::string_view s, std::vector<Match>* out) const {
  out->clear();
  if (s.empty()) {
    out->push_back({0, 0, false});
    return;
  }
  thread_local MatchData md;
  size_t prev = 0, at = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  while (at <= s.size()) {
    const int rc = pcre2_match(code_of(code_), reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), at, PCRE2_NO_UTF_CHECK,
                               md.data, nullptr);
    if (rc < 0 && rc != 0) break;  // no match (or a matching limit: treated as no match)
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.data);
    const size_t b = ov[0], e = ov[1];
    if (b == e && have_last && e == last_match_end) {
      if (at >= s.size()) break;
      at += utf8_len_of_lead(static_cast<unsigned char>(s[at]));
      continue;
    }
    if (prev != b) out->push_back({static_cast<uint32_t>(prev), static_cast<uint32_t>(b), false});
    out->push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e), true});
    prev = e;
    have_last = true;
    last_match_end = e;
    if (b == e) {
      if (e >= s.size()) break;
      at = e + utf8_len_of_lead(static_cast<unsigned char>(s[e]));
    } else {
      at = e;
    }
  }
  if (prev != s.size()) out->push_back({static_cast<uint32_t>(prev), static_cast<uint32_t>(s.size()), false});
}

#else  // no PCRE2 in this build

Regex::Regex(const std::string& pattern, const std::string& path) {
  (void)pattern;
  fail_unsupported(path + ": regex patterns need PCRE2, which this build of encore was made without");
}
Regex::~Regex() = default;
void Regex::find_matches(std::string_view, std::vector<Match>* out) const { out->clear(); }

#endif

std::string regex_escape(std::string_view literal) {
  std::string out;
  for (char ch : literal) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x80 && !std::isalnum(u)) out.push_back('\\');
    out.push_back(ch);
  }
  return out;
}

// ---- Encoding ------------------------------------------------------------------------------

void Encoding::append(Encoding&& o) {
  if (ids.empty()) {
    *this = std::move(o);
    return;
  }
  ids.insert(ids.end(), o.ids.begin(), o.ids.end());
  type_ids.insert(type_ids.end(), o.type_ids.begin(), o.type_ids.end());
  offsets.insert(offsets.end(), o.offsets.begin(), o.offsets.end());
  values.insert(values.end(), std::make_move_iterator(o.values.begin()), std::make_move_iterator(o.values.end()));
  special.insert(special.end(), o.special.begin(), o.special.end());
  sequence.insert(sequence.end(), o.sequence.begin(), o.sequence.end());
  words.insert(words.end(), o.words.begin(), o.words.end());
}

void Encoding::append(const Encoding& o) {
  ids.insert(ids.end(), o.ids.begin(), o.ids.end());
  type_ids.insert(type_ids.end(), o.type_ids.begin(), o.type_ids.end());
  offsets.insert(offsets.end(), o.offsets.begin(), o.offsets.end());
  values.insert(values.end(), o.values.begin(), o.values.end());
  special.insert(special.end(), o.special.begin(), o.special.end());
  sequence.insert(sequence.end(), o.sequence.begin(), o.sequence.end());
  words.insert(words.end(), o.words.begin(), o.words.end());
}

void Encoding::truncate(size_t n, bool from_left) {
  if (n >= ids.size()) return;
  auto cut = [&](auto& v) {
    if (v.empty()) return;
    if (from_left) {
      v.erase(v.begin(), v.end() - static_cast<std::ptrdiff_t>(n));
    } else {
      v.resize(n);
    }
  };
  cut(ids);
  cut(type_ids);
  cut(offsets);
  cut(values);
  cut(special);
  cut(sequence);
  cut(words);
}

}  // namespace encore::tok
