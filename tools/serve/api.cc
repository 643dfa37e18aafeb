#include "serve/api.h"

#include <cstring>
#include <limits>

#include "core/str.h"

namespace encore::serve {
namespace {

using json = nlohmann::json;

ApiError validation(std::string message) { return {422, std::move(message), "Validation"}; }
ApiError empty(std::string message) { return {400, std::move(message), "Empty"}; }

// The deepest nesting of arrays and objects in `body` (strings skipped), without parsing it: a
// body nested thousands deep is refused before the parser or the destructor of its value
// recurse through it.
int nesting_depth(const std::string& body) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

const char* type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a fraction";
    default: return "a number";
  }
}

std::optional<ApiError> read_bool(const json& body, const char* field, bool* out) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return validation(cat("\"", field, "\" must be true or false, not ", type_name(*it)));
  *out = it->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> read_string(const json& body, const char* field, std::optional<std::string>* out) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return validation(cat("\"", field, "\" must be a string, not ", type_name(*it)));
  *out = it->get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> check_count(const char* field, size_t n, const RequestLimits& limits) {
  if (n == 0) return empty(cat("\"", field, "\" is empty; give at least one input"));
  if (n > limits.max_items) {
    return ApiError{413, cat("\"", field, "\" has ", n, " inputs, more than the limit of ", limits.max_items, " (--max-items)"),
                    "Validation"};
  }
  return std::nullopt;
}

// A text input: a non-empty string. `where`: "input[3]".
std::optional<ApiError> read_text(const json& j, const std::string& where, std::string* out) {
  if (!j.is_string()) return validation(cat(where, " must be a string, not ", type_name(j)));
  *out = j.get<std::string>();
  if (out->empty()) return empty(cat(where, " is an empty string"));
  return std::nullopt;
}

// A token-id input: a non-empty array of integers in [0, 2^31).
std::optional<ApiError> read_ids(const json& j, const std::string& where, std::vector<int32_t>* out) {
  if (j.empty()) return empty(cat(where, " is an empty token array"));
  out->reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const json& v = j[i];
    const bool valid = v.is_number_integer() && (v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t{INT32_MAX}
                                                                         : v.get<int64_t>() >= 0 && v.get<int64_t>() <= INT32_MAX);
    if (!valid) {
      return validation(cat(where, "[", i, "] must be a token id (an integer from 0), not ",
                            v.is_number() ? v.dump() : std::string(type_name(v))));
    }
    out->push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return std::nullopt;
}

bool is_id_array(const json& j) { return j.is_array() && !j.empty() && j[0].is_number(); }

}  // namespace

std::optional<ApiError> parse_body(const std::string& body, const RequestLimits& limits, json* out) {
  if (body.empty()) return ApiError{400, "the request has no body; send a JSON object", "Validation"};
  if (nesting_depth(body) > limits.max_json_depth) {
    return ApiError{400, cat("the JSON body nests deeper than ", limits.max_json_depth, " levels"), "Validation"};
  }
  try {
    *out = json::parse(body);
  } catch (const json::exception& e) {
    std::string what = e.what();
    if (const size_t p = what.find("] "); what[0] == '[' && p != std::string::npos) what.erase(0, p + 2);
    return ApiError{400, cat("malformed JSON: ", what), "Validation"};
  }
  if (!out->is_object()) return ApiError{400, cat("the body must be a JSON object, not ", type_name(*out)), "Validation"};
  return std::nullopt;
}

