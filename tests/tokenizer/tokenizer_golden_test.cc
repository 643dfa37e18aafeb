// The tokenizer against golden token ids from an independent implementation (the JavaScript
// port of Hugging Face's tokenizers; tools/reference/make_tokenizer_goldens.sh), over ~250
// strings in many scripts, each with a lowercasing and a cased vocabulary.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "encore/tokenizer.h"
#include "io/hf_config.h"

namespace encore {
namespace {

std::unique_ptr<Tokenizer> golden_tokenizer(bool lower) {
  auto vocab = io::read_vocab(std::string(ENCORE_FIXTURES_DIR) + "/tokenizer/vocab_" + (lower ? "uncased" : "cased") + ".txt");
  REQUIRE(vocab.ok());
  TokenizerInfo info;
  info.vocab = std::move(vocab).value();
  info.do_lower_case = lower;
  auto t = Tokenizer::create(info);
  REQUIRE(t.ok());
  return std::move(t).value();
}

TEST_CASE("tokenizer: every golden from the JavaScript tokenizers is reproduced exactly") {
  auto uncased = golden_tokenizer(true);
  auto cased = golden_tokenizer(false);
  std::ifstream in(std::string(ENCORE_FIXTURES_DIR) + "/tokenizer/goldens.jsonl");
  REQUIRE(in.good());
  std::string line;
  int checked = 0, mismatched = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    const bool lower = j.at("lower").get<bool>();
    const std::string text = j.at("text").get<std::string>();
    const auto want = j.at("ids").get<std::vector<int32_t>>();
    std::vector<std::string> pieces;
    auto got = (lower ? uncased : cased)->tokenize(text, &pieces);
    REQUIRE(got.ok());
    ++checked;
    if (*got != want) {
      ++mismatched;
      std::ostringstream g, w;
      for (auto id : *got) g << id << ' ';
      for (auto id : want) w << id << ' ';
      INFO("lower=" << lower << " text=" << nlohmann::json(text).dump() << "\n  got  " << g.str() << "\n  want "
                    << w.str());
      CHECK(*got == want);
    }
  }
  CHECK(checked >= 500);
  CHECK(mismatched == 0);
}

}  // namespace
}  // namespace encore
