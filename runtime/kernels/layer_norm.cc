#include "kernels/layer_norm.h"

#include <cmath>

#include "kernels/multiversion.h"

namespace encore {
namespace {

// Sums with 8 independent partial sums: the compiler keeps them in one vector register
// (it may not reorder a single float accumulator), and the rounding error stays lower than
// a sequential sum's.
constexpr size_t kLanes = 8;

ENCORE_INLINE float sum(size_t n, const float* x) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t l = 0; l < kLanes; ++l) acc[l] += x[i + l];
  for (; i < n; ++i) acc[i % kLanes] += x[i];
  float s = 0.0f;
  for (float a : acc) s += a;
  return s;
}

ENCORE_INLINE float sum_squared_deviation(size_t n, const float* x, float mean) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t l = 0; l < kLanes; ++l) {
      const float d = x[i + l] - mean;
      acc[l] += d * d;
    }
  for (; i < n; ++i) {
    const float d = x[i] - mean;
    acc[i % kLanes] += d * d;
  }
  float s = 0.0f;
  for (float a : acc) s += a;
  return s;
}

}  // namespace

ENCORE_MULTIVERSION
void layer_norm_f32(size_t rows, size_t cols, const float* x, const float* gamma, const float* beta, float eps,
                    float* y) {
  const float inv_cols = 1.0f / static_cast<float>(cols);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    // Two passes (mean, then squared deviations): the one-pass E[x^2] - E[x]^2 loses
    // precision on the large-mean rows of a residual stream.
    const float mean = sum(cols, xr) * inv_cols;
    const float var = sum_squared_deviation(cols, xr, mean) * inv_cols;
    const float inv_std = 1.0f / std::sqrt(var + eps);
    for (size_t c = 0; c < cols; ++c) yr[c] = (xr[c] - mean) * inv_std * gamma[c] + beta[c];
  }
}

}  // namespace encore
