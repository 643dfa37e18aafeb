// encore-serve in-process on a loopback port (port 0), called over HTTP with httplib's client:
// every route on real models against the library's own calls, and the hostile requests (each
// a 4xx JSON error; afterwards the server still answers correctly).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "encore/text.h"
#include "serve/server.h"

namespace encore::serve {
namespace {

using json = nlohmann::json;

std::string model_path(const std::string& name) { return std::string(ENCORE_SERVE_MODEL_DIR) + "/" + name + ".encore"; }

// A server on 127.0.0.1:<free port>, serving on its own thread until destroyed.
struct Running {
  std::unique_ptr<Server> server;
  int port = 0;
  std::thread thread;

  explicit Running(const std::string& model, ServeOptions o = {}) {
    o.port = 0;
    auto s = Server::create(model_path(model), o);
    INFO(s.status().message());
    REQUIRE(s.ok());
    server = std::move(s).value();
    auto p = server->bind();
    REQUIRE(p.ok());
    port = *p;
    thread = std::thread([this] { server->serve(); });
  }
  ~Running() {
    server->stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    return c;
  }
  // POSTs `body`; returns (status, parsed JSON body).
  std::pair<int, json> post(const std::string& route, const std::string& body) const {
    auto c = client();
    auto r = c.Post(route.c_str(), body, "application/json");
    REQUIRE(r);
    INFO(route << " " << r->status << ": " << r->body);
    REQUIRE(r->get_header_value("Content-Type").find("application/json") == 0);
    return {r->status, json::parse(r->body)};
  }
  std::pair<int, json> post(const std::string& route, const json& body) const { return post(route, body.dump()); }
};

std::shared_ptr<const Model> load(const std::string& name) {
  auto m = Model::load(model_path(name));
  REQUIRE(m.ok());
  return *m;
}

std::vector<float> unit(std::vector<float> v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  const double n = std::max(std::sqrt(s), 1e-12);
  for (float& x : v) x = static_cast<float>(x / n);
  return v;
}

// "w w w ...": `n` words, each its own token.
std::string words(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i ? " w" : "w";
  return s;
}

std::vector<float> floats(const json& j) { return j.get<std::vector<float>>(); }

TEST_CASE("serve: /v1/embeddings and /embed give the library's embeddings, in OpenAI's and TEI's shapes") {
  Running s("st");
  auto model = load("st");
  auto enc = TextEncoder::create(model);
  REQUIRE(enc.ok());
  const std::vector<std::string> texts = {"hello world", "a", "the quick brown fox"};
  auto expect = (*enc)->embed(texts, Pooling::kModel, true);
  REQUIRE(expect.ok());

  auto [status, out] = s.post("/v1/embeddings", json{{"input", texts}, {"model", "anything"}});
  REQUIRE(status == 200);
  CHECK(out["object"] == "list");
  CHECK(out["model"] == "st");
  REQUIRE(out["data"].size() == 3);
  size_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    CHECK(out["data"][i]["object"] == "embedding");
    CHECK(out["data"][i]["index"] == i);
    CHECK(floats(out["data"][i]["embedding"]) == (*expect)[i].values);
    tokens += (*expect)[i].ids.size();
  }
  CHECK(out["usage"]["prompt_tokens"] == tokens);
  CHECK(out["usage"]["total_tokens"] == tokens);

  // base64: the same float32 values, little-endian.
  auto [s64, b64] = s.post("/v1/embeddings", json{{"input", texts[0]}, {"encoding_format", "base64"}});
  REQUIRE(s64 == 200);
  const std::string text = b64["data"][0]["embedding"];
  std::string bytes;
  for (size_t i = 0; i + 3 < text.size(); i += 4) {
    auto val = [](char c) -> uint32_t {
      return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : 0;
    };
    const uint32_t v = val(text[i]) << 18 | val(text[i + 1]) << 12 | val(text[i + 2]) << 6 | val(text[i + 3]);
    bytes += static_cast<char>(v >> 16);
    if (text[i + 2] != '=') bytes += static_cast<char>(v >> 8 & 0xff);
    if (text[i + 3] != '=') bytes += static_cast<char>(v & 0xff);
  }
  REQUIRE(bytes.size() == 4 * (*expect)[0].values.size());
  for (size_t k = 0; k < (*expect)[0].values.size(); ++k) {
    uint32_t bits = 0;
    for (int b = 0; b < 4; ++b) bits |= uint32_t(static_cast<unsigned char>(bytes[4 * k + b])) << (8 * b);
    float f;
    std::memcpy(&f, &bits, 4);
    CHECK(f == (*expect)[0].values[k]);
  }

