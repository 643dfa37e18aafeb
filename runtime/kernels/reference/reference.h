// Plain scalar references for the kernels, in double precision and written for clarity,
// not speed: the tests compare every optimised kernel against these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "encore/config.h"

namespace encore::reference {

double activation(Activation act, double x);

// round half to even, saturate to [-128, 127]; NaN -> zero point.
int8_t quantize(double x, double scale, int32_t zero_point);

void layer_norm(size_t rows, size_t cols, const float* x, const float* gamma, const float* beta, double eps,
                std::vector<double>* y);

// softmax(Q K^T * scale + key_bias) V for one head; q/k/v rows of head_dim with row_stride.
// key_bias null: no mask; otherwise entries < -1e30 mark padded keys. out: [seq_len, head_dim];
// probs (optional): the softmax, [seq_len, seq_len].
void attention(size_t seq_len, size_t head_dim, const double* q, const double* k, const double* v,
               size_t row_stride, const float* key_bias, double scale, std::vector<double>* out,
               std::vector<double>* probs = nullptr);

}  // namespace encore::reference
