// encore-serve's batching queue (tools/serve/batcher.h) with a stand-in runner: how batches are
// planned under the token budget, 429 when full, timeouts, failures, and draining.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>

#include "serve/batcher.h"

namespace encore::serve {
namespace {

std::shared_ptr<Job> job_of(Task task, const std::vector<size_t>& tokens, double timeout_s = 30) {
  auto job = std::make_shared<Job>();
  job->task = task;
  for (size_t t : tokens) {
    Input in;
    in.tokens = t;
    in.text = std::to_string(t);
    job->inputs.push_back(in);
  }
  job->arrived = Clock::now();
  job->deadline = job->arrived + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  return job;
}

std::vector<const Job*> view(const std::vector<std::shared_ptr<Job>>& jobs) {
  std::vector<const Job*> v;
  for (const auto& j : jobs) v.push_back(j.get());
  return v;
}

TEST_CASE("serve batcher: plan_batch packs in order under inputs x longest <= budget") {
  auto a = job_of(Task::kEmbedText, {10, 10, 10});
  auto b = job_of(Task::kEmbedText, {20, 5});
  // Budget 60: a's three inputs (3 x 10 = 30); b's first, 20 tokens, would make 4 x 20 = 80 > 60,
  // so b keeps it for the next batch.
  auto picks = plan_batch(view({a, b}), 60);
  REQUIRE(picks.size() == 1);
  CHECK((picks[0].job == 0 && picks[0].begin == 0 && picks[0].end == 3));
  // Budget 80: 4 x 20 fits, then 5 x 20 = 100 does not.
  picks = plan_batch(view({a, b}), 80);
  REQUIRE(picks.size() == 2);
  CHECK((picks[1].job == 1 && picks[1].begin == 0 && picks[1].end == 1));
  // A first input longer than the budget still goes, alone.
  auto big = job_of(Task::kEmbedText, {500, 1});
  picks = plan_batch(view({big, a}), 100);
  REQUIRE(picks.size() == 1);
  CHECK((picks[0].end == 1));
  // Inputs already taken, finished and cancelled jobs are skipped.
  a->next = 3;
  b->cancelled = true;
  auto c = job_of(Task::kEmbedText, {3});
  picks = plan_batch(view({a, b, c}), 100);
  REQUIRE(picks.size() == 1);
  CHECK(picks[0].job == 2);
  // max_batch_inputs caps the inputs, whatever the budget.
  auto many = job_of(Task::kEmbedText, {1, 1, 1, 1, 1});
  picks = plan_batch(view({many, c}), 1000, 2);
  REQUIRE(picks.size() == 1);
  CHECK((picks[0].begin == 0 && picks[0].end == 2));
  CHECK(plan_batch(view({many, c}), 1000, 0).size() == 2);
}

TEST_CASE("serve batcher: one task per batch, the oldest pending job's") {
  auto cls = job_of(Task::kClassify, {4});
  auto emb = job_of(Task::kEmbedText, {4, 4});
  auto cls2 = job_of(Task::kClassify, {4});
  auto picks = plan_batch(view({cls, emb, cls2}), 1000);
  REQUIRE(picks.size() == 2);
  CHECK(picks[0].job == 0);
  CHECK(picks[1].job == 2);
  CHECK(plan_batch(view({}), 1000).empty());
}

// A runner that records its batches, can be held at a gate, and fails on request.
struct FakeRunner : BatchRunner {
  std::mutex mutex;
  std::vector<size_t> batch_sizes;
  std::atomic<bool> hold{false};
  std::atomic<int> running{0};
  std::atomic<bool> fail{false};
  Status run(Task, const std::vector<const Input*>& inputs, std::vector<Output>* outputs) override {
    ++running;
    while (hold) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    {
      std::lock_guard<std::mutex> lock(mutex);
      batch_sizes.push_back(inputs.size());
    }
    --running;
    if (fail) return internal_error("stand-in failure");
    outputs->clear();
    for (const Input* in : inputs) outputs->push_back({{static_cast<float>(in->tokens)}, {}});
    return Status::Ok();
  }
};

struct QueueWithFake {
  FakeRunner* runner = nullptr;
  std::unique_ptr<BatchQueue> queue;
  explicit QueueWithFake(QueueOptions o) {
    auto r = std::make_unique<FakeRunner>();
    runner = r.get();
    std::vector<std::unique_ptr<BatchRunner>> runners;
    runners.push_back(std::move(r));
    queue = std::make_unique<BatchQueue>(o, std::move(runners), nullptr);
  }
};

void wait_until(const std::function<bool()>& ready) {
  for (int i = 0; i < 5000 && !ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(ready());
}

TEST_CASE("serve batcher: every input gets its own output, and waiting jobs share batches") {
  QueueWithFake q(QueueOptions{64, 100});
  q.runner->hold = true;
  auto first = job_of(Task::kEmbedText, {8});
  REQUIRE(q.queue->submit(first) == BatchQueue::Admit::kQueued);
  wait_until([&] { return q.runner->running == 1; });
  // While the first batch runs, three jobs arrive: they go together into the next batch.
  std::vector<std::shared_ptr<Job>> jobs;
  for (size_t t : {3, 5, 7}) {
    jobs.push_back(job_of(Task::kEmbedText, {t, t + 1}));
    REQUIRE(q.queue->submit(jobs.back()) == BatchQueue::Admit::kQueued);
  }
  q.runner->hold = false;
  REQUIRE(q.queue->wait(*first));
  for (auto& j : jobs) {
    REQUIRE(q.queue->wait(*j));
    REQUIRE(j->status.ok());
    for (size_t i = 0; i < j->inputs.size(); ++i) CHECK(j->outputs[i].values[0] == float(j->inputs[i].tokens));
  }
  std::lock_guard<std::mutex> lock(q.runner->mutex);
  CHECK(q.runner->batch_sizes == std::vector<size_t>{1, 6});
}

TEST_CASE("serve batcher: a full queue refuses, a closed one too") {
  QueueWithFake q(QueueOptions{64, 2});
  q.runner->hold = true;
  auto a = job_of(Task::kEmbedText, {4}), b = job_of(Task::kEmbedText, {4}), c = job_of(Task::kEmbedText, {4});
  CHECK(q.queue->submit(a) == BatchQueue::Admit::kQueued);
  CHECK(q.queue->submit(b) == BatchQueue::Admit::kQueued);
  CHECK(q.queue->submit(c) == BatchQueue::Admit::kFull);
  q.runner->hold = false;
  REQUIRE(q.queue->wait(*a));
  REQUIRE(q.queue->wait(*b));
  wait_until([&] { return q.queue->depth().first == 0; });
  CHECK(q.queue->submit(c) == BatchQueue::Admit::kQueued);
  REQUIRE(q.queue->wait(*c));
  q.queue->close();
  CHECK(q.queue->submit(job_of(Task::kEmbedText, {4})) == BatchQueue::Admit::kClosed);
}

TEST_CASE("serve batcher: a request past its deadline is cancelled and never run") {
  QueueWithFake q(QueueOptions{64, 10});
  q.runner->hold = true;
  auto running = job_of(Task::kEmbedText, {4});
  REQUIRE(q.queue->submit(running) == BatchQueue::Admit::kQueued);
  wait_until([&] { return q.runner->running == 1; });
  auto late = job_of(Task::kEmbedText, {4, 4}, 0.05);
  REQUIRE(q.queue->submit(late) == BatchQueue::Admit::kQueued);
  CHECK_FALSE(q.queue->wait(*late));  // 50 ms pass while the worker is held
  CHECK(q.queue->depth() == std::make_pair(size_t{1}, size_t{0}));
  q.runner->hold = false;
  REQUIRE(q.queue->wait(*running));
  wait_until([&] { return q.queue->depth().first == 0; });
  std::lock_guard<std::mutex> lock(q.runner->mutex);
  CHECK(q.runner->batch_sizes == std::vector<size_t>{1});  // the late job's inputs never ran
}

TEST_CASE("serve batcher: a failed batch fails its jobs with the runner's message, and the worker goes on") {
  QueueWithFake q(QueueOptions{64, 10});
  q.runner->fail = true;
  auto a = job_of(Task::kEmbedText, {4});
  REQUIRE(q.queue->submit(a) == BatchQueue::Admit::kQueued);
  REQUIRE(q.queue->wait(*a));
  CHECK(a->status.message() == "stand-in failure");
  q.runner->fail = false;
  auto b = job_of(Task::kEmbedText, {4});
  REQUIRE(q.queue->submit(b) == BatchQueue::Admit::kQueued);
  REQUIRE(q.queue->wait(*b));
  CHECK(b->status.ok());
}

TEST_CASE("serve batcher: drain finishes every queued job before the workers stop") {
  QueueWithFake q(QueueOptions{8, 100});
  q.runner->hold = true;
  std::vector<std::shared_ptr<Job>> jobs;
  for (int i = 0; i < 20; ++i) {
    jobs.push_back(job_of(Task::kEmbedText, {4, 4, 4}));
    REQUIRE(q.queue->submit(jobs.back()) == BatchQueue::Admit::kQueued);
  }
  auto drained = std::async(std::launch::async, [&] { q.queue->drain(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(q.queue->submit(job_of(Task::kEmbedText, {4})) == BatchQueue::Admit::kClosed);
  q.runner->hold = false;
  drained.get();
  for (auto& j : jobs) {
    CHECK(j->finished);
    CHECK(j->done == 3);
  }
}

}  // namespace
}  // namespace encore::serve
