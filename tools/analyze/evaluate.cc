#include "analyze/evaluate.h"

#include <algorithm>
#include <cmath>

#include "core/str.h"

namespace encore::analyze {

Evaluator::Evaluator(Session& session, const EvalSet& set, int64_t batch_size)
    : session_(session), set_(set), batch_size_(std::max<int64_t>(1, batch_size)) {
  ids_.resize(static_cast<size_t>(std::min(batch_size_, set.count) * set.seq));
  mask_.resize(ids_.size());
}

Result<EvalResult> Evaluator::run() {
  const int64_t labels = static_cast<int64_t>(session_.model().config().labels.size());
  if (labels == 0) return invalid_argument("the model has no classifier head");
  EvalResult r;
  r.is_correct.assign(static_cast<size_t>(set_.count), 0);
  double loss = 0.0;
  for (int64_t start = 0; start < set_.count; start += batch_size_) {
    const int64_t n = std::min(batch_size_, set_.count - start);
    int64_t longest = 0;
    for (int64_t i = 0; i < n; ++i) longest = std::max<int64_t>(longest, set_.lengths[static_cast<size_t>(start + i)]);
    for (int64_t i = 0; i < n; ++i) {
      const auto from = static_cast<std::ptrdiff_t>((start + i) * set_.seq);
      std::copy_n(set_.ids.begin() + from, longest, ids_.begin() + static_cast<std::ptrdiff_t>(i * longest));
      std::copy_n(set_.mask.begin() + from, longest, mask_.begin() + static_cast<std::ptrdiff_t>(i * longest));
    }
    Inputs in{n, longest, ids_.data(), mask_.data(), nullptr};
    Outputs out;
    Status st = session_.run(in, &out);
    if (!st.ok()) return st.with_context(cat("sequences ", start, "..", start + n - 1));
    for (int64_t i = 0; i < n; ++i) {
      const float* z = out.logits + i * labels;
      const int64_t best = std::max_element(z, z + labels) - z;
      const int32_t truth = set_.labels[static_cast<size_t>(start + i)];
      r.correct += best == truth;
      r.is_correct[static_cast<size_t>(start + i)] = best == truth;
      // Cross-entropy through log-sum-exp, in double.
      double total = 0.0;
      for (int64_t k = 0; k < labels; ++k) total += std::exp(double(z[k]) - z[best]);
      loss += std::log(total) - (double(z[truth]) - z[best]);
    }
  }
  r.count = set_.count;
  r.accuracy = r.count ? double(r.correct) / double(r.count) : 0.0;
  r.mean_loss = r.count ? loss / double(r.count) : 0.0;
  return r;
}

double accuracy_drop_bound(const EvalResult& before, const EvalResult& after, double sigmas) {
  const size_t n = std::min(before.is_correct.size(), after.is_correct.size());
  if (n == 0) return 100.0 * (before.accuracy - after.accuracy);
  double sum = 0.0, square = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(before.is_correct[i]) - double(after.is_correct[i]);
    sum += d;
    square += d * d;
  }
  const double mean = sum / double(n);
  const double variance = std::max(0.0, square / double(n) - mean * mean);
  return 100.0 * (mean + sigmas * std::sqrt(variance / double(n)));
}

}  // namespace encore::analyze
