// One model shared read-only by sessions on several threads; mixed shapes under stress;
// activation memory limits; all-padding rows.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "encore/session.h"
#include "support/tiny_model.h"

namespace encore {
namespace {

constexpr int64_t kHidden = 32;

std::shared_ptr<const Model> shared_model(bool int8) {
  auto cfg = testing::tiny_config();
  cfg.labels = {"a", "b"};
  auto ck = testing::random_checkpoint(cfg, 21);
  auto m = Model::load_from_memory(int8 ? testing::int8_model_bytes(ck) : testing::f32_model_bytes(ck));
  REQUIRE(m.ok());
  return m.value();
}

// A request: shape, ids, padding (the last sequence of a batch is shorter).
struct Request {
  int64_t batch = 1, seq = 1;
  std::vector<int32_t> ids, mask, types;
  std::vector<float> expected;  // last_hidden_state from a single-threaded session
};

std::vector<Request> make_requests(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Request> requests(count);
  for (auto& r : requests) {
    r.batch = 1 + static_cast<int64_t>(rng() % 3);
    r.seq = 1 + static_cast<int64_t>(rng() % 16);
    const size_t n = static_cast<size_t>(r.batch * r.seq);
    r.ids.resize(n);
    r.mask.assign(n, 1);
    r.types.resize(n);
    for (size_t i = 0; i < n; ++i) {
      r.ids[i] = static_cast<int32_t>(rng() % 50);
      r.types[i] = static_cast<int32_t>(rng() % 2);
    }
    const int64_t last_len = 1 + static_cast<int64_t>(rng() % static_cast<uint32_t>(r.seq));
    for (int64_t s = last_len; s < r.seq; ++s) r.mask[static_cast<size_t>((r.batch - 1) * r.seq + s)] = 0;
  }
  return requests;
}

Inputs inputs_of(const Request& r) { return Inputs{r.batch, r.seq, r.ids.data(), r.mask.data(), r.types.data()}; }

// Fills every request's `expected` from one single-threaded session: the reference the
// concurrent runs must reproduce.
void record_expected(const std::shared_ptr<const Model>& model, std::vector<Request>* requests) {
  auto solo = Session::create(model);
  REQUIRE(solo.ok());
  for (auto& r : *requests) {
    Outputs out;
    REQUIRE((*solo)->run(inputs_of(r), &out).ok());
    r.expected.assign(out.last_hidden_state, out.last_hidden_state + r.batch * r.seq * kHidden);
  }
}

TEST_CASE("concurrency: sessions on several threads share one model and match one thread exactly") {
  for (bool int8 : {false, true}) {
    CAPTURE(int8);
    auto model = shared_model(int8);
    auto requests = make_requests(24, int8 ? 7 : 8);
    record_expected(model, &requests);
    // 4 threads x 500 requests = 2,000 runs, each thread in its own order, all at once.
    constexpr int kThreads = 4, kRunsPerThread = 500;
    std::atomic<int> mismatches{0}, failures{0}, runs{0};
    std::atomic<uint64_t> arena_growth{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto session = Session::create(model);
        if (!session.ok()) {
          failures++;
          return;
        }
        std::mt19937 order(static_cast<uint32_t>(100 + t));
        uint64_t bytes_after_warmup = 0;
        for (int i = 0; i < kRunsPerThread; ++i) {
          // The first pass visits every request in order, so the arena reaches its largest
          // shape; after that it must not grow again.
          const Request& r = requests[i < int(requests.size()) ? size_t(i) : order() % requests.size()];
          Outputs out;
          if (!(*session)->run(inputs_of(r), &out).ok()) {
            failures++;
            continue;
          }
          runs++;
          if (std::memcmp(out.last_hidden_state, r.expected.data(), r.expected.size() * sizeof(float)) != 0) {
            mismatches++;
          }
          if (i + 1 == int(requests.size())) bytes_after_warmup = (*session)->activation_bytes();
        }
        arena_growth += (*session)->activation_bytes() - bytes_after_warmup;
      });
    }
    for (auto& th : threads) th.join();
    CHECK(failures.load() == 0);
    CHECK(runs.load() == kThreads * kRunsPerThread);
    CHECK(mismatches.load() == 0);
    CHECK(arena_growth.load() == 0);
  }
}

