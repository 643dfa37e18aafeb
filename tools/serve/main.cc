// encore-serve: an HTTP server for embeddings, classification and reranking on one model.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "common/cli_parse.h"
#include "serve/server.h"

namespace {

constexpr const char* kDescription = R"(encore-serve: an HTTP server for one encore model.

Routes (JSON in and out; request shapes as OpenAI's embeddings API and Hugging Face's
text-embeddings-inference):
  POST /v1/embeddings  {"input": text | [texts] | [ids] | [[ids]], "dimensions"?, "encoding_format"?: float|base64}
  POST /embed          {"inputs": ..., "normalize"?: true, "dimensions"?, "truncate"?, "prompt_name"?}
  POST /predict        {"inputs": text | [text, pair] | [[text], [text, pair], ...], "raw_scores"?}
  POST /rerank         {"query": text, "texts": [...], "raw_scores"?, "return_text"?}  (cross-encoders)
  POST /tokenize       {"inputs": text | [texts], "add_special_tokens"?: true}
  GET  /health, /info, /metrics (Prometheus)
Token-id inputs run as given (no special tokens are added). Errors are JSON with a 4xx/5xx status:
400 malformed JSON or empty input, 413 body or item count over the limit, 422 wrong field type or
value or an input over --max-input-tokens (unless "truncate": true), 424 a route the model cannot
serve, 429 queue full, 503 shutting down, 504 over --timeout.
SIGTERM or SIGINT: stop accepting, finish the requests already accepted, exit 0.)";

}  // namespace

int main(int argc, char** argv) {
  encore::serve::ServeOptions o;
  std::string model_path;
  CLI::App app(kDescription, "encore-serve");
  app.add_option("model", model_path, "The .encore model to serve (with its tokenizer)")->required();
  app.add_option("--host", o.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  app.add_option("--port", o.port, "TCP port; 0 picks a free one (printed at start)")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--threads", o.threads, "Threads per worker for the model's kernels")->capture_default_str();
  app.add_option("--workers", o.workers, "Worker threads, each running batches with its own sessions")->capture_default_str();
  app.add_option("--max-batch-tokens", o.max_batch_tokens,
                 "Token budget of one batch, counted as inputs x longest input (the memory a run plans for)")
      ->capture_default_str();
  app.add_option("--max-batch-inputs", o.max_batch_inputs,
                 "Inputs per batch at most (0: as many as --max-batch-tokens allows; 1: no batching)")
      ->capture_default_str();
  app.add_option("--max-queue", o.max_queue, "Requests queued or running at once; more get 429")->capture_default_str();
  app.add_option("--max-input-tokens", o.max_input_tokens,
                 "Tokens per input, special tokens included (default: the model's limit); longer inputs get 422 "
                 "unless the request says \"truncate\": true");
  app.add_option("--max-items", o.max_items, "Inputs per request (texts, token arrays, rerank texts); more get 413")
      ->capture_default_str();
  app.add_option("--max-body-bytes", o.max_body_bytes, "Largest request body; larger get 413")->capture_default_str();
  app.add_option("--timeout", o.timeout_seconds, "Seconds a request may wait and run; then 504")->capture_default_str();
  app.add_option("--http-threads", o.http_threads, "Connections served at once (each a thread)")->capture_default_str();
  app.add_option("--read-timeout", o.read_timeout_seconds, "Seconds a client may take to send (or receive) data; then the connection is closed")
      ->capture_default_str();
  app.add_option("--model-name", o.model_name, "Model name in responses and /info (default: the file name without .encore)");
  app.add_option("--pooling", o.pooling,
                 "Embeddings: cls, mean or model (a sentence-transformers model's own modules); default: model when it has them, else cls")
      ->check(CLI::IsMember({"cls", "mean", "model"}));
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-serve")) return *code;

  // Signals go to one thread that stops the server; every other thread (httplib's, the
  // workers) inherits the blocked mask. A client that hangs up mid-answer must not kill us.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = encore::serve::Server::create(model_path, o);
  if (!server.ok()) {
    std::cerr << "encore-serve: error: " << server.status().message() << "\n";
    return 1;
  }
  auto port = (*server)->bind();
  if (!port.ok()) {
    std::cerr << "encore-serve: error: " << port.status().message() << "\n";
    return 1;
  }
  std::cout << "encore-serve: " << (*server)->describe() << "\n"
            << "encore-serve: listening on http://" << o.host << ":" << *port << std::endl;
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cout << "encore-serve: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ": finishing accepted requests" << std::endl;
    (*server)->stop();
  });
  (*server)->serve();
  std::cout << "encore-serve: stopped" << std::endl;
  signals.join();
  return 0;
}
