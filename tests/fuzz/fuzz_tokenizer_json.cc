// libFuzzer target: bytes as a tokenizer.json for TextTokenizer::create (hostile files must give
// a Status, never a crash, a throw or unbounded memory). Bytes after the first NUL are text to
// encode with the tokenizer when it builds, alone and as a pair; without a NUL a fixed text is used.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "encore/text_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string_view json = all.substr(0, nul);
  const std::string_view text =
      nul == std::string_view::npos ? std::string_view("Hello, World! caf\xc3\xa9 [SEP] <mask> 12 \xe4\xb8\xad") : all.substr(nul + 1);
  auto t = encore::TextTokenizer::create(json);
  if (!t.ok()) return 0;
  encore::TextEncodeOptions o;
  o.want_tokens = true;
  (void)(*t)->encode(text, o);
  o.max_length = 7;
  (void)(*t)->encode_pair(text.substr(0, text.size() / 2), text.substr(text.size() / 2), o);
  o.special_tokens_as_text = true;
  o.add_special_tokens = false;
  (void)(*t)->encode(text, o);
  return 0;
}
