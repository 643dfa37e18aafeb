#include "serve/server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/str.h"
#include "encore/model.h"
#include "encore/text.h"
#include "encore/text_tokenizer.h"
#include "serve/api.h"
#include "serve/batcher.h"
#include "serve/metrics.h"
#include "serve/model_runner.h"

namespace encore::serve {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

// The longest text the model's tokenizer runs: its positions, tokenizer_config.json's
// model_max_length and a sentence-transformers max_seq_length, whichever is least (as
// TextEncoder truncates).
size_t model_token_limit(const Model& model) {
  const EncoderConfig& c = model.config();
  size_t limit = static_cast<size_t>(std::max(c.max_sequence_length(), 0));
  const int64_t tokenizer_limit = model.tokenizer().model_max_length;
  if (tokenizer_limit > 0 && static_cast<uint64_t>(tokenizer_limit) < limit) limit = static_cast<size_t>(tokenizer_limit);
  if (c.sentence.max_seq_length > 0) limit = std::min(limit, static_cast<size_t>(c.sentence.max_seq_length));
  return limit;
}

// Unit L2 length, with encore-run's arithmetic (--normalize, --dimensions): the sum of squares
// in double, each value divided in double.
void normalize(std::vector<float>& v) {
  double squares = 0.0;
  for (float x : v) squares += double(x) * x;
  const double norm = std::max(std::sqrt(squares), 1e-12);
  for (float& x : v) x = static_cast<float>(x / norm);
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

struct Server::Impl {
  ServeOptions options;
  std::shared_ptr<const Model> model;
  std::unique_ptr<TextTokenizer> tokenizer;  // counts tokens in the HTTP threads (thread-safe)
  Pooling pooling = Pooling::kCls;
  size_t model_limit = 0;      // tokens the model takes per input
  size_t embedding_width = 0;  // what the embedding routes return before any Matryoshka cut
  RequestLimits limits;
  Metrics metrics;
  std::unique_ptr<BatchQueue> queue;
  httplib::Server http;
  std::atomic<bool> stopping{false}, served{false};

  // A handled request: the status and body to send, and the tokens it ran.
  struct Answer {
    int status = 200;
    std::string body;
    uint64_t tokens = 0;
  };
  static Answer fail(const ApiError& e, bool openai) { return {e.status, error_body(e, openai), 0}; }

  void routes();
  void post(const std::string& route, bool openai, std::function<Answer(const json&)> handle);

  std::optional<ApiError> embed_capable() const;
  std::optional<ApiError> classify_capable(bool rerank) const;
  std::optional<ApiError> prompt(const std::optional<std::string>& name, std::string* out) const;
  std::optional<ApiError> count_texts(const std::vector<std::string>& texts, const std::vector<std::string>* pairs,
                                      const std::string& prompt, bool truncate, const std::string& field,
                                      std::vector<Input>* inputs) const;
  std::optional<ApiError> check_ids(const std::vector<std::vector<int32_t>>& ids, bool truncate, const std::string& field,
                                    std::vector<Input>* inputs) const;
  // Queues `inputs` as one job and waits for it: an error for a full queue (429), a closed one
  // (503), the timeout (504) or a failed run (500).
  std::optional<ApiError> run(Task task, std::vector<Input> inputs, std::vector<Output>* outputs);

  Answer embed(const json& body, bool openai);
  Answer predict(const json& body);
  Answer rerank(const json& body);
  Answer tokenize(const json& body);
  json info() const;
};

std::optional<ApiError> Server::Impl::embed_capable() const {
  const EncoderConfig& c = model->config();
  if (c.head != HeadKind::kPooled) {
    return ApiError{424, cat("the model has a ", head_kind_name(c.head), " head; the embedding routes need an encoder without one"),
                    "Backend"};
  }
  if (c.has_classifier()) {
    return ApiError{424, cat("the model is a classifier (", c.labels.size(), c.labels.size() == 1 ? " score" : " labels",
                             "); use /predict", c.labels.size() == 1 ? " or /rerank" : "", " (embeddings need an encoder without a classifier head)"),
                    "Backend"};
  }
  return std::nullopt;
}

std::optional<ApiError> Server::Impl::classify_capable(bool rerank) const {
  const EncoderConfig& c = model->config();
  if (!c.has_classifier()) {
    return ApiError{424, cat("the model has no sequence classifier head (", c.head == HeadKind::kPooled ? "it embeds: use /embed or /v1/embeddings" : cat("it has a ", head_kind_name(c.head), " head"), ")"),
                    "Backend"};
  }
  if (rerank && c.labels.size() != 1) {
    return ApiError{424, cat("/rerank needs a cross-encoder (a classifier with one score); the model has ", c.labels.size(), " labels: use /predict"),
                    "Backend"};
  }
  return std::nullopt;
}

// The text prepended to each input: a named sentence-transformers prompt, else the model's
// default prompt, else none (as encore-run --prompt).
std::optional<ApiError> Server::Impl::prompt(const std::optional<std::string>& name, std::string* out) const {
  const SentenceEmbeddingConfig& s = model->config().sentence;
  out->clear();
  if (name) {
    if (const std::string* text = s.prompt(*name)) {
      *out = *text;
      return std::nullopt;
    }
    std::string names;
    for (const auto& p : s.prompts) names += (names.empty() ? "" : ", ") + p.first;
    return ApiError{422, cat("\"prompt_name\" \"", *name, "\" is not one of the model's prompts (", names.empty() ? "it has none" : names, ")"),
                    "Validation"};
  }
  if (model->config().has_sentence_embedding() && !s.default_prompt_name.empty()) *out = *s.prompt(s.default_prompt_name);
  return std::nullopt;
}

std::optional<ApiError> Server::Impl::count_texts(const std::vector<std::string>& texts, const std::vector<std::string>* pairs,
                                                  const std::string& prompt, bool truncate, const std::string& field,
                                                  std::vector<Input>* inputs) const {
  TextEncodeOptions o;
  o.max_length = std::numeric_limits<uint32_t>::max();  // count every token; limits are checked below
  inputs->resize(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    Input& in = (*inputs)[i];
    in.text = prompt + texts[i];
    if (pairs) in.pair = (*pairs)[i];
    auto enc = pairs ? tokenizer->encode_pair(in.text, in.pair, o) : tokenizer->encode(in.text, o);
    const std::string where = texts.size() == 1 && !pairs ? field : cat(field, "[", i, "]");
    if (!enc.ok()) return ApiError{422, cat(where, ": ", enc.status().message()), "Tokenizer"};
    in.tokens = enc->ids.size();
    if (in.tokens > limits.max_input_tokens) {
      if (!truncate) {
        return ApiError{422, cat(where, " has ", in.tokens, " tokens, more than the limit of ", limits.max_input_tokens,
                                 " (--max-input-tokens); shorten it or send \"truncate\": true"),
                        "Validation"};
      }
      in.tokens = limits.max_input_tokens;
    }
  }
  return std::nullopt;
}

std::optional<ApiError> Server::Impl::check_ids(const std::vector<std::vector<int32_t>>& ids, bool truncate,
                                                const std::string& field, std::vector<Input>* inputs) const {
  const int32_t vocab = model->config().vocab_size;
  inputs->resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string where = ids.size() == 1 ? field : cat(field, "[", i, "]");
    Input& in = (*inputs)[i];
    in.ids = ids[i];
    for (size_t t = 0; t < in.ids.size(); ++t) {
      if (in.ids[t] >= vocab) {
        return ApiError{422, cat(where, "[", t, "] = ", in.ids[t], " is outside the vocabulary (", vocab, " tokens)"), "Validation"};
      }
    }
    if (in.ids.size() > limits.max_input_tokens) {
      if (!truncate) {
        return ApiError{422, cat(where, " has ", in.ids.size(), " tokens, more than the limit of ", limits.max_input_tokens,
                                 " (--max-input-tokens); shorten it or send \"truncate\": true"),
                        "Validation"};
      }
      in.ids.resize(limits.max_input_tokens);
    }
    in.tokens = in.ids.size();
  }
  return std::nullopt;
}

std::optional<ApiError> Server::Impl::run(Task task, std::vector<Input> inputs, std::vector<Output>* outputs) {
  auto job = std::make_shared<Job>();
  job->task = task;
  job->inputs = std::move(inputs);
  job->arrived = Clock::now();
  job->deadline = job->arrived + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.timeout_seconds));
  switch (queue->submit(job)) {
    case BatchQueue::Admit::kFull:
      return ApiError{429, cat("the queue is full (", options.max_queue, " requests, --max-queue); retry later"), "Overloaded"};
    case BatchQueue::Admit::kClosed:
      return ApiError{503, "the server is shutting down", "Unhealthy"};
    case BatchQueue::Admit::kQueued:
      break;
  }
  if (!queue->wait(*job)) {
    return ApiError{504, cat("the request did not finish within ", options.timeout_seconds, " s (--timeout)"), "Overloaded"};
  }
  if (!job->status.ok()) return ApiError{500, cat("inference failed: ", job->status.message()), "Backend"};
  *outputs = std::move(job->outputs);
  return std::nullopt;
}