TEST_CASE("concurrency: a session with a thread pool, run from several threads' own sessions") {
  auto model = shared_model(true);
  auto requests = make_requests(8, 3);
  record_expected(model, &requests);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      SessionOptions two;
      two.threads = 2;
      auto session = Session::create(model, two);
      if (!session.ok()) {
        bad++;
        return;
      }
      for (int rep = 0; rep < 20; ++rep) {
        for (const auto& r : requests) {
          Outputs out;
          if (!(*session)->run(inputs_of(r), &out).ok()) {
            bad++;
            continue;
          }
          for (size_t i = 0; i < r.expected.size(); ++i) {
            if (std::fabs(out.last_hidden_state[i] - r.expected[i]) > 1e-6f) {
              bad++;
              break;
            }
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad.load() == 0);
}

TEST_CASE("session: the activation memory limit refuses a run that needs more, and keeps working") {
  auto model = shared_model(true);
  SessionOptions limited;
  auto probe = Session::create(model);
  REQUIRE(probe.ok());
  std::vector<int32_t> ids(4 * 16, 1);
  Outputs out;
  REQUIRE((*probe)->run(Inputs{1, 16, ids.data(), nullptr, nullptr}, &out).ok());
  limited.max_activation_bytes = (*probe)->activation_bytes();  // room for 1 x 16, not 4 x 16

  auto session = Session::create(model, limited);
  REQUIRE(session.ok());
  Status st = (*session)->run(Inputs{4, 16, ids.data(), nullptr, nullptr}, &out);
  CHECK(st.code() == StatusCode::kResourceExhausted);
  CHECK(st.message().find("max_activation_bytes") != std::string::npos);
  CHECK((*session)->run(Inputs{1, 16, ids.data(), nullptr, nullptr}, &out).ok());
  CHECK((*session)->run(Inputs{1, 3, ids.data(), nullptr, nullptr}, &out).ok());
  CHECK(out.seq_len == 3);
}

TEST_CASE("session: an all-padding row gives finite outputs and leaves the other rows alone") {
  for (bool int8 : {false, true}) {
    CAPTURE(int8);
    auto model = shared_model(int8);
    auto session = Session::create(model);
    REQUIRE(session.ok());
    const int64_t B = 2, S = 6;
    std::vector<int32_t> ids = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    std::vector<int32_t> mask = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    Outputs out;
    REQUIRE((*session)->run(Inputs{B, S, ids.data(), mask.data(), nullptr}, &out).ok());
    std::vector<float> batched(out.last_hidden_state, out.last_hidden_state + B * S * kHidden);
    std::vector<float> logits(out.logits, out.logits + B * 2);
    for (float v : batched) REQUIRE(std::isfinite(v));
    for (float v : logits) REQUIRE(std::isfinite(v));
    Outputs alone;
    REQUIRE((*session)->run(Inputs{1, 4, ids.data(), nullptr, nullptr}, &alone).ok());
    float max_diff = 0.0f;
    for (int64_t i = 0; i < 4 * kHidden; ++i) max_diff = std::max(max_diff, std::fabs(alone.last_hidden_state[i] - batched[size_t(i)]));
    CHECK(max_diff <= 1e-5f);
  }
}

// Under the sanitizer preset LeakSanitizer checks this at exit: any model, session, XNNPACK
// operator or arena block a cycle fails to release is reported as a leak.
TEST_CASE("session: load, run, unload cycles release everything") {
  auto cfg = testing::tiny_config();
  auto ck = testing::random_checkpoint(cfg, 4);
  const auto bytes = testing::int8_model_bytes(ck);
  std::vector<int32_t> ids(2 * 16, 5);
  for (int cycle = 0; cycle < 50; ++cycle) {
    auto model = Model::load_from_memory(bytes);
    REQUIRE(model.ok());
    auto session = Session::create(*model);
    REQUIRE(session.ok());
    Outputs out;
    REQUIRE((*session)->run(Inputs{1 + cycle % 2, 1 + cycle % 16, ids.data(), nullptr, nullptr}, &out).ok());
  }
}

}  // namespace
}  // namespace encore
