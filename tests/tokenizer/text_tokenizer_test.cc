// TextTokenizer (tokenizer.json pipeline): hand-checked cases and error handling.
#include <doctest/doctest.h>

#include "encore/text_tokenizer.h"

namespace encore {
namespace {

TEST_CASE("text tokenizer: malformed JSON is a one-line error") {
  auto t = TextTokenizer::create("{");
  REQUIRE(!t.ok());
  CHECK(t.status().message().find('\n') == std::string::npos);
}

}  // namespace
}  // namespace encore
