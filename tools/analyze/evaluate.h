// Accuracy and mean loss of a classifier session on an evaluation set, with whatever heads
// are masked or FFNs bypassed in the session at the time.
#pragma once

#include <cstdint>
#include <vector>

#include "analyze/eval_set.h"
#include "encore/session.h"
#include "encore/status.h"

namespace encore::analyze {

struct EvalResult {
  int64_t correct = 0, count = 0;
  double accuracy = 0.0;          // correct / count
  double mean_loss = 0.0;         // mean cross-entropy of the true label (natural log)
  std::vector<uint8_t> is_correct;  // [count], per example
};

// How much worse `after` is than `before` on the same examples, in accuracy points, plus
// `sigmas` standard errors of that paired difference (from the examples whose correctness
// changed: with d_i in {-1, 0, 1}, SE = sqrt(var(d) / n)). Searches that stop at a bound use it
// so that a drop that only fits the tuning set by chance does not count as fitting.
double accuracy_drop_bound(const EvalResult& before, const EvalResult& after, double sigmas);

// Runs `set` through `session` in batches of up to `batch_size` sequences, each batch cut to
// its longest sequence (padding never changes a result, so this only saves work). Reuses
// buffers kept in the Evaluator, so repeated evaluations allocate nothing after the first.
class Evaluator {
 public:
  Evaluator(Session& session, const EvalSet& set, int64_t batch_size = 64);
  Result<EvalResult> run();

 private:
  Session& session_;
  const EvalSet& set_;
  int64_t batch_size_;
  std::vector<int32_t> ids_, mask_;
};

}  // namespace encore::analyze
