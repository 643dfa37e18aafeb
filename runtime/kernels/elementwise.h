// Element-wise kernels on contiguous arrays: residual adds, (de)quantization, activations.
//
// Quantization is affine int8: real = scale * (q - zero_point), q in [-128, 127].
// quantize rounds half to even (as nearbyint in the default rounding mode) and saturates.
// All functions are single-threaded over the range they are given; callers split work
// across threads. Input and output may alias only where stated.
#pragma once

#include <cstddef>
#include <cstdint>

#include "encore/config.h"

namespace encore {

// acc[i] += x[i]
void add_f32(size_t n, const float* x, float* acc);

// y[i] = scale * (q[i] - zero_point)
void dequantize_qs8_f32(size_t n, const int8_t* q, float scale, int32_t zero_point, float* y);

// y[i] = float(x[i]) for IEEE half-precision bit patterns.
void f16_to_f32(size_t n, const uint16_t* x, float* y);

// y[i] = saturate(round_half_even(x[i] / scale) + zero_point). NaN maps to zero_point.
void quantize_f32_qs8(size_t n, const float* x, float scale, int32_t zero_point, int8_t* y);

// y[i] = act(x[i]); x and y may alias.
void activation_f32(Activation act, size_t n, const float* x, float* y);

// y[i] = tanh(x[i]); x and y may alias.
void tanh_f32(size_t n, const float* x, float* y);

// An int8 -> int8 activation is exact as a 256-entry table: for every input code q,
// lut[q + 128] = quantize(act(dequantize(q))).
void make_activation_lut_qs8(Activation act, float in_scale, int32_t in_zero_point,
                             float out_scale, int32_t out_zero_point, int8_t lut[256]);

// y[i] = lut[x[i] + 128]; x and y may alias.
void apply_lut_qs8(size_t n, const int8_t* x, const int8_t lut[256], int8_t* y);

}  // namespace encore
