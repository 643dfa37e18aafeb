// LayerNorm over the last dimension, as torch.nn.LayerNorm: biased variance, eps inside
// the square root, then gamma * x_hat + beta.
#pragma once

#include <cstddef>

namespace encore {

// For each of `rows` rows of `cols` floats (row stride = cols): y = LayerNorm(x).
// x and y may alias (in place).
void layer_norm_f32(size_t rows, size_t cols, const float* x, const float* gamma,
                    const float* beta, float eps, float* y);

}  // namespace encore
