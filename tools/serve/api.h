// encore-serve's HTTP API: request bodies parsed and checked before anything is queued, and the
// errors a client gets back.
//
// The request shapes are those of OpenAI's embeddings API (POST /v1/embeddings) and of Hugging
// Face's text-embeddings-inference (TEI: /embed, /predict, /rerank, /tokenize), so their clients
// work unchanged. Everything here is pure (no model, no I/O): a body either becomes a typed
// request or an ApiError naming the field and the limit, never an exception.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace encore::serve {

// An error answered to the client: HTTP status, one line, and TEI's error_type
// ("Validation", "Empty", "Tokenizer", "Overloaded", "Backend", "Unhealthy").
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "Validation";
};

// What a request may ask for; encore-serve's command line sets them (see --help).
struct RequestLimits {
  size_t max_items = 256;       // inputs per request (texts, token arrays, rerank texts)
  size_t max_input_tokens = 0;  // tokens per input, special tokens included
  int max_json_depth = 8;       // nesting of arrays / objects in a body
};

// POST /v1/embeddings and POST /embed.
struct EmbedRequest {
  std::vector<std::string> texts;          // text inputs, or
  std::vector<std::vector<int32_t>> ids;   // token-id inputs (run as given: no special tokens added)
  bool normalize = true;                   // /embed's "normalize"; always true for OpenAI's route
  int64_t dimensions = 0;                  // Matryoshka: keep the first N values (0: all)
  bool truncate = false;                   // cut inputs over max_input_tokens instead of refusing
  bool base64 = false;                     // OpenAI's encoding_format "base64"
  std::optional<std::string> prompt_name;  // /embed: a sentence-transformers prompt
  size_t count() const { return texts.empty() ? ids.size() : texts.size(); }
};

// POST /predict: single texts or (text, pair) pairs; `pairs` is empty or one per text.
struct PredictRequest {
  std::vector<std::string> texts;
  std::vector<std::string> pairs;
  bool batch = false;  // the input was a list (the answer is then a list of lists)
  bool raw_scores = false;
  bool truncate = false;
};

// POST /rerank: the query paired with each text through a cross-encoder.
struct RerankRequest {
  std::string query;
  std::vector<std::string> texts;
  bool raw_scores = false;
  bool return_text = false;
  bool truncate = false;
};

// POST /tokenize.
struct TokenizeRequest {
  std::vector<std::string> texts;
  bool add_special_tokens = true;
  std::optional<std::string> prompt_name;
};

// The body as JSON: 400 for malformed JSON (invalid UTF-8 included), nesting deeper than
// limits.max_json_depth, or anything but an object at the top.
std::optional<ApiError> parse_body(const std::string& body, const RequestLimits& limits, nlohmann::json* out);

// Each reads its fields from a parsed body: 422 for a wrong type or value, 400 for an empty
// input, 413 for more than limits.max_items inputs. Unknown fields are ignored (as OpenAI and
// TEI do). `openai`: the OpenAI route (field "input"; "encoding_format", "dimensions").
std::optional<ApiError> parse_embed(const nlohmann::json& body, bool openai, const RequestLimits& limits,
                                    EmbedRequest* out);
std::optional<ApiError> parse_predict(const nlohmann::json& body, const RequestLimits& limits, PredictRequest* out);
std::optional<ApiError> parse_rerank(const nlohmann::json& body, const RequestLimits& limits, RerankRequest* out);
std::optional<ApiError> parse_tokenize(const nlohmann::json& body, const RequestLimits& limits, TokenizeRequest* out);

// Error bodies: OpenAI's {"error": {"message", "type", "param", "code"}} on /v1/ routes, TEI's
// {"error", "error_type"} elsewhere.
std::string error_body(const ApiError& e, bool openai);

// The little-endian float32 bytes of `values`, base64 (OpenAI's encoding_format "base64").
std::string base64_floats(const std::vector<float>& values);

// JSON text that never throws: invalid UTF-8 in strings is replaced (U+FFFD).
std::string dump(const nlohmann::json& j);

}  // namespace encore::serve
