#include "kernels/norm.h"

#include <cmath>

#include "kernels/kernel_table.h"
#include "kernels/loop_kernels.h"
#include "kernels/math_approx.h"

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

// The bodies of layer_norm_f32 and the plain-loop residual_layer_norm, compiled once per
// x86-64 level (loop_kernels.h).
ENCORE_INLINE void layer_norm_f32_body(size_t rows, size_t cols, const float* x, const float* gamma, const float* beta, float eps,
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

ENCORE_INLINE void residual_layer_norm_body(size_t rows, size_t cols, float* x, const float* gamma,
                                           const float* beta, float eps, const ResidualNormQs8& io) {
  const float inv_cols = 1.0f / static_cast<float>(cols);
  const float residual_zp = static_cast<float>(io.residual_zero_point);
  const float q_zp = static_cast<float>(io.q_zero_point), inv_q_scale = 1.0f / io.q_scale;
  for (size_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    if (io.residual) {
      const int8_t* rr = io.residual + r * cols;
      for (size_t c = 0; c < cols; ++c) xr[c] += io.residual_scale * (static_cast<float>(rr[c]) - residual_zp);
    }
    const float mean = sum(cols, xr) * inv_cols;
    const float var = sum_squared_deviation(cols, xr, mean) * inv_cols;
    const float inv_std = 1.0f / std::sqrt(var + eps);
    for (size_t c = 0; c < cols; ++c) xr[c] = (xr[c] - mean) * inv_std * gamma[c] + beta[c];
    if (io.q) {
      int8_t* qr = io.q + r * cols;
      for (size_t c = 0; c < cols; ++c) qr[c] = internal::saturate_round_qs8(xr[c] * inv_q_scale, q_zp);
    }
  }
}

}  // namespace

#define ENCORE_NORM_VARIANTS(suffix, attr)                                                                         \
  attr void internal::layer_norm_f32_##suffix(size_t rows, size_t cols, const float* x, const float* gamma,        \
                                              const float* beta, float eps, float* y) {                            \
    layer_norm_f32_body(rows, cols, x, gamma, beta, eps, y);                                                       \
  }                                                                                                                \
  attr void internal::residual_layer_norm_##suffix(size_t rows, size_t cols, float* x, const float* gamma,         \
                                                   const float* beta, float eps, const ResidualNormQs8& io) {      \
    residual_layer_norm_body(rows, cols, x, gamma, beta, eps, io);                                                 \
  }

ENCORE_NORM_VARIANTS(default, )
#ifdef ENCORE_X86_LEVELS
ENCORE_NORM_VARIANTS(x86_64_v3, ENCORE_X86_V3)
ENCORE_NORM_VARIANTS(x86_64_v4, ENCORE_X86_V4)
#endif
#undef ENCORE_NORM_VARIANTS

void layer_norm_f32(size_t rows, size_t cols, const float* x, const float* gamma, const float* beta, float eps,
                    float* y) {
  internal::kernel_table().layer_norm(rows, cols, x, gamma, beta, eps, y);
}

void residual_layer_norm(size_t rows, size_t cols, float* x, const float* gamma, const float* beta, float eps,
                         const ResidualNormQs8& io) {
  // The table's AVX-512 kernel where the CPU has it, else these plain loops.
  internal::kernel_table().residual_layer_norm(rows, cols, x, gamma, beta, eps, io);
}

}  // namespace encore
