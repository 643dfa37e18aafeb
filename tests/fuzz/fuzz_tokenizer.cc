// libFuzzer target: bytes as text for the WordPiece tokenizer (any bytes: invalid UTF-8 must be
// an error, never a crash). The first byte picks the settings; encode and encode_pair run too.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "encore/tokenizer.h"

namespace {
std::unique_ptr<encore::Tokenizer> make(bool lower, bool strip) {
  encore::TokenizerInfo info;
  info.vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "##", "\xC3\xA9", "\xE4\xB8\xAD", "un", "##able"};
  for (char c = 'a'; c <= 'z'; ++c) {
    info.vocab.push_back(std::string(1, c));
    info.vocab.push_back(std::string("##") + c);
  }
  info.do_lower_case = lower;
  info.strip_accents_set = true;
  info.strip_accents = strip;
  return std::move(encore::Tokenizer::create(info)).value();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<encore::Tokenizer> tokenizers[4] = {make(false, false), make(false, true),
                                                                   make(true, false), make(true, true)};
  if (size == 0) return 0;
  const encore::Tokenizer& t = *tokenizers[data[0] & 3];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  (void)t.tokenize(text);
  (void)t.encode(text, 8);
  (void)t.encode_pair(text.substr(0, text.size() / 2), text.substr(text.size() / 2), 7);
  return 0;
}
