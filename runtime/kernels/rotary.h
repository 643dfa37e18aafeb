// ModernBERT's position and FFN kernels: the rotary position embedding on Q and K, and the
// gated activation (GeGLU) of its FFN, f32 and int8.
#pragma once

#include <cstddef>
#include <cstdint>

#include "encore/config.h"

namespace encore {

// The rotary tables of one base theta for positions [0, positions): cos[p * half + i] and
// sin[p * half + i] of p * inv_freq[i], half = head_dim / 2, computed as Hugging Face's
// ModernBertRotaryEmbedding does: inv_freq = 1 / theta^(2i / head_dim) and the product in
// float32, its cos / sin rounded to float32.
void rotary_tables(size_t positions, size_t head_dim, float theta, float* cos, float* sin);

// In place on `rows` rows of `heads` x head_dim values (row stride `stride`), the row's
// position positions[r]: per head, the halves x1 = x[:half], x2 = x[half:] become
//   x1 * cos - x2 * sin,  x2 * cos + x1 * sin
// which is q * cos + rotate_half(q) * sin (Hugging Face's apply_rotary_pos_emb).
void rotary_f32(size_t rows, size_t heads, size_t head_dim, float* x, size_t stride, const int32_t* positions,
                const float* cos, const float* sin);

// The same on int8 codes with zero point 0, written back in the same scale: round half to even
// of the rotated codes, saturated (the calibrated scale covers the rotated values).
void rotary_qs8(size_t rows, size_t heads, size_t head_dim, int8_t* x, size_t stride, const int32_t* positions,
                const float* cos, const float* sin);

// GeGLU on `rows` rows: y[r][c] = act(x[r][c]) * x[r][width + c] for c < width (x rows are
// 2 width wide: the input half, then the gate half; y rows width wide). x and y do not alias.
// The erf GELU uses a vectorised approximation of erfc (absolute error below 1.5e-7 in
// 1 + erf), not std::erf; the other activations are activation_f32's.
void geglu_f32(Activation act, size_t rows, size_t width, const float* x, float* y);

// The int8 GeGLU, fused with the requantization: x codes in one scale / zero point (both halves),
// y codes in another. table[q + 128] = act(x_scale * (q - x_zero_point)) * x_scale / y_scale,
// so y = saturate(round_half_even(table[a] * (b - x_zero_point)) + y_zero_point) for input
// code a and gate code b: one table load and one multiply per element.
void make_geglu_table_qs8(Activation act, float x_scale, int32_t x_zero_point, float y_scale, float table[256]);
void geglu_qs8(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point, const float table[256],
               int32_t y_zero_point, int8_t* y);

// The same product with a scale per row instead of one for every row (the FFN-down input of
// models with per-token scales): table as above with y_scale 1 (the product's real value per
// input code), and for each row row_scale[r] = max |product| / 127 (1 for a row of zeros),
// y = saturate(round_half_even(product * (1 / row_scale[r]))) with zero point 0.
void geglu_rows_qs8(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point, const float table[256], int8_t* y,
                    float* row_scale);

}  // namespace encore
