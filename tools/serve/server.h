// encore-serve's HTTP server: the routes, on a loaded model and a BatchQueue of ModelRunners.
//
// Routes (see README.md, "encore-serve"):
//   POST /v1/embeddings  OpenAI's embeddings API          POST /embed     TEI's embeddings
//   POST /predict        TEI's sequence classification   POST /rerank    TEI's cross-encoder ranking
//   POST /tokenize       TEI's tokenization              GET  /health, /info, /metrics
// A route the model cannot serve (/rerank without a one-score classifier, /embed on a
// classifier, ...) answers 424 with a JSON error saying which route fits, as TEI does.
//
// Lifetime: create(), bind(), then serve() blocks until stop() (from any thread, e.g. a signal
// handler's); serve() then lets every accepted request finish, drains the queue and returns.
#pragma once

#include <memory>
#include <string>

#include "encore/status.h"

namespace encore::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (bind() returns it)
  int threads = 1;  // per worker: intra-op threads of its sessions
  int workers = 1;  // worker threads, each with its own sessions
  size_t max_batch_tokens = 8192;
  size_t max_batch_inputs = 0;  // 0: as many as the token budget allows
  size_t max_queue = 256;
  size_t max_input_tokens = 0;  // 0: the model's limit
  size_t max_items = 256;
  size_t max_body_bytes = size_t{8} << 20;
  double timeout_seconds = 30;
  int http_threads = 32;
  int read_timeout_seconds = 10;
  std::string model_name;  // in responses; default: the model file's name without .encore
  std::string pooling;     // "cls", "mean", "model"; empty: the model's own, else cls
};

class Server {
 public:
  // Loads the model and creates every session; errors name the option or the model problem.
  static Result<std::unique_ptr<Server>> create(const std::string& model_path, const ServeOptions& options);
  ~Server();

  // Binds options.host:port; returns the port (the one chosen for port 0).
  Result<int> bind();
  // Answers requests until stop(), then drains; returns after the last answer.
  void serve();
  void stop();
  // One line about the model and the limits, for the log.
  std::string describe() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore::serve
