// encore-serve's counters for GET /metrics, in Prometheus' text exposition format (version 0.0.4).
//
// Thread-safety: every method may be called from any thread (one mutex; a few updates per
// request or batch, far from the inference cost).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace encore::serve {

// A Prometheus histogram: cumulative counts over fixed upper bounds, their sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // "name_bucket{labels,le="..."} n" lines, then name_sum and name_count; `labels` is either
  // empty or `key="value"` pairs without braces.
  void write(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative; one more for +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  // One answered request: its route ("/embed"), HTTP status, seconds from arrival to answer,
  // and the tokens it ran (0 when refused).
  void request(const std::string& route, int status, double seconds, uint64_t tokens);
  // One batch a worker ran: its inputs, real tokens, tokens with padding, and seconds.
  void batch(size_t inputs, size_t tokens, size_t padded_tokens, double seconds);
  // Seconds a request waited before its first input ran.
  void queue_wait(double seconds);
  // The queue's depth now (requests waiting or running), read when /metrics is asked.
  void set_queue_depth(size_t requests, size_t inputs);
  std::string text() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (route, status) -> count
  std::map<std::string, uint64_t> tokens_;                    // route -> tokens
  std::map<std::string, Histogram> latency_;                  // route -> seconds
  Histogram batch_inputs_, batch_tokens_, batch_seconds_, queue_seconds_;
  uint64_t padded_tokens_ = 0;
  size_t queue_requests_ = 0, queue_inputs_ = 0;
};

}  // namespace encore::serve