  // TEI: a list of vectors; normalize false gives the raw pooled vector.
  auto raw = (*enc)->embed(texts, Pooling::kModel, false);
  REQUIRE(raw.ok());
  auto [st, tei] = s.post("/embed", json{{"inputs", texts}, {"normalize", false}});
  REQUIRE(st == 200);
  REQUIRE(tei.size() == 3);
  for (size_t i = 0; i < texts.size(); ++i) CHECK(floats(tei[i]) == (*raw)[i].values);

  // Matryoshka: the first N values, then unit length.
  auto [sd, dims] = s.post("/v1/embeddings", json{{"input", texts[2]}, {"dimensions", 8}});
  REQUIRE(sd == 200);
  CHECK(floats(dims["data"][0]["embedding"]) == unit(std::vector<float>((*raw)[2].values.begin(), (*raw)[2].values.begin() + 8)));
  auto [sw, wide] = s.post("/v1/embeddings", json{{"input", "a"}, {"dimensions", 33}});
  CHECK(sw == 422);
  CHECK(wide["error"]["message"].get<std::string>().find("more than the embedding's 32") != std::string::npos);

  // Token ids run as given: the tokenizer's ids of a text give that text's embedding.
  std::vector<json> id_lists;
  for (const auto& e : *expect) id_lists.push_back(e.ids);
  auto [si, ids] = s.post("/v1/embeddings", json{{"input", id_lists}});
  REQUIRE(si == 200);
  for (size_t i = 0; i < texts.size(); ++i) CHECK(floats(ids["data"][i]["embedding"]) == (*expect)[i].values);
}

TEST_CASE("serve: prompts, truncation and the token limit") {
  Running s("st");
  auto model = load("st");
  auto enc = TextEncoder::create(model);
  REQUIRE(enc.ok());
  // A named prompt is prepended to the text (sentence-transformers' encode(prompt_name=...)).
  auto with_prompt = (*enc)->embed({"query: hello"}, Pooling::kModel, true);
  REQUIRE(with_prompt.ok());
  auto [sp, p] = s.post("/embed", json{{"inputs", "hello"}, {"prompt_name", "query"}});
  REQUIRE(sp == 200);
  CHECK(floats(p[0]) == (*with_prompt)[0].values);
  auto [sb, bad] = s.post("/embed", json{{"inputs", "hello"}, {"prompt_name", "passage"}});
  CHECK(sb == 422);
  CHECK(bad["error"].get<std::string>().find("not one of the model's prompts (query, document)") != std::string::npos);

  // Over the model's 12 tokens: refused, unless truncate, which cuts as the tokenizer does.
  const std::string long_text = "one two three four five six seven eight nine ten eleven twelve thirteen";
  auto [sl, refused] = s.post("/embed", json{{"inputs", long_text}});
  CHECK(sl == 422);
  CHECK(refused["error"].get<std::string>().find("more than the limit of 12 (--max-input-tokens)") != std::string::npos);
  auto cut = (*enc)->embed({long_text}, Pooling::kModel, true);
  REQUIRE(cut.ok());
  auto [st, truncated] = s.post("/embed", json{{"inputs", long_text}, {"truncate", true}});
  REQUIRE(st == 200);
  CHECK(floats(truncated[0]) == (*cut)[0].values);
  auto [si, ids] = s.post("/embed", json{{"inputs", json::array({std::vector<int>(13, 5)})}});
  CHECK(si == 422);
  auto [sv, vocab] = s.post("/embed", json{{"inputs", json::array({101, 100000, 102})}});
  CHECK(sv == 422);
  CHECK(vocab["error"].get<std::string>().find("outside the vocabulary") != std::string::npos);
}

TEST_CASE("serve: /predict on the example classifier, /rerank on a cross-encoder, /tokenize") {
  {
    Running s("langid");
    auto enc = TextEncoder::create(load("langid"));
    REQUIRE(enc.ok());
    // Each expectation runs the batch the server runs (one request at a time: the request's
    // texts). The head's f32 layers are XNNPACK fully-connected ops over the batch's sequences,
    // and on some cores XNNPACK has a separate one-row kernel whose last bits differ from its
    // several-row one (seen under qemu as a Cortex-A72: "Schmetterling" alone and beside
    // "butterfly" differ by a few ulp), so a one-text request is compared with a one-text batch.
    auto expect_one = (*enc)->classify({"Schmetterling"});
    REQUIRE(expect_one.ok());
    auto expect = (*enc)->classify({"Schmetterling", "butterfly"});
    REQUIRE(expect.ok());
    const auto& labels = (*enc)->model().config().labels;
    auto [s1, one] = s.post("/predict", json{{"inputs", "Schmetterling"}});
    REQUIRE(s1 == 200);
    REQUIRE(one.size() == labels.size());
    CHECK(one[0]["label"] == (*expect_one)[0].label);
    for (size_t k = 0; k + 1 < one.size(); ++k) CHECK(one[k]["score"] >= one[k + 1]["score"]);
    for (const auto& p : one) {
      const size_t k = static_cast<size_t>(std::find(labels.begin(), labels.end(), p["label"].get<std::string>()) - labels.begin());
      REQUIRE(k < labels.size());
      CHECK(p["score"].get<float>() == (*expect_one)[0].probabilities[k]);
    }
    auto [s2, batch] = s.post("/predict", json{{"inputs", json::array({json::array({"Schmetterling"}), json::array({"butterfly"})})}, {"raw_scores", true}});
    REQUIRE(s2 == 200);
    REQUIRE(batch.size() == 2);
    CHECK(batch[1][0]["label"] == (*expect)[1].label);
    CHECK(batch[1][0]["score"].get<float>() == *std::max_element((*expect)[1].logits.begin(), (*expect)[1].logits.end()));
    // Routes this model cannot serve say which one fits.
    auto [s3, rr] = s.post("/rerank", json{{"query", "a"}, {"texts", {"b"}}});
    CHECK(s3 == 424);
    CHECK(rr["error"].get<std::string>().find("use /predict") != std::string::npos);
    auto [s4, em] = s.post("/v1/embeddings", json{{"input", "a"}});
    CHECK(s4 == 424);
    CHECK(em["error"]["message"].get<std::string>().find("classifier") != std::string::npos);
    // /tokenize: the tokenizer's ids; special tokens without offsets.
    auto ids = (*enc)->tokenizer().encode("butterfly");
    REQUIRE(ids.ok());
    auto [s5, tok] = s.post("/tokenize", json{{"inputs", "butterfly"}});
    REQUIRE(s5 == 200);
    REQUIRE(tok[0].size() == ids->ids.size());
    for (size_t t = 0; t < ids->ids.size(); ++t) CHECK(tok[0][t]["id"] == ids->ids[t]);
    CHECK(tok[0][0]["special"] == true);
    CHECK(tok[0][0]["start"].is_null());
    CHECK(tok[0][1]["special"] == false);
    CHECK(tok[0][1]["start"] == 0);
  }
  {
    Running s("rerank");
    auto enc = TextEncoder::create(load("rerank"));
    REQUIRE(enc.ok());
    const std::vector<std::string> texts = {"a b", "c d e", "hello there", "b"};
    auto expect = (*enc)->classify(std::vector<std::string>(texts.size(), "a b c"), texts);
    REQUIRE(expect.ok());
    auto [st, ranks] = s.post("/rerank", json{{"query", "a b c"}, {"texts", texts}, {"return_text", true}});
    REQUIRE(st == 200);
    REQUIRE(ranks.size() == texts.size());
    for (size_t r = 0; r < ranks.size(); ++r) {
      const size_t i = ranks[r]["index"];
      CHECK(ranks[r]["text"] == texts[i]);
      const double logit = (*expect)[i].logits[0];
      CHECK(ranks[r]["score"].get<float>() == static_cast<float>(1.0 / (1.0 + std::exp(-logit))));
      if (r > 0) CHECK(ranks[r - 1]["score"] >= ranks[r]["score"]);
    }
    auto [sr, raw] = s.post("/rerank", json{{"query", "a b c"}, {"texts", texts}, {"raw_scores", true}});
    REQUIRE(sr == 200);
    CHECK(raw[0]["score"].get<float>() == (*expect)[raw[0]["index"].get<size_t>()].logits[0]);
    CHECK_FALSE(raw[0].contains("text"));
  }
}

TEST_CASE("serve: GET /health, /info, /metrics") {
  Running s("st");
  auto c = s.client();
  auto h = c.Get("/health");
  REQUIRE(h);
  CHECK(h->status == 200);
  auto i = c.Get("/info");
  REQUIRE(i);
  const json info = json::parse(i->body);
  CHECK(info["family"] == "bert");
  CHECK(info["precision"] == "int8");
  CHECK(info["head"] == "pooled");
  CHECK(info["model_type"]["embedding"]["pooling"] == "model");
  CHECK(info["embedding_dimension"] == 32);
  CHECK(info["max_input_length"] == 12);
  s.post("/embed", json{{"inputs", {"a", "b"}}});
  s.post("/embed", std::string("{"));
  auto m = c.Get("/metrics");
  REQUIRE(m);
  CHECK(m->status == 200);
  CHECK(m->body.find("encore_serve_requests_total{route=\"/embed\",code=\"200\"} 1") != std::string::npos);
  CHECK(m->body.find("encore_serve_requests_total{route=\"/embed\",code=\"400\"} 1") != std::string::npos);
  CHECK(m->body.find("encore_serve_batch_inputs_count 1") != std::string::npos);
  CHECK(m->body.find("encore_serve_queue_requests 0") != std::string::npos);
}

// The hostile set: every one is a 4xx with a JSON error; afterwards the server answers a normal
// request with the right embedding (no worker stuck, nothing corrupted).
TEST_CASE("serve: hostile requests get 4xx JSON errors and leave the server working") {
  ServeOptions o;
  o.max_body_bytes = 64 * 1024;
  o.max_items = 8;
  o.read_timeout_seconds = 1;
  Running s("st", o);
  auto enc = TextEncoder::create(load("st"));
  REQUIRE(enc.ok());
  auto expect = (*enc)->embed({"still fine"}, Pooling::kModel, true);
  REQUIRE(expect.ok());
  auto healthy = [&] {
    auto [st, out] = s.post("/v1/embeddings", json{{"input", "still fine"}});
    REQUIRE(st == 200);
    CHECK(floats(out["data"][0]["embedding"]) == (*expect)[0].values);
  };

  struct Case {
    const char* route;
    std::string body;
    int status;
  };
  const std::vector<Case> cases = {
      {"/v1/embeddings", "{\"input\": ", 400},                       // truncated JSON
      {"/v1/embeddings", "not json at all", 400},
      {"/v1/embeddings", "", 400},                                   // no body
      {"/v1/embeddings", "null", 400},
      {"/v1/embeddings", "{\"input\": \"\xc3\x28\"}", 400},          // invalid UTF-8
      {"/v1/embeddings", "{\"input\": \"\\udc00\"}", 400},            // lone surrogate
      {"/v1/embeddings", "{\"input\": " + std::string(5000, '[') + std::string(5000, ']') + "}", 400},
      {"/v1/embeddings", "{\"input\": true}", 422},
      {"/v1/embeddings", "{\"input\": [\"a\", null]}", 422},
      {"/v1/embeddings", "{\"input\": [[1, 2], [3, \"x\"]]}", 422},
      {"/v1/embeddings", "{\"input\": [-1]}", 422},
      {"/v1/embeddings", "{\"input\": [1e300]}", 422},
      {"/v1/embeddings", "{\"input\": \"a\", \"dimensions\": -3}", 422},
      {"/v1/embeddings", "{\"input\": \"\"}", 400},
      {"/v1/embeddings", "{\"input\": []}", 400},
      {"/v1/embeddings", "{\"input\": [\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}", 413},  // 9 > --max-items 8
      {"/v1/embeddings", "{\"input\": \"" + words(30000) + "\"}", 422},  // one huge input, within the body limit
      {"/v1/embeddings", "{\"input\": \"" + std::string(70000, 'x') + "\"}", 413},  // body over --max-body-bytes
      {"/embed", "{\"inputs\": {\"text\": \"a\"}}", 422},
      {"/predict", "{\"inputs\": \"a\"}", 424},
      {"/rerank", "{\"query\": \"a\", \"texts\": [\"b\"]}", 424},
      {"/tokenize", "{\"inputs\": 12}", 422},
      {"/tokenize", "{\"inputs\": \"" + std::string(60000, 'y') + "\"}", 200},  // tokenize has no token limit; body-bounded
      {"/nowhere", "{}", 404},
  };
  for (const Case& c : cases) {
    auto client = s.client();
    auto r = client.Post(c.route, c.body, "application/json");
    INFO(c.route << " " << c.body.substr(0, 60));
    REQUIRE(r);
    CHECK(r->status == c.status);
    const json j = json::parse(r->body, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    if (c.status >= 400) {
      const std::string message = std::string(c.route).rfind("/v1/", 0) == 0 ? j["error"]["message"] : j["error"];
      CHECK_FALSE(message.empty());
      CHECK(message.find('\n') == std::string::npos);
    }
  }
  healthy();

  // A slow client: a request line and half a header, then silence. The server closes the
  // connection after --read-timeout (1 s) and serves others meanwhile.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(s.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  const char partial[] = "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"input\":";
  REQUIRE(send(fd, partial, sizeof(partial) - 1, 0) > 0);
  healthy();
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[512];
  const auto start = std::chrono::steady_clock::now();
  const ssize_t n = recv(fd, buf, sizeof(buf), 0);  // the server gives up: EOF (or an error answer)
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(waited < 4.5);
  CHECK(n >= 0);
  close(fd);
  healthy();
}

TEST_CASE("serve: concurrent clients get the same answers as one at a time") {
  ServeOptions o;
  o.max_batch_tokens = 64;
  Running s("st", o);
  auto enc = TextEncoder::create(load("st"));
  REQUIRE(enc.ok());
  const std::vector<std::string> texts = {"a", "hello world", "the quick brown fox jumps", "one two three", "x y"};
  auto expect = (*enc)->embed(texts, Pooling::kModel, true);
  REQUIRE(expect.ok());
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      auto client = s.client();
      for (int r = 0; r < 15; ++r) {
        const size_t i = static_cast<size_t>(c + r) % texts.size();
        auto res = client.Post("/v1/embeddings", json{{"input", json::array({texts[i], texts[(i + 1) % texts.size()]})}}.dump(), "application/json");
        if (!res || res->status != 200) {
          ++failed;
          continue;
        }
        const json out = json::parse(res->body);
        if (floats(out["data"][0]["embedding"]) != (*expect)[i].values ||
            floats(out["data"][1]["embedding"]) != (*expect)[(i + 1) % texts.size()].values) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(failed == 0);
  CHECK(wrong == 0);
}

TEST_CASE("serve: a stop that comes before serve() has begun still ends it") {
  // SIGTERM right after start: httplib ignores a stop before it listens, so without care the
  // server would listen on forever.
  for (int i = 0; i < 20; ++i) {
    ServeOptions o;
    o.port = 0;
    auto s = Server::create(model_path("st"), o);
    REQUIRE(s.ok());
    REQUIRE((*s)->bind().ok());
    std::thread stopper([&] { (*s)->stop(); });
    (*s)->serve();
    stopper.join();
  }
}

TEST_CASE("serve: options are checked at start") {
  ServeOptions o;
  o.max_input_tokens = 13;
  auto s = Server::create(model_path("st"), o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() == "--max-input-tokens 13 is more than the model's limit of 12 tokens");
  o = {};
  o.max_batch_tokens = 4;
  s = Server::create(model_path("st"), o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("--max-batch-tokens 4 is less than --max-input-tokens 12") == 0);
  o = {};
  o.pooling = "model";
  s = Server::create(model_path("langid"), o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("--pooling model needs a sentence-transformers model") == 0);
  s = Server::create(model_path("missing"), {});
  REQUIRE_FALSE(s.ok());
}

}  // namespace
}  // namespace encore::serve
