// libFuzzer targets, one per tokenizer model kind: bytes as text through a fixed tokenizer.json
// (WordPiece, byte-level BPE or SentencePiece Unigram, the fixtures trained here), so the fuzzer
// spends its time in that pipeline's normalizers, pre-tokenizers, model and post-processor
// rather than in the JSON reader. The first byte picks options (pair or not, truncation
// strategy and length, special tokens as text); a NUL splits the rest into a pair. Any input
// must give a Status, never a crash, a throw or an offset outside its text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "encore/text_tokenizer.h"

#ifndef ENCORE_FUZZ_TOKENIZER
#error "define ENCORE_FUZZ_TOKENIZER as the tokenizer.json to fuzz"
#endif

namespace {

const encore::TextTokenizer& tokenizer() {
  static const auto t = [] {
    std::ifstream in(ENCORE_FUZZ_TOKENIZER, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto r = encore::TextTokenizer::create(ss.str());
    if (!r.ok()) std::abort();  // the fixture itself must load
    return std::move(r).value();
  }();
  return *t;
}

void check_offsets(const encore::TextEncoding& e, std::string_view a, std::string_view b) {
  for (size_t i = 0; i < e.offsets.size(); ++i) {
    const size_t limit = i < e.sequence_ids.size() && e.sequence_ids[i] == 1 ? b.size() : a.size();
    if (e.offsets[i].begin > e.offsets[i].end || e.offsets[i].end > limit) std::abort();
  }
  if (e.ids.size() != e.offsets.size() || e.ids.size() != e.type_ids.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
  encore::TextEncodeOptions o;
  o.want_tokens = (flags & 1) != 0;
  o.special_tokens_as_text = (flags & 2) != 0;
  o.add_special_tokens = (flags & 4) == 0;
  o.max_length = (flags & 8) ? 4 + (flags >> 5) : 0;
  o.strategy = (flags & 16) ? encore::TruncationStrategy::kOnlyFirst : encore::TruncationStrategy::kLongestFirst;
  const size_t nul = all.find('\0');
  if (nul == std::string_view::npos) {
    auto e = tokenizer().encode(all, o);
    if (e.ok()) check_offsets(*e, all, {});
  } else {
    const std::string_view a = all.substr(0, nul), b = all.substr(nul + 1);
    auto e = tokenizer().encode_pair(a, b, o);
    if (e.ok()) check_offsets(*e, a, b);
  }
  return 0;
}