Server::Impl::Answer Server::Impl::embed(const json& body, bool openai) {
  if (auto e = embed_capable()) return fail(*e, openai);
  EmbedRequest req;
  if (auto e = parse_embed(body, openai, limits, &req)) return fail(*e, openai);
  if (req.dimensions > static_cast<int64_t>(embedding_width)) {
    return fail({422, cat("\"dimensions\" ", req.dimensions, " is more than the embedding's ", embedding_width), "Validation"}, openai);
  }
  const std::string field = openai ? "\"input\"" : "\"inputs\"";
  std::vector<Input> inputs;
  Task task = Task::kEmbedText;
  if (!req.ids.empty()) {
    if (req.prompt_name) return fail({422, "\"prompt_name\" applies to texts, not token arrays", "Validation"}, openai);
    task = Task::kEmbedIds;
    if (auto e = check_ids(req.ids, req.truncate, field, &inputs)) return fail(*e, openai);
  } else {
    std::string p;
    if (auto e = prompt(req.prompt_name, &p)) return fail(*e, openai);
    if (auto e = count_texts(req.texts, nullptr, p, req.truncate, field, &inputs)) return fail(*e, openai);
  }
  uint64_t tokens = 0;
  for (const Input& in : inputs) tokens += in.tokens;
  std::vector<Output> outputs;
  if (auto e = run(task, std::move(inputs), &outputs)) return fail(*e, openai);
  for (Output& o : outputs) {
    if (req.dimensions > 0) o.values.resize(static_cast<size_t>(req.dimensions));
    if (req.normalize) normalize(o.values);
  }
  if (!openai) {
    json out = json::array();
    for (const Output& o : outputs) out.push_back(o.values);
    return {200, dump(out), tokens};
  }
  ordered_json data = ordered_json::array();
  for (size_t i = 0; i < outputs.size(); ++i) {
    ordered_json e;
    e["object"] = "embedding";
    e["index"] = i;
    if (req.base64) {
      e["embedding"] = base64_floats(outputs[i].values);
    } else {
      e["embedding"] = outputs[i].values;
    }
    data.push_back(std::move(e));
  }
  ordered_json out;
  out["object"] = "list";
  out["data"] = std::move(data);
  out["model"] = options.model_name;
  out["usage"] = {{"prompt_tokens", tokens}, {"total_tokens", tokens}};
  return {200, out.dump(-1, ' ', false, json::error_handler_t::replace), tokens};
}

