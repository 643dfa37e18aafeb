// Out of memory anywhere inside a C API call is a status, never an exception in C code (which
// would terminate the program) and never a leak (the dev preset runs this under ASan's leak
// checker). This executable replaces the global operator new, which libencore.so's C++ code
// also calls, so that one chosen allocation on the test's thread throws std::bad_alloc; the
// test fails each allocation of a whole load / create / run / run_text sequence in turn.
#include <doctest/doctest.h>

#include <cstdlib>
#include <new>
#include <string>

#include "capi/capi_test_util.h"

namespace {

// Armed only on the thread running the test, so doctest and other threads are unaffected.
thread_local long allocations_until_failure = -1;  // -1: disarmed
thread_local bool keep_failing = false;             // after the first failure, fail every allocation
thread_local long failures_injected = 0;

void* allocate(std::size_t size) {
  if (allocations_until_failure == 0) {
    ++failures_injected;
    if (!keep_failing) allocations_until_failure = -1;
    throw std::bad_alloc();
  }
  if (allocations_until_failure > 0) --allocations_until_failure;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}

struct Injection {
  Injection(long after, bool all) {
    failures_injected = 0;
    keep_failing = all;
    allocations_until_failure = after;
  }
  ~Injection() { allocations_until_failure = -1; }
};

struct Sequence {
  static constexpr int kCalls = 4;
  encore_status status[kCalls] = {ENCORE_OK, ENCORE_OK, ENCORE_OK, ENCORE_OK};
  encore_error* error[kCalls] = {nullptr, nullptr, nullptr, nullptr};
  long injected = 0;
  bool failed_runs_publish_nothing = true;  // no outputs or text infos after a failed run
};

// What an application does: load, create a profiled session, run ids, run text, free.
// Allocation failures are armed only inside; nothing here allocates on the test's behalf.
Sequence run_sequence(long fail_at, bool keep) {
  Sequence q;
  static const int32_t ids[6] = {2, 100, 200, 300, 400, 3};
  static const char* const texts[2] = {"Schmetterling", "a longer text of several words"};
  encore_session_options options;
  encore_session_options_init(&options);
  options.profile = 1;
  encore_inputs in;
  encore_inputs_init(&in);
  in.seq_len = 6;
  in.input_ids = ids;
  {
    Injection armed(fail_at, keep);
    encore_model* model = nullptr;
    encore_session* session = nullptr;
    q.status[0] = encore_model_load(capi_test::kLangid.c_str(), nullptr, &model, &q.error[0]);
    if (q.status[0] == ENCORE_OK) q.status[1] = encore_session_create(model, &options, &session, &q.error[1]);
    if (session) {
      q.status[2] = encore_session_run(session, &in, &q.error[2]);
      if (q.status[2] != ENCORE_OK && encore_session_outputs(session)) q.failed_runs_publish_nothing = false;
      q.status[3] = encore_session_run_text(session, texts, 2, &q.error[3]);
      if (q.status[3] != ENCORE_OK &&
          (encore_session_outputs(session) || encore_session_text_info(session, 0))) {
        q.failed_runs_publish_nothing = false;
      }
    }
    encore_session_free(session);
    encore_model_free(model);
    q.injected = failures_injected;
  }
  return q;
}

// Every failed call says out of memory, with an error object to free.
void check_failures(Sequence& q, long fail_at) {
  int failed = 0;
  for (int i = 0; i < Sequence::kCalls; ++i) {
    INFO("allocation " << fail_at << ", call " << i);
    if (q.status[i] == ENCORE_OK) {
      CHECK(q.error[i] == nullptr);
      continue;
    }
    ++failed;
    CHECK(q.status[i] == ENCORE_RESOURCE_EXHAUSTED);
    REQUIRE(q.error[i] != nullptr);
    CHECK(encore_error_code(q.error[i]) == ENCORE_RESOURCE_EXHAUSTED);
    const std::string message = encore_error_message(q.error[i]);
    CHECK(message.find("out of memory") != std::string::npos);
    encore_error_free(q.error[i]);
  }
  CHECK((failed > 0) == (q.injected > 0));
  CHECK(q.failed_runs_publish_nothing);
}

}  // namespace

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("C API: an allocation failure anywhere is ENCORE_RESOURCE_EXHAUSTED, never a crash") {
  Sequence clean = run_sequence(-1, false);
  for (int i = 0; i < Sequence::kCalls; ++i) REQUIRE(clean.status[i] == ENCORE_OK);
  // How many allocations the sequence makes (it is deterministic): the smallest n for which
  // failing the allocation after n others injects nothing.
  auto injects = [](long n) {
    Sequence q = run_sequence(n, false);
    for (int i = 0; i < Sequence::kCalls; ++i) encore_error_free(q.error[i]);
    return q.injected > 0;
  };
  long lo = 0, hi = 1;
  while (injects(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const long mid = lo + (hi - lo) / 2;
    (injects(mid) ? lo : hi) = mid;
  }
  const long total = hi;
  MESSAGE("the sequence makes " << total << " allocations");
  REQUIRE(total > 100);

  // Each of the first 400 allocations, then every 7th to the end, fails in turn (all of them
  // take minutes under ASan).
  long tried = 0;
  for (long n = 0; n < total; n += n < 400 ? 1 : 7) {
    Sequence q = run_sequence(n, false);
    CHECK(q.injected == 1);
    check_failures(q, n);
    ++tried;
  }
  // When even the error object cannot be allocated, the call returns the static one.
  for (long n : {0L, 1L, 50L, total / 3, total / 2, total - 1}) {
    Sequence q = run_sequence(n, true);
    check_failures(q, n);
  }
  MESSAGE(tried << " single allocation failures checked");
}
