#include "serve/batcher.h"

#include <algorithm>

#include "core/str.h"
#include "serve/metrics.h"

namespace encore::serve {

std::vector<Pick> plan_batch(const std::vector<const Job*>& queue, size_t max_batch_tokens, size_t max_batch_inputs) {
  const size_t max_rows = max_batch_inputs > 0 ? max_batch_inputs : SIZE_MAX;
  std::vector<Pick> picks;
  bool have_task = false;
  Task task = Task::kEmbedText;
  size_t rows = 0, longest = 0;
  for (size_t j = 0; j < queue.size(); ++j) {
    const Job& job = *queue[j];
    if (job.cancelled || job.finished || job.next >= job.inputs.size()) continue;
    if (!have_task) {
      have_task = true;
      task = job.task;
    } else if (job.task != task) {
      continue;
    }
    size_t end = job.next;
    while (end < job.inputs.size() && rows < max_rows) {
      const size_t l = std::max(longest, job.inputs[end].tokens);
      if (rows > 0 && (rows + 1) * l > max_batch_tokens) break;
      longest = l;
      ++rows;
      ++end;
    }
    if (end > job.next) picks.push_back({j, job.next, end});
    if (rows * longest >= max_batch_tokens || rows >= max_rows) break;
  }
  return picks;
}

BatchQueue::BatchQueue(const QueueOptions& options, std::vector<std::unique_ptr<BatchRunner>> runners, Metrics* metrics)
    : options_(options), metrics_(metrics), runners_(std::move(runners)) {
  for (auto& r : runners_) workers_.emplace_back([this, runner = r.get()] { work(*runner); });
}

BatchQueue::~BatchQueue() { drain(); }

BatchQueue::Admit BatchQueue::submit(const std::shared_ptr<Job>& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return Admit::kClosed;
  if (queue_.size() >= options_.max_queue) return Admit::kFull;
  job->outputs.resize(job->inputs.size());
  queue_.push_back(job);
  pending_.notify_one();
  return Admit::kQueued;
}

bool BatchQueue::wait(Job& job) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (job.cv.wait_until(lock, job.deadline, [&] { return job.finished; })) return true;
  job.cancelled = true;
  prune();
  return false;
}

void BatchQueue::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
}

void BatchQueue::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  closed_ = true;
  idle_.wait(lock, [&] { return queue_.empty(); });
  stopping_ = true;
  pending_.notify_all();
  lock.unlock();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
}

std::pair<size_t, size_t> BatchQueue::depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t inputs = 0;
  for (const auto& job : queue_) {
    if (!job->cancelled) inputs += job->inputs.size() - job->next;
  }
  return {queue_.size(), inputs};
}

void BatchQueue::finish(Job& job, Status status) {
  job.finished = true;
  job.status = std::move(status);
  job.cv.notify_all();
}

void BatchQueue::prune() {
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [](const std::shared_ptr<Job>& j) { return j->finished || (j->cancelled && j->running == 0); }),
               queue_.end());
  if (queue_.empty()) idle_.notify_all();
}

void BatchQueue::work(BatchRunner& runner) {
  std::vector<const Job*> view;
  std::vector<const Input*> inputs;
  std::vector<Output> outputs;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    std::vector<Pick> picks;
    pending_.wait(lock, [&] {
      if (stopping_) return true;
      view.clear();
      for (const auto& j : queue_) view.push_back(j.get());
      picks = plan_batch(view, options_.max_batch_tokens, options_.max_batch_inputs);
      return !picks.empty();
    });
    if (picks.empty()) return;  // stopping, nothing pending
    // Take the picked inputs; the jobs stay alive (shared) while this batch runs.
    std::vector<std::shared_ptr<Job>> jobs;
    inputs.clear();
    size_t tokens = 0, longest = 0;
    const Clock::time_point start = Clock::now();
    for (const Pick& p : picks) {
      const std::shared_ptr<Job>& job = queue_[p.job];
      if (job->next == 0 && metrics_) metrics_->queue_wait(std::chrono::duration<double>(start - job->arrived).count());
      job->next = p.end;
      ++job->running;
      jobs.push_back(job);
      for (size_t i = p.begin; i < p.end; ++i) {
        inputs.push_back(&job->inputs[i]);
        tokens += job->inputs[i].tokens;
        longest = std::max(longest, job->inputs[i].tokens);
      }
    }
    // Another worker may take the next batch meanwhile.
    pending_.notify_one();
    lock.unlock();
    outputs.clear();
    Status st = runner.run(jobs.front()->task, inputs, &outputs);
    if (st.ok() && outputs.size() != inputs.size()) {
      st = internal_error(cat("a batch of ", inputs.size(), " inputs gave ", outputs.size(), " outputs"));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (metrics_) metrics_->batch(inputs.size(), tokens, inputs.size() * longest, seconds);
    lock.lock();
    size_t o = 0;
    for (size_t k = 0; k < picks.size(); ++k) {
      Job& job = *jobs[k];
      --job.running;
      const size_t n = picks[k].end - picks[k].begin;
      if (job.finished) {
        o += n;
        continue;
      }
      if (!st.ok()) {
        finish(job, st);
        o += n;
        continue;
      }
      for (size_t i = picks[k].begin; i < picks[k].end; ++i) job.outputs[i] = std::move(outputs[o++]);
      job.done += n;
      if (job.done == job.inputs.size()) finish(job, Status::Ok());
    }
    prune();
  }
}

}  // namespace encore::serve