Server::Impl::Answer Server::Impl::predict(const json& body) {
  if (auto e = classify_capable(false)) return fail(*e, false);
  PredictRequest req;
  if (auto e = parse_predict(body, limits, &req)) return fail(*e, false);
  const bool pairs = !req.pairs.empty();
  std::vector<Input> inputs;
  if (auto e = count_texts(req.texts, pairs ? &req.pairs : nullptr, "", req.truncate, "\"inputs\"", &inputs)) return fail(*e, false);
  uint64_t tokens = 0;
  for (const Input& in : inputs) tokens += in.tokens;
  std::vector<Output> outputs;
  if (auto e = run(pairs ? Task::kClassifyPairs : Task::kClassify, std::move(inputs), &outputs)) return fail(*e, false);
  const auto& labels = model->config().labels;
  json all = json::array();
  for (const Output& o : outputs) {
    const std::vector<float>& scores = req.raw_scores ? o.logits : o.values;
    std::vector<size_t> order(labels.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    json list = json::array();
    for (size_t k : order) list.push_back({{"label", labels[k]}, {"score", scores[k]}});
    all.push_back(std::move(list));
  }
  return {200, dump(req.batch ? all : all[0]), tokens};
}

Server::Impl::Answer Server::Impl::rerank(const json& body) {
  if (auto e = classify_capable(true)) return fail(*e, false);
  RerankRequest req;
  if (auto e = parse_rerank(body, limits, &req)) return fail(*e, false);
  // The query is the first text of every pair, as sentence-transformers' CrossEncoder.rank pairs them.
  std::vector<std::string> queries(req.texts.size(), req.query);
  std::vector<Input> inputs;
  if (auto e = count_texts(queries, &req.texts, "", req.truncate, "\"texts\"", &inputs)) return fail(*e, false);
  uint64_t tokens = 0;
  for (const Input& in : inputs) tokens += in.tokens;
  std::vector<Output> outputs;
  if (auto e = run(Task::kClassifyPairs, std::move(inputs), &outputs)) return fail(*e, false);
  // The score: the sigmoid of the one logit (TEI's and CrossEncoder's default), or the logit.
  std::vector<std::pair<size_t, float>> ranks;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const double logit = outputs[i].logits[0];
    ranks.emplace_back(i, req.raw_scores ? static_cast<float>(logit) : static_cast<float>(1.0 / (1.0 + std::exp(-logit))));
  }
  std::stable_sort(ranks.begin(), ranks.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  json out = json::array();
  for (const auto& [index, score] : ranks) {
    json r = {{"index", index}, {"score", score}};
    if (req.return_text) r["text"] = req.texts[index];
    out.push_back(std::move(r));
  }
  return {200, dump(out), tokens};
}

Server::Impl::Answer Server::Impl::tokenize(const json& body) {
  TokenizeRequest req;
  if (auto e = parse_tokenize(body, limits, &req)) return fail(*e, false);
  std::string p;
  if (auto e = prompt(req.prompt_name, &p)) return fail(*e, false);
  TextEncodeOptions o;
  o.add_special_tokens = req.add_special_tokens;
  o.want_tokens = true;
  o.max_length = std::numeric_limits<uint32_t>::max();
  json all = json::array();
  for (size_t i = 0; i < req.texts.size(); ++i) {
    const std::string text = p + req.texts[i];
    auto enc = tokenizer->encode(text, o);
    if (!enc.ok()) return fail({422, cat("\"inputs\"[", i, "]: ", enc.status().message()), "Tokenizer"}, false);
    json tokens = json::array();
    for (size_t t = 0; t < enc->ids.size(); ++t) {
      const bool special = enc->special_tokens_mask[t] != 0;
      const TokenOffset& off = enc->offsets[t];
      // As TEI: a special token shows its string; a text token the bytes of the text it covers.
      if (special) {
        tokens.push_back({{"id", enc->ids[t]}, {"text", enc->tokens[t]}, {"special", true}, {"start", nullptr}, {"stop", nullptr}});
      } else {
        const size_t b = std::min<size_t>(off.begin, text.size()), e = std::min<size_t>(off.end, text.size());
        tokens.push_back({{"id", enc->ids[t]}, {"text", text.substr(b, e - b)}, {"special", false}, {"start", b}, {"stop", e}});
      }
    }
    all.push_back(std::move(tokens));
  }
  return {200, dump(all), 0};
}

json Server::Impl::info() const {
  const EncoderConfig& c = model->config();
  ordered_json j;
  j["model_id"] = options.model_name;
  j["model_dtype"] = model->is_quantized() ? "int8" : "float32";
  // TEI's model_type: embedding (with its pooling), classifier or reranker (with the labels).
  if (c.has_classifier()) {
    ordered_json id2label, label2id;
    for (size_t k = 0; k < c.labels.size(); ++k) {
      id2label[std::to_string(k)] = c.labels[k];
      label2id[c.labels[k]] = k;
    }
    j["model_type"][c.labels.size() == 1 ? "reranker" : "classifier"] = {{"id2label", id2label}, {"label2id", label2id}};
  } else if (c.head == HeadKind::kPooled) {
    j["model_type"]["embedding"] = {{"pooling", pooling == Pooling::kModel ? "model" : pooling == Pooling::kMean ? "mean" : "cls"}};
  } else {
    j["model_type"] = head_kind_name(c.head);
  }
  j["family"] = family_name(c.family);
  j["head"] = head_kind_name(c.head);
  j["precision"] = model->is_quantized() ? "int8" : "float32";
  j["layers"] = c.layer_count;
  j["hidden_size"] = c.hidden_size;
  j["attention_heads"] = c.head_count;
  j["vocab_size"] = c.vocab_size;
  if (embedding_width > 0 && !c.has_classifier()) j["embedding_dimension"] = embedding_width;
  if (c.has_sentence_embedding()) {
    ordered_json prompts = ordered_json::object();
    for (const auto& [name, text] : c.sentence.prompts) prompts[name] = text;
    j["prompts"] = prompts;
  }
  j["max_concurrent_requests"] = options.max_queue;
  j["max_input_length"] = limits.max_input_tokens;
  j["max_batch_tokens"] = options.max_batch_tokens;
  if (options.max_batch_inputs > 0) j["max_batch_requests"] = options.max_batch_inputs;
  j["max_client_batch_size"] = limits.max_items;
  j["max_body_bytes"] = options.max_body_bytes;
  j["timeout_seconds"] = options.timeout_seconds;
  j["auto_truncate"] = false;
  j["workers"] = options.workers;
  j["threads_per_worker"] = options.threads;
  j["version"] = ENCORE_VERSION;
  return j;
}

void Server::Impl::post(const std::string& route, bool openai, std::function<Answer(const json&)> handle) {
  http.Post(route, [this, route, openai, handle](const httplib::Request& req, httplib::Response& res) {
    const Clock::time_point start = Clock::now();
    Answer a;
    json body;
    if (auto e = parse_body(req.body, limits, &body)) {
      a = fail(*e, openai);
    } else {
      a = handle(body);
    }
    res.status = a.status;
    if (a.status == 429) res.set_header("Retry-After", "1");
    res.set_content(a.body, "application/json");
    metrics.request(route, a.status, seconds_since(start), a.tokens);
  });
}

void Server::Impl::routes() {
  post("/v1/embeddings", true, [this](const json& b) { return embed(b, true); });
  post("/embed", false, [this](const json& b) { return embed(b, false); });
  post("/predict", false, [this](const json& b) { return predict(b); });
  post("/rerank", false, [this](const json& b) { return rerank(b); });
  post("/tokenize", false, [this](const json& b) { return tokenize(b); });
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
    metrics.request("/health", 200, 0, 0);
  });
  http.Get("/info", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(info()), "application/json");
    metrics.request("/info", 200, 0, 0);
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const auto [requests, inputs] = queue->depth();
    metrics.set_queue_depth(requests, inputs);
    res.set_content(metrics.text(), "text/plain; version=0.0.4");
  });
  // Errors httplib answers itself (unknown route, body over the limit, bad request line) get a
  // JSON body too; an exception escaping a handler is a 500, never a crash.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message;
    if (res.status == 404) {
      message = cat("no route ", req.method, " ", req.path,
                    " (POST /v1/embeddings /embed /predict /rerank /tokenize; GET /health /info /metrics)");
    } else if (res.status == 413) {
      message = "the request body is larger than the limit (--max-body-bytes)";
    } else {
      message = cat("HTTP ", res.status);
    }
    res.set_content(error_body({res.status, message, "Validation"}, req.path.rfind("/v1/", 0) == 0), "application/json");
  });
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(error_body({500, cat("internal error: ", what), "Backend"}, req.path.rfind("/v1/", 0) == 0), "application/json");
  });
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(const std::string& model_path, const ServeOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  ServeOptions& o = impl->options;
  if (o.threads < 1) return invalid_argument(cat("--threads ", o.threads, ": must be at least 1"));
  if (o.workers < 1) return invalid_argument(cat("--workers ", o.workers, ": must be at least 1"));
  if (o.http_threads < 1) return invalid_argument(cat("--http-threads ", o.http_threads, ": must be at least 1"));
  if (o.max_queue < 1) return invalid_argument("--max-queue must be at least 1");
  if (o.max_items < 1) return invalid_argument("--max-items must be at least 1");
  if (!(o.timeout_seconds > 0)) return invalid_argument("--timeout must be more than 0 seconds");
  ENCORE_ASSIGN_OR_RETURN(impl->model, Model::load(model_path));
  const Model& model = *impl->model;
  const EncoderConfig& c = model.config();
  if (model.tokenizer().empty()) return invalid_argument(cat(model_path, ": the model has no tokenizer (convert it from a directory with one)"));
  ENCORE_ASSIGN_OR_RETURN(impl->tokenizer, TextTokenizer::for_model(model));
  impl->model_limit = model_token_limit(model);
  if (o.max_input_tokens == 0) o.max_input_tokens = impl->model_limit;
  if (o.max_input_tokens > impl->model_limit) {
    return invalid_argument(cat("--max-input-tokens ", o.max_input_tokens, " is more than the model's limit of ", impl->model_limit, " tokens"));
  }
  if (o.max_batch_tokens < o.max_input_tokens) {
    return invalid_argument(cat("--max-batch-tokens ", o.max_batch_tokens, " is less than --max-input-tokens ", o.max_input_tokens,
                                " (one input must fit a batch)"));
  }
  if (o.pooling.empty()) {
    impl->pooling = c.has_sentence_embedding() ? Pooling::kModel : Pooling::kCls;
  } else if (o.pooling == "cls" || o.pooling == "mean" || o.pooling == "model") {
    impl->pooling = o.pooling == "cls" ? Pooling::kCls : o.pooling == "mean" ? Pooling::kMean : Pooling::kModel;
    if (impl->pooling == Pooling::kModel && !c.has_sentence_embedding()) {
      return invalid_argument("--pooling model needs a sentence-transformers model (this one has no pooling modules)");
    }
  } else {
    return invalid_argument(cat("--pooling '", o.pooling, "': use cls, mean or model"));
  }
  impl->embedding_width = static_cast<size_t>(impl->pooling == Pooling::kModel ? c.sentence_dimension() : c.hidden_size);
  if (o.model_name.empty()) {
    std::string name = model_path.substr(model_path.find_last_of('/') + 1);
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".encore") == 0) name.resize(name.size() - 7);
    o.model_name = name;
  }
  impl->limits.max_items = o.max_items;
  impl->limits.max_input_tokens = o.max_input_tokens;

  SessionOptions so;
  so.threads = o.threads;
  TextOptions to;
  to.max_length = o.max_input_tokens;
  std::vector<std::unique_ptr<BatchRunner>> runners;
  for (int w = 0; w < o.workers; ++w) {
    ENCORE_ASSIGN_OR_RETURN(auto runner, ModelRunner::create(impl->model, so, to, impl->pooling));
    runners.push_back(std::move(runner));
  }
  impl->queue = std::make_unique<BatchQueue>(QueueOptions{o.max_batch_tokens, o.max_queue, o.max_batch_inputs}, std::move(runners), &impl->metrics);

  httplib::Server& http = impl->http;
  const size_t pool = static_cast<size_t>(o.http_threads);
  http.new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
  http.set_payload_max_length(o.max_body_bytes);
  http.set_read_timeout(o.read_timeout_seconds, 0);
  http.set_write_timeout(o.read_timeout_seconds, 0);
  http.set_keep_alive_max_count(1000);
  http.set_keep_alive_timeout(2);
  http.set_tcp_nodelay(true);
  // SO_REUSEADDR only (a restart may bind while old connections linger); httplib's default adds
  // SO_REUSEPORT, which would let a second server share the port instead of failing to bind.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  impl->routes();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Result<int> Server::bind() {
  const ServeOptions& o = impl_->options;
  if (o.port == 0) {
    const int port = impl_->http.bind_to_any_port(o.host);
    if (port <= 0) return io_error(cat("cannot bind to ", o.host, " (any port)"));
    return port;
  }
  if (!impl_->http.bind_to_port(o.host, o.port)) {
    return io_error(cat("cannot bind to ", o.host, ":", o.port, " (in use, or not an address of this machine?)"));
  }
  return o.port;
}

