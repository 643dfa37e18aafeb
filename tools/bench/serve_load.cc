// encore-serve-load: a bounded load test for encore-serve (tools/bench/serve_load.sh runs it).
// C client threads, each on its own keep-alive connection, send N requests in total; each
// request's text is a random run of words from a word list (mixed lengths). Prints one line:
// requests, errors, seconds, requests/s, and latency percentiles in milliseconds.
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/cli_parse.h"

namespace {

// The word at the start of each line (a TSV's first column, or a plain word list).
std::vector<std::string> read_words(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> words;
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find_first_of("\t \r"));
    if (!line.empty()) words.push_back(line);
  }
  return words;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * double(v.size())));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", route = "/v1/embeddings", words_path;
  int port = 8080, requests = 2000, concurrency = 16, min_words = 1, max_words = 8, items = 1;
  unsigned seed = 1;
  bool truncate = false;
  CLI::App app("encore-serve-load: a bounded load test for encore-serve", "encore-serve-load");
  app.add_option("--host", host)->capture_default_str();
  app.add_option("--port", port)->required();
  app.add_option("--route", route, "/v1/embeddings, /embed or /predict")->capture_default_str();
  app.add_option("--words", words_path, "Word list (a word per line; TSV: the first column)")->required();
  app.add_option("--requests", requests)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--concurrency", concurrency, "Client threads, each with one connection")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--min-words", min_words)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-words", max_words)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--items", items, "Texts per request")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", seed)->capture_default_str();
  app.add_flag("--truncate", truncate, "Send \"truncate\": true (texts over the model's limit are cut, not refused)");
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-serve-load")) return *code;
  const std::vector<std::string> words = read_words(words_path);
  if (words.empty()) {
    std::cerr << "encore-serve-load: error: " << words_path << ": no words\n";
    return 1;
  }
  // Bodies are made up front so the clients only send.
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> length(min_words, std::max(min_words, max_words));
  std::uniform_int_distribution<size_t> pick(0, words.size() - 1);
  std::vector<std::string> bodies;
  for (int r = 0; r < requests; ++r) {
    nlohmann::json texts = nlohmann::json::array();
    for (int i = 0; i < items; ++i) {
      std::string t;
      for (int w = length(rng); w > 0; --w) t += (t.empty() ? "" : " ") + words[pick(rng)];
      texts.push_back(t);
    }
    const char* field = route == "/v1/embeddings" ? "input" : "inputs";
    nlohmann::json body = {{field, items == 1 ? texts[0] : texts}};
    if (route == "/predict" && items > 1) {
      nlohmann::json batch = nlohmann::json::array();
      for (const auto& t : texts) batch.push_back({t});
      body[field] = batch;
    }
    if (truncate) body["truncate"] = true;
    bodies.push_back(body.dump());
  }
  std::atomic<int> next{0}, errors{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(concurrency));
  std::string first_error;
  std::mutex error_mutex;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client(host, port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);  // otherwise Nagle holds the body back for the delayed ACK (40 ms)
      client.set_read_timeout(120, 0);
      for (int r; (r = next++) < requests;) {
        const auto t0 = std::chrono::steady_clock::now();
        auto res = client.Post(route.c_str(), bodies[static_cast<size_t>(r)], "application/json");
        latencies[static_cast<size_t>(c)].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (!res || res->status != 200) {
          ++errors;
          std::lock_guard<std::mutex> lock(error_mutex);
          if (first_error.empty()) first_error = res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error());
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::printf("requests %d  errors %d  seconds %.2f  req/s %.0f  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms\n", requests, errors.load(),
              seconds, requests / seconds, percentile(all, 50), percentile(all, 90), percentile(all, 99));
  if (!first_error.empty()) std::printf("first error: %s\n", first_error.substr(0, 300).c_str());
  return errors == 0 ? 0 : 1;
}
