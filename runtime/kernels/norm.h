// LayerNorm over the last dimension, as torch.nn.LayerNorm: biased variance, eps inside
// the square root, then gamma * x_hat + beta.
#pragma once

#include <cstddef>
#include <cstdint>

namespace encore {

// For each of `rows` rows of `cols` floats (row stride = cols): y = LayerNorm(x).
// x and y may alias (in place).
void layer_norm_f32(size_t rows, size_t cols, const float* x, const float* gamma,
                    const float* beta, float eps, float* y);

// The int8 encoder's step around each LayerNorm, one row at a time so each row stays in L1:
//   x += residual_scale * (residual - residual_zero_point)   (when residual is not null)
//   x = LayerNorm(x)                                          (in place)
//   q = saturate(round_half_even(x * (1 / q_scale)) + q_zero_point)   (when q is not null)
// The quantization multiplies by the reciprocal, as PyTorch's quantize does; it can differ
// from quantize_f32_qs8's division by one code where x / q_scale is within an ulp of a tie.
// NaN quantizes to the zero point. No allocation.
struct ResidualNormQs8 {
  const int8_t* residual = nullptr;  // [rows, cols] or null
  float residual_scale = 1.0f;
  int32_t residual_zero_point = 0;
  int8_t* q = nullptr;  // [rows, cols] or null
  float q_scale = 1.0f;
  int32_t q_zero_point = 0;
};
void residual_layer_norm(size_t rows, size_t cols, float* x, const float* gamma, const float* beta, float eps,
                         const ResidualNormQs8& io);

}  // namespace encore