void Server::serve() {
  if (!impl_->stopping) impl_->http.listen_after_bind();
  impl_->served = true;
  // httplib has answered every request it accepted; the queue is empty unless a request timed
  // out while its inputs were running: let those batches end before the workers stop.
  impl_->queue->drain();
}

// Only the listening socket closes: connections already accepted finish their requests (a
// body still arriving included), and serve() drains the queue after them. httplib's stop()
// does nothing before listening has begun, so a stop that comes first waits for it (or for
// serve() to see the flag and not listen at all).
void Server::stop() {
  impl_->stopping = true;
  while (!impl_->served && !impl_->http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->http.stop();
}

std::string Server::describe() const {
  const Impl& i = *impl_;
  const EncoderConfig& c = i.model->config();
  std::string kind = c.has_classifier() ? (c.labels.size() == 1 ? "cross-encoder (/rerank, /predict)" : cat("classifier, ", c.labels.size(), " labels (/predict)"))
                     : c.head == HeadKind::kPooled ? cat("embeddings, ", i.embedding_width, " wide (/v1/embeddings, /embed)")
                                                    : cat(head_kind_name(c.head), " head (/tokenize only)");
  return cat(i.options.model_name, ": ", family_name(c.family), ", ", i.model->is_quantized() ? "int8" : "float32", ", ", kind,
             "; ", i.options.workers, " worker(s) x ", i.options.threads, " thread(s), batches of up to ", i.options.max_batch_tokens,
             " tokens, inputs up to ", i.options.max_input_tokens, " tokens");
}

}  // namespace encore::serve
