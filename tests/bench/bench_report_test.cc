// encore-bench's report: statistics, profile summary, and the JSON / trace documents built
// from a real profiled run of a small model.
#include <doctest/doctest.h>

#include <set>

#include "bench/bench_report.h"
#include "encore/session.h"
#include "support/tiny_model.h"

namespace encore::bench {
namespace {

TEST_CASE("summarize: median, nearest-rank percentiles, extremes") {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted input
  TimingStats t = summarize(v);
  CHECK(t.runs == 100);
  CHECK(t.median_ms == 50.5);
  CHECK(t.p90_ms == 90);
  CHECK(t.p99_ms == 99);
  CHECK(t.min_ms == 1);
  CHECK(t.max_ms == 100);
  CHECK(t.mean_ms == 50.5);
  CHECK(summarize({7.0}).p99_ms == 7.0);
  CHECK(summarize({}).runs == 0);
}

struct Profiled {
  std::vector<std::vector<ProfileRecord>> runs;
  std::vector<double> run_ms;
  int layers = 0;
};

Profiled profile_tiny_model(int runs) {
  auto cfg = testing::tiny_config();
  cfg.labels = {"a", "b"};
  auto m = Model::load_from_memory(testing::int8_model_bytes(testing::random_checkpoint(cfg, 2)));
  REQUIRE(m.ok());
  SessionOptions o;
  o.profile = true;
  auto s = Session::create(m.value(), o);
  REQUIRE(s.ok());
  std::vector<int32_t> ids(24, 3);
  Inputs in{2, 12, ids.data(), nullptr, nullptr};
  Outputs out;
  Profiled p;
  p.layers = cfg.layer_count;
  for (int i = 0; i < runs; ++i) {
    REQUIRE((*s)->run(in, &out).ok());
    p.runs.push_back((*s)->profile());
    uint64_t end = 0;
    for (const auto& r : p.runs.back()) end = std::max(end, r.start_ns + r.duration_ns);
    p.run_ms.push_back(double(end) * 1e-6);
  }
  return p;
}

TEST_CASE("profile summary: one cell per (layer, step), totals consistent, table lists every layer") {
  Profiled p = profile_tiny_model(5);
  ProfileSummary s = summarize_profile(p.runs, p.run_ms);
  // embeddings + per layer 8 steps (the int8 GEMM inputs are quantized inside the steps
  // before them) + pooler + classifier
  CHECK(s.cells.size() == size_t(1 + 8 * p.layers + 2));
  std::set<std::pair<int, int>> keys;
  double sum = 0, linear = 0;
  for (const auto& c : s.cells) {
    CHECK(keys.insert({c.layer, int(c.step)}).second);
    sum += c.median_ms;
    if (profile_step_is_linear(c.step)) linear += c.median_ms;
  }
  CHECK(s.steps_total_ms == doctest::Approx(sum));
  CHECK(s.linear_ms == doctest::Approx(linear));
  CHECK(s.linear_ms > 0);
  const std::string table = profile_table(s);
  for (int l = 0; l < p.layers; ++l) CHECK(table.find("\n" + std::to_string(l) + " ") != std::string::npos);
  CHECK(table.find("time outside the linear layers") != std::string::npos);
  CHECK(table.find("GOPS") != std::string::npos);

  nlohmann::json j = to_json(s);
  CHECK(j["steps"].size() == s.cells.size());
  CHECK(j["steps"][0]["step"] == "embeddings");
  CHECK(j["outside_linear_fraction"].get<double>() >= 0.0);
  CHECK(j["outside_linear_fraction"].get<double>() < 1.0);
  // Round trip through text: what --json writes parses back.
  CHECK(nlohmann::json::parse(j.dump())["steps"].size() == s.cells.size());
}

TEST_CASE("trace: valid trace-event JSON with one complete event per step, in time order") {
  Profiled p = profile_tiny_model(1);
  nlohmann::json t = nlohmann::json::parse(trace_events(p.runs[0], "tiny").dump());
  REQUIRE(t.contains("traceEvents"));
  const auto& ev = t["traceEvents"];
  REQUIRE(ev.size() == p.runs[0].size() + 1);  // + the process-name metadata event
  CHECK(ev[0]["ph"] == "M");
  double prev_end = 0;
  for (size_t i = 1; i < ev.size(); ++i) {
    CHECK(ev[i]["ph"] == "X");
    CHECK(ev[i]["dur"].get<double>() >= 0.0);
    CHECK(ev[i]["ts"].get<double>() >= prev_end - 1e-3);
    prev_end = ev[i]["ts"].get<double>() + ev[i]["dur"].get<double>();
    CHECK(ev[i]["args"]["kernel"].get<std::string>().size() > 0);
  }
  CHECK(ev[1]["name"] == "embeddings");
  CHECK(ev[2]["name"] == "layer 0 qkv");
  CHECK(ev[2]["cat"] == "linear");
  CHECK(ev[3]["name"] == "layer 0 attention");
  CHECK(ev[4]["name"] == "layer 0 attn_out");
}

}  // namespace
}  // namespace encore::bench
