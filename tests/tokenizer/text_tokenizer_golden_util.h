// Golden checks shared by the TextTokenizer tests: reads a goldens_*.jsonl file of
// tests/fixtures/text_tokenizer ({"text", "pair"?, "ids", "type_ids"?} a line) and encodes each
// entry, counting the mismatches (each reported with the text and both id lists).
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "encore/text_tokenizer.h"

namespace encore::text_golden {

inline std::string fixture(const std::string& name) { return std::string(ENCORE_FIXTURES_DIR) + "/text_tokenizer/" + name; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string ids_str(const std::vector<int32_t>& v) {
  std::ostringstream s;
  for (auto x : v) s << x << ' ';
  return s.str();
}

struct GoldenCount {
  int singles = 0, pairs = 0, mismatched = 0;
};

// `check_type_ids`: false where the golden's type ids are a documented JS deviation.
inline GoldenCount check_goldens(const TextTokenizer& t, const std::string& golden_file, bool check_type_ids = true) {
  std::ifstream in(fixture(golden_file));
  REQUIRE_MESSAGE(in.good(), golden_file);
  GoldenCount n;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    const std::string text = j.at("text").get<std::string>();
    const bool pair = j.contains("pair");
    const auto want_ids = j.at("ids").get<std::vector<int32_t>>();
    auto got = pair ? t.encode_pair(text, j.at("pair").get<std::string>()) : t.encode(text);
    REQUIRE_MESSAGE(got.ok(), got.status().to_string());
    (pair ? n.pairs : n.singles)++;
    bool ok = got->ids == want_ids;
    if (check_type_ids && j.contains("type_ids")) ok = ok && got->type_ids == j.at("type_ids").get<std::vector<int32_t>>();
    if (!ok) {
      ++n.mismatched;
      INFO(golden_file << " text=" << nlohmann::json(text).dump() << (pair ? " pair=" + j.at("pair").dump() : "")
                       << "\n  got  " << ids_str(got->ids) << "\n  want " << ids_str(want_ids) << "\n  got types "
                       << ids_str(got->type_ids));
      CHECK(ok);
    }
  }
  return n;
}

}  // namespace encore::text_golden
