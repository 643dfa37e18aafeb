#include "serve/metrics.h"

#include <algorithm>
#include <cstdio>

namespace encore::serve {
namespace {

// Prometheus reads any float text; 15 significant digits keep bounds short ("0.0005") and sums exact enough.
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.15g", v);
  return buf;
}

std::string braces(const std::string& labels, const std::string& more) {
  if (labels.empty() && more.empty()) return "";
  return "{" + labels + (labels.empty() || more.empty() ? "" : ",") + more + "}";
}

// Seconds, from a small model's sub-millisecond batch to a request that hit its timeout.
std::vector<double> latency_bounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}
std::vector<double> powers_of_two(double last) {
  std::vector<double> b;
  for (double v = 1; v <= last; v *= 2) b.push_back(v);
  return b;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::write(std::string& out, const std::string& name, const std::string& labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket" + braces(labels, "le=\"" + le + "\"") + " " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum" + braces(labels, "") + " " + number(sum_) + "\n";
  out += name + "_count" + braces(labels, "") + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : batch_inputs_(powers_of_two(1024)),
      batch_tokens_(powers_of_two(65536)),
      batch_seconds_(latency_bounds()),
      queue_seconds_(latency_bounds()) {}

void Metrics::request(const std::string& route, int status, double seconds, uint64_t tokens) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  tokens_[route] += tokens;
  latency_.try_emplace(route, latency_bounds()).first->second.observe(seconds);
}

void Metrics::batch(size_t inputs, size_t tokens, size_t padded_tokens, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  padded_tokens_ += padded_tokens;
  batch_inputs_.observe(static_cast<double>(inputs));
  batch_tokens_.observe(static_cast<double>(tokens));
  batch_seconds_.observe(seconds);
}

void Metrics::queue_wait(double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_seconds_.observe(seconds);
}

void Metrics::set_queue_depth(size_t requests, size_t inputs) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_requests_ = requests;
  queue_inputs_ = inputs;
}

std::string Metrics::text() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  auto head = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  head("encore_serve_requests_total", "counter", "HTTP requests answered, by route and status code.");
  for (const auto& [key, n] : requests_) {
    out += "encore_serve_requests_total{route=\"" + key.first + "\",code=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(n) + "\n";
  }
  head("encore_serve_tokens_total", "counter", "Tokens run through the model (special tokens included), by route.");
  for (const auto& [route, n] : tokens_) out += "encore_serve_tokens_total{route=\"" + route + "\"} " + std::to_string(n) + "\n";
  head("encore_serve_request_duration_seconds", "histogram", "Time from a request's arrival to its answer, by route.");
  for (const auto& [route, h] : latency_) h.write(out, "encore_serve_request_duration_seconds", "route=\"" + route + "\"");
  head("encore_serve_queue_requests", "gauge", "Requests queued or running now.");
  out += "encore_serve_queue_requests " + std::to_string(queue_requests_) + "\n";
  head("encore_serve_queue_inputs", "gauge", "Inputs (texts, pairs, token arrays) of those requests not yet run.");
  out += "encore_serve_queue_inputs " + std::to_string(queue_inputs_) + "\n";
  head("encore_serve_queue_wait_seconds", "histogram", "Time a request waited before its first input ran.");
  queue_seconds_.write(out, "encore_serve_queue_wait_seconds", "");
  head("encore_serve_batch_inputs", "histogram", "Inputs per batch run.");
  batch_inputs_.write(out, "encore_serve_batch_inputs", "");
  head("encore_serve_batch_tokens", "histogram", "Real tokens per batch run (padding excluded).");
  batch_tokens_.write(out, "encore_serve_batch_tokens", "");
  head("encore_serve_batch_duration_seconds", "histogram", "Time to run one batch through the model.");
  batch_seconds_.write(out, "encore_serve_batch_duration_seconds", "");
  head("encore_serve_batch_padded_tokens_total", "counter", "Batch inputs x their longest input, summed over batches.");
  out += "encore_serve_batch_padded_tokens_total " + std::to_string(padded_tokens_) + "\n";
  return out;
}

}  // namespace encore::serve