std::optional<ApiError> parse_embed(const json& body, bool openai, const RequestLimits& limits, EmbedRequest* out) {
  const char* field = openai ? "input" : "inputs";
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) return ApiError{422, cat("missing \"", field, "\""), "Validation"};
  const json& input = *it;
  const std::string name = cat("\"", field, "\"");
  if (input.is_string()) {
    out->texts.emplace_back();
    if (auto e = read_text(input, name, &out->texts.back())) return e;
  } else if (is_id_array(input)) {
    out->ids.emplace_back();
    if (auto e = read_ids(input, name, &out->ids.back())) return e;
  } else if (input.is_array()) {
    if (auto e = check_count(field, input.size(), limits)) return e;
    const bool texts = input[0].is_string();
    for (size_t i = 0; i < input.size(); ++i) {
      const std::string where = cat(name, "[", i, "]");
      if (texts != input[i].is_string()) {
        return validation(cat(where, " is ", type_name(input[i]), " after ", texts ? "strings" : "token arrays",
                              "; send either strings or arrays of token ids"));
      }
      if (texts) {
        out->texts.emplace_back();
        if (auto e = read_text(input[i], where, &out->texts.back())) return e;
      } else {
        if (!input[i].is_array()) return validation(cat(where, " must be a string or an array of token ids, not ", type_name(input[i])));
        out->ids.emplace_back();
        if (auto e = read_ids(input[i], where, &out->ids.back())) return e;
      }
    }
  } else {
    return validation(cat(name, " must be a string, an array of strings or of token-id arrays, not ", type_name(input)));
  }
  if (auto e = read_bool(body, "truncate", &out->truncate)) return e;
  if (const auto d = body.find("dimensions"); d != body.end() && !d->is_null()) {
    if (!d->is_number_integer() || d->get<int64_t>() < 1 || (d->is_number_unsigned() && d->get<uint64_t>() > INT32_MAX)) {
      return validation(cat("\"dimensions\" must be a positive integer, not ", d->dump()));
    }
    out->dimensions = d->get<int64_t>();
  }
  if (openai) {
    out->normalize = true;  // OpenAI's embeddings have unit length
    std::optional<std::string> format;
    if (auto e = read_string(body, "encoding_format", &format)) return e;
    if (format && *format != "float" && *format != "base64") {
      return validation(cat("\"encoding_format\" must be \"float\" or \"base64\", not \"", *format, "\""));
    }
    out->base64 = format && *format == "base64";
  } else {
    if (auto e = read_bool(body, "normalize", &out->normalize)) return e;
    if (auto e = read_string(body, "prompt_name", &out->prompt_name)) return e;
  }
  return std::nullopt;
}

std::optional<ApiError> parse_predict(const json& body, const RequestLimits& limits, PredictRequest* out) {
  const auto it = body.find("inputs");
  if (it == body.end() || it->is_null()) return ApiError{422, "missing \"inputs\"", "Validation"};
  const json& input = *it;
  // A string; a pair ["a", "b"]; or a batch of [text] and [text, pair] lists (TEI's PredictInput).
  auto add = [&](const json& j, const std::string& where) -> std::optional<ApiError> {
    if (j.is_string()) {
      out->texts.emplace_back();
      return read_text(j, where, &out->texts.back());
    }
    if (!j.is_array() || j.empty() || j.size() > 2) {
      return validation(cat(where, " must be a string, [text] or [text, pair], not ", j.is_array() ? cat("an array of ", j.size()) : type_name(j)));
    }
    out->texts.emplace_back();
    if (auto e = read_text(j[0], cat(where, "[0]"), &out->texts.back())) return e;
    if (j.size() == 2) {
      out->pairs.resize(out->texts.size());
      if (auto e = read_text(j[1], cat(where, "[1]"), &out->pairs.back())) return e;
    }
    return std::nullopt;
  };
  if (input.is_string()) {
    if (auto e = add(input, "\"inputs\"")) return e;
  } else if (input.is_array() && !input.empty() && input[0].is_string()) {
    if (auto e = add(input, "\"inputs\"")) return e;  // one text, or one pair
  } else if (input.is_array()) {
    if (auto e = check_count("inputs", input.size(), limits)) return e;
    out->batch = true;
    for (size_t i = 0; i < input.size(); ++i) {
      if (!input[i].is_array()) return validation(cat("\"inputs\"[", i, "] must be [text] or [text, pair] in a batch, not ", type_name(input[i])));
      if (auto e = add(input[i], cat("\"inputs\"[", i, "]"))) return e;
    }
  } else {
    return validation(cat("\"inputs\" must be a string, a pair of strings or a list of them, not ", type_name(input)));
  }
  // A batch mixing single texts and pairs would need two runs per batch; every input then
  // comes as a pair or none does.
  if (!out->pairs.empty() && out->pairs.size() != out->texts.size()) {
    return validation("\"inputs\" mixes single texts and pairs; send one kind per request");
  }
  if (!out->pairs.empty()) {
    for (size_t i = 0; i < out->pairs.size(); ++i) {
      if (out->pairs[i].empty()) return validation(cat("\"inputs\"[", i, "] mixes single texts and pairs; send one kind per request"));
    }
  }
  if (auto e = read_bool(body, "raw_scores", &out->raw_scores)) return e;
  return read_bool(body, "truncate", &out->truncate);
}

