// The batching queue between encore-serve's HTTP threads and its model workers.
//
// A request becomes a Job: its inputs (already tokenized once to count tokens and check limits)
// and room for one output per input. Jobs wait in one bounded FIFO. Each worker thread owns a
// BatchRunner (its own sessions, created once at start) and repeatedly takes the next batch:
// the oldest pending input, then further pending inputs of the same task in queue order while
// the batch stays within the token budget. A batch's budget counts padding (inputs x longest
// input), since that is what a run's buffers are planned for; the encoder itself computes only
// the real tokens (the session packs each row to its own length). Inputs of one request may
// spread over several batches, and one batch may serve several requests.
//
// Thread-safety: BatchQueue's methods may be called from any thread. A Job belongs to the queue
// from submit() until it is finished or cancelled; its fields marked "under the queue's lock"
// are only touched with that lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "encore/status.h"

namespace encore::serve {

class Metrics;

using Clock = std::chrono::steady_clock;

// What a batch computes; one batch runs one task.
enum class Task { kEmbedText, kEmbedIds, kClassify, kClassifyPairs };

struct Input {
  std::string text;          // kEmbedText, kClassify, kClassifyPairs (the first text)
  std::string pair;          // kClassifyPairs: the second text
  std::vector<int32_t> ids;  // kEmbedIds: the tokens as given
  size_t tokens = 0;         // tokens it runs as, special tokens included (after truncation)
};

struct Output {
  std::vector<float> values;  // the embedding (not normalized), or the label probabilities
  std::vector<float> logits;  // classification: the raw logits
};

// Runs batches for one worker thread (never called concurrently).
class BatchRunner {
 public:
  virtual ~BatchRunner() = default;
  // Fills one output per input, in order.
  virtual Status run(Task task, const std::vector<const Input*>& inputs, std::vector<Output>* outputs) = 0;
};

struct Job {
  Task task = Task::kEmbedText;
  std::vector<Input> inputs;
  Clock::time_point arrived{}, deadline{};
  // Under the queue's lock:
  std::vector<Output> outputs;
  size_t next = 0;     // inputs before this one are taken by a batch
  size_t done = 0;     // inputs with their output written
  size_t running = 0;  // batches holding inputs of this job now
  bool cancelled = false;
  bool finished = false;
  Status status;  // set when finished
  std::condition_variable cv;
};

// One slice of a job in a batch: inputs [begin, end) of queue entry `job`.
struct Pick {
  size_t job = 0;
  size_t begin = 0, end = 0;
};

// The next batch from `queue` (in arrival order): the first job with pending inputs sets the
// task; inputs are taken in order while (inputs + 1) x longest stays within max_batch_tokens
// (the first input always goes, however long). A job whose next input does not fit keeps it
// for a later batch; later jobs may still fill the batch. At most max_batch_inputs inputs (0: no
// limit). Cancelled and finished jobs are skipped. Empty when nothing is pending.
std::vector<Pick> plan_batch(const std::vector<const Job*>& queue, size_t max_batch_tokens, size_t max_batch_inputs = 0);

struct QueueOptions {
  size_t max_batch_tokens = 8192;
  size_t max_queue = 256;  // requests queued or running; more are refused
  size_t max_batch_inputs = 0;  // 0: as many as the token budget allows
};

class BatchQueue {
 public:
  // Starts one worker thread per runner. `metrics` may be null.
  BatchQueue(const QueueOptions& options, std::vector<std::unique_ptr<BatchRunner>> runners, Metrics* metrics);
  ~BatchQueue();  // drain()
  BatchQueue(const BatchQueue&) = delete;
  BatchQueue& operator=(const BatchQueue&) = delete;

  enum class Admit { kQueued, kFull, kClosed };
  Admit submit(const std::shared_ptr<Job>& job);
  // Waits until `job` is finished (true) or its deadline passes (false: the job is cancelled;
  // inputs not yet taken are never run).
  bool wait(Job& job);
  // Refuses new jobs from now on (submit: kClosed); those queued still run.
  void close();
  // close(), waits until every queued job is finished or cancelled, then stops the workers.
  void drain();
  // Requests queued or running, and their inputs not yet taken.
  std::pair<size_t, size_t> depth() const;

 private:
  void work(BatchRunner& runner);
  void finish(Job& job, Status status);
  void prune();  // drops finished jobs, and cancelled ones no batch holds

  const QueueOptions options_;
  Metrics* metrics_;
  std::vector<std::unique_ptr<BatchRunner>> runners_;
  mutable std::mutex mutex_;
  std::condition_variable pending_;  // workers: a job arrived, or stop
  std::condition_variable idle_;     // drain(): the queue emptied
  std::deque<std::shared_ptr<Job>> queue_;
  bool closed_ = false, stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace encore::serve
