// encore-serve's /metrics text (tools/serve/metrics.h): Prometheus' exposition format, cumulative
// histogram buckets.
#include <doctest/doctest.h>

#include "serve/metrics.h"

namespace encore::serve {
namespace {

bool has_line(const std::string& text, const std::string& line) { return text.find("\n" + line + "\n") != std::string::npos; }

TEST_CASE("serve metrics: counters by route and code, cumulative buckets, sums and counts") {
  Metrics m;
  m.request("/embed", 200, 0.003, 12);
  m.request("/embed", 200, 0.2, 30);
  m.request("/embed", 422, 0.0001, 0);
  m.batch(3, 42, 60, 0.002);
  m.set_queue_depth(2, 5);
  const std::string t = "\n" + m.text();
  CHECK(has_line(t, "encore_serve_requests_total{route=\"/embed\",code=\"200\"} 2"));
  CHECK(has_line(t, "encore_serve_requests_total{route=\"/embed\",code=\"422\"} 1"));
  CHECK(has_line(t, "encore_serve_tokens_total{route=\"/embed\"} 42"));
  CHECK(has_line(t, "encore_serve_request_duration_seconds_bucket{route=\"/embed\",le=\"0.0005\"} 1"));
  CHECK(has_line(t, "encore_serve_request_duration_seconds_bucket{route=\"/embed\",le=\"0.005\"} 2"));
  CHECK(has_line(t, "encore_serve_request_duration_seconds_bucket{route=\"/embed\",le=\"0.1\"} 2"));
  CHECK(has_line(t, "encore_serve_request_duration_seconds_bucket{route=\"/embed\",le=\"0.25\"} 3"));
  CHECK(has_line(t, "encore_serve_request_duration_seconds_bucket{route=\"/embed\",le=\"+Inf\"} 3"));
  CHECK(has_line(t, "encore_serve_request_duration_seconds_count{route=\"/embed\"} 3"));
  CHECK(has_line(t, "encore_serve_request_duration_seconds_sum{route=\"/embed\"} 0.2031"));
  CHECK(has_line(t, "encore_serve_queue_requests 2"));
  CHECK(has_line(t, "encore_serve_queue_inputs 5"));
  CHECK(has_line(t, "encore_serve_batch_inputs_bucket{le=\"2\"} 0"));
  CHECK(has_line(t, "encore_serve_batch_inputs_bucket{le=\"4\"} 1"));
  CHECK(has_line(t, "encore_serve_batch_tokens_sum 42"));
  CHECK(has_line(t, "encore_serve_batch_padded_tokens_total 60"));
  // Every metric has its TYPE line before its samples.
  CHECK(t.find("# TYPE encore_serve_request_duration_seconds histogram") < t.find("encore_serve_request_duration_seconds_bucket"));
}

}  // namespace
}  // namespace encore::serve