std::optional<ApiError> parse_rerank(const json& body, const RequestLimits& limits, RerankRequest* out) {
  const auto q = body.find("query");
  if (q == body.end() || q->is_null()) return ApiError{422, "missing \"query\"", "Validation"};
  if (auto e = read_text(*q, "\"query\"", &out->query)) return e;
  const auto t = body.find("texts");
  if (t == body.end() || t->is_null()) return ApiError{422, "missing \"texts\"", "Validation"};
  if (!t->is_array()) return validation(cat("\"texts\" must be an array of strings, not ", type_name(*t)));
  if (auto e = check_count("texts", t->size(), limits)) return e;
  out->texts.resize(t->size());
  for (size_t i = 0; i < t->size(); ++i) {
    if (auto e = read_text((*t)[i], cat("\"texts\"[", i, "]"), &out->texts[i])) return e;
  }
  if (auto e = read_bool(body, "raw_scores", &out->raw_scores)) return e;
  if (auto e = read_bool(body, "return_text", &out->return_text)) return e;
  return read_bool(body, "truncate", &out->truncate);
}

std::optional<ApiError> parse_tokenize(const json& body, const RequestLimits& limits, TokenizeRequest* out) {
  const auto it = body.find("inputs");
  if (it == body.end() || it->is_null()) return ApiError{422, "missing \"inputs\"", "Validation"};
  if (it->is_string()) {
    out->texts.emplace_back();
    if (auto e = read_text(*it, "\"inputs\"", &out->texts.back())) return e;
  } else if (it->is_array()) {
    if (auto e = check_count("inputs", it->size(), limits)) return e;
    out->texts.resize(it->size());
    for (size_t i = 0; i < it->size(); ++i) {
      if (auto e = read_text((*it)[i], cat("\"inputs\"[", i, "]"), &out->texts[i])) return e;
    }
  } else {
    return validation(cat("\"inputs\" must be a string or an array of strings, not ", type_name(*it)));
  }
  if (auto e = read_bool(body, "add_special_tokens", &out->add_special_tokens)) return e;
  return read_string(body, "prompt_name", &out->prompt_name);
}

std::string error_body(const ApiError& e, bool openai) {
  json j;
  if (openai) {
    // OpenAI's types: invalid_request_error for what the client sent, the rest server-side.
    const char* type = e.status == 429 ? "rate_limit_error" : e.status < 500 ? "invalid_request_error" : "server_error";
    j["error"] = {{"message", e.message}, {"type", type}, {"param", nullptr}, {"code", e.status}};
  } else {
    j = {{"error", e.message}, {"error_type", e.type}};
  }
  return dump(j);
}

std::string base64_floats(const std::vector<float>& values) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits = 0;
    std::memcpy(&bits, &values[i], 4);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<char>((bits >> (8 * b)) & 0xff);  // little-endian
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 0x3f] : '=';
  }
  return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace encore::serve
