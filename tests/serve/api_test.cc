// encore-serve's request parsing (tools/serve/api.h): each shape the routes accept, and for each
// bad body the status and a message naming the field.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "serve/api.h"

namespace encore::serve {
namespace {

using json = nlohmann::json;

RequestLimits limits() {
  RequestLimits l;
  l.max_items = 4;
  l.max_input_tokens = 16;
  return l;
}

// The error parse_body + parse_embed give `body` (nullopt when it parses).
std::optional<ApiError> embed_error(const std::string& body, bool openai, EmbedRequest* out = nullptr) {
  json j;
  if (auto e = parse_body(body, limits(), &j)) return e;
  EmbedRequest r;
  auto e = parse_embed(j, openai, limits(), out ? out : &r);
  return e;
}

void expect_error(const std::optional<ApiError>& e, int status, const std::string& text) {
  REQUIRE(e.has_value());
  CHECK(e->status == status);
  INFO(e->message);
  CHECK(e->message.find(text) != std::string::npos);
  CHECK(e->message.find('\n') == std::string::npos);
}

TEST_CASE("serve api: embedding inputs: a string, strings, one token array, token arrays") {
  EmbedRequest r;
  CHECK_FALSE(embed_error(R"({"input": "hello"})", true, &r));
  CHECK(r.texts == std::vector<std::string>{"hello"});
  CHECK(r.normalize);
  r = {};
  CHECK_FALSE(embed_error(R"({"input": ["a", "b"], "encoding_format": "base64", "dimensions": 3, "model": "x", "user": "u"})", true, &r));
  CHECK(r.texts.size() == 2);
  CHECK(r.base64);
  CHECK(r.dimensions == 3);
  r = {};
  CHECK_FALSE(embed_error(R"({"input": [101, 7, 102]})", true, &r));
  REQUIRE(r.ids.size() == 1);
  CHECK(r.ids[0] == std::vector<int32_t>{101, 7, 102});
  r = {};
  CHECK_FALSE(embed_error(R"({"inputs": [[1, 2], [3]], "normalize": false, "truncate": true, "prompt_name": "query"})", false, &r));
  CHECK(r.ids.size() == 2);
  CHECK_FALSE(r.normalize);
  CHECK(r.truncate);
  CHECK(r.prompt_name == std::optional<std::string>("query"));
}

TEST_CASE("serve api: malformed bodies are 400 with the parser's reason") {
  expect_error(embed_error("", true), 400, "no body");
  expect_error(embed_error("{\"input\": \"a\"", true), 400, "malformed JSON");
  expect_error(embed_error("[1, 2]", true), 400, "must be a JSON object");
  expect_error(embed_error("\"text\"", true), 400, "must be a JSON object");
  // Invalid UTF-8 inside a string, and a lone surrogate escape.
  expect_error(embed_error("{\"input\": \"a\xff\xfe\"}", true), 400, "malformed JSON");
  expect_error(embed_error(R"({"input": "\ud800"})", true), 400, "malformed JSON");
  // Nesting far deeper than any request needs is refused before parsing.
  expect_error(embed_error("{\"input\": " + std::string(100000, '[') + std::string(100000, ']') + "}", true), 400, "nests deeper");
  // Brackets inside strings do not count.
  CHECK_FALSE(embed_error("{\"input\": \"" + std::string(50, '[') + "\"}", true));
}

TEST_CASE("serve api: wrong types and values are 422 naming the field") {
  expect_error(embed_error(R"({"inputs": "a"})", true), 422, "missing \"input\"");
  expect_error(embed_error(R"({"input": 5})", true), 422, "\"input\" must be");
  expect_error(embed_error(R"({"input": {"a": 1}})", true), 422, "\"input\" must be");
  expect_error(embed_error(R"({"input": ["a", 5]})", true), 422, "\"input\"[1]");
  expect_error(embed_error(R"({"input": ["a", [1]]})", true), 422, "either strings or arrays");
  expect_error(embed_error(R"({"input": [[1], "a"]})", true), 422, "\"input\"[1]");
  expect_error(embed_error(R"({"input": [[1, -2]]})", true), 422, "\"input\"[0][1] must be a token id");
  expect_error(embed_error(R"({"input": [1.5]})", true), 422, "must be a token id");
  expect_error(embed_error(R"({"input": [99999999999]})", true), 422, "must be a token id");
  expect_error(embed_error(R"({"input": [[1, "2"]]})", true), 422, "must be a token id");
  expect_error(embed_error(R"({"input": "a", "encoding_format": "int8"})", true), 422, "encoding_format");
  expect_error(embed_error(R"({"input": "a", "encoding_format": 1})", true), 422, "encoding_format");
  expect_error(embed_error(R"({"input": "a", "dimensions": 0})", true), 422, "dimensions");
  expect_error(embed_error(R"({"input": "a", "dimensions": 2.5})", true), 422, "dimensions");
  expect_error(embed_error(R"({"input": "a", "dimensions": "4"})", true), 422, "dimensions");
  expect_error(embed_error(R"({"inputs": "a", "normalize": "yes"})", false), 422, "\"normalize\" must be true or false");
  expect_error(embed_error(R"({"inputs": "a", "truncate": 1})", false), 422, "\"truncate\"");
  expect_error(embed_error(R"({"inputs": "a", "prompt_name": 3})", false), 422, "\"prompt_name\"");
}

TEST_CASE("serve api: empty inputs are 400, too many 413") {
  expect_error(embed_error(R"({"input": ""})", true), 400, "empty string");
  expect_error(embed_error(R"({"input": []})", true), 400, "is empty");
  expect_error(embed_error(R"({"input": ["a", ""]})", true), 400, "\"input\"[1] is an empty string");
  expect_error(embed_error(R"({"input": [[]]})", true), 400, "empty token array");
  expect_error(embed_error(R"({"input": ["a", "b", "c", "d", "e"]})", true), 413, "more than the limit of 4");
  CHECK_FALSE(embed_error(R"({"input": ["a", "b", "c", "d"]})", true));
}

TEST_CASE("serve api: predict takes a text, a pair, or a batch of one kind") {
  auto parse = [](const std::string& body, PredictRequest* r) {
    json j;
    REQUIRE_FALSE(parse_body(body, limits(), &j));
    return parse_predict(j, limits(), r);
  };
  PredictRequest r;
  CHECK_FALSE(parse(R"({"inputs": "a"})", &r));
  CHECK((r.texts.size() == 1 && r.pairs.empty() && !r.batch));
  r = {};
  CHECK_FALSE(parse(R"({"inputs": ["a", "b"], "raw_scores": true})", &r));
  CHECK((r.texts == std::vector<std::string>{"a"} && r.pairs == std::vector<std::string>{"b"} && !r.batch && r.raw_scores));
  r = {};
  CHECK_FALSE(parse(R"({"inputs": [["a"], ["b"]]})", &r));
  CHECK((r.texts.size() == 2 && r.pairs.empty() && r.batch));
  r = {};
  CHECK_FALSE(parse(R"({"inputs": [["a", "x"], ["b", "y"]]})", &r));
  CHECK((r.pairs == std::vector<std::string>{"x", "y"}));
  r = {};
  expect_error(parse(R"({"inputs": [["a"], ["b", "y"]]})", &r), 422, "mixes single texts and pairs");
  r = {};
  expect_error(parse(R"({"inputs": [["a", "x"], ["b"]]})", &r), 422, "mixes single texts and pairs");
  r = {};
  expect_error(parse(R"({"inputs": ["a", "b", "c"]})", &r), 422, "[text, pair]");
  r = {};
  expect_error(parse(R"({"inputs": [["a"], "b"]})", &r), 422, "\"inputs\"[1]");
  r = {};
  expect_error(parse(R"({"inputs": [[], ["b"]]})", &r), 422, "\"inputs\"[0]");
  r = {};
  expect_error(parse(R"({"inputs": [["a"], ["b"], ["c"], ["d"], ["e"]]})", &r), 413, "limit of 4");
  r = {};
  expect_error(parse(R"({"inputs": 3})", &r), 422, "\"inputs\" must be");
}

TEST_CASE("serve api: rerank and tokenize fields") {
  json j;
  RerankRequest r;
  REQUIRE_FALSE(parse_body(R"({"query": "q", "texts": ["a", "b"], "return_text": true})", limits(), &j));
  CHECK_FALSE(parse_rerank(j, limits(), &r));
  CHECK((r.query == "q" && r.texts.size() == 2 && r.return_text && !r.raw_scores));
  for (const auto& [body, status, text] : std::vector<std::tuple<std::string, int, std::string>>{
           {R"({"texts": ["a"]})", 422, "missing \"query\""},
           {R"({"query": "", "texts": ["a"]})", 400, "\"query\" is an empty string"},
           {R"({"query": "q"})", 422, "missing \"texts\""},
           {R"({"query": "q", "texts": "a"})", 422, "\"texts\" must be an array"},
           {R"({"query": "q", "texts": []})", 400, "is empty"},
           {R"({"query": "q", "texts": ["a", 1]})", 422, "\"texts\"[1]"},
           {R"({"query": "q", "texts": ["a", "b", "c", "d", "e"]})", 413, "limit of 4"},
       }) {
    RerankRequest bad;
    REQUIRE_FALSE(parse_body(body, limits(), &j));
    expect_error(parse_rerank(j, limits(), &bad), status, text);
  }
  TokenizeRequest t;
  REQUIRE_FALSE(parse_body(R"({"inputs": ["a", "b"], "add_special_tokens": false})", limits(), &j));
  CHECK_FALSE(parse_tokenize(j, limits(), &t));
  CHECK((t.texts.size() == 2 && !t.add_special_tokens));
  REQUIRE_FALSE(parse_body(R"({"inputs": [1]})", limits(), &j));
  TokenizeRequest bad;
  expect_error(parse_tokenize(j, limits(), &bad), 422, "\"inputs\"[0] must be a string");
}

TEST_CASE("serve api: error bodies in OpenAI's and TEI's shapes") {
  const json openai = json::parse(error_body({429, "queue full", "Overloaded"}, true));
  CHECK(openai["error"]["message"] == "queue full");
  CHECK(openai["error"]["type"] == "rate_limit_error");
  CHECK(openai["error"]["code"] == 429);
  const json tei = json::parse(error_body({422, "bad \xff", "Validation"}, false));
  CHECK(tei["error"] == "bad \xEF\xBF\xBD");  // invalid UTF-8 replaced, not thrown
  CHECK(tei["error_type"] == "Validation");
}

TEST_CASE("serve api: base64 of float32, little-endian") {
  // 1.0f = 00 00 80 3f; 2.0f = 00 00 00 40; -0.5f = 00 00 00 bf (RFC 4648 by hand).
  CHECK(base64_floats({1.0f}) == "AACAPw==");
  CHECK(base64_floats({1.0f, 2.0f}) == "AACAPwAAAEA=");
  CHECK(base64_floats({1.0f, 2.0f, -0.5f}) == "AACAPwAAAEAAAAC/");
  CHECK(base64_floats({}).empty());
}

}  // namespace
}  // namespace encore::serve
