// Internal to encore's kernels: the kernels written as plain loops (the compiler vectorises
// them), each compiled once per x86-64 level (x86_levels.h). The kernel table picks a level;
// `_default` exists everywhere, `_x86_64_v3` / `_x86_64_v4` where ENCORE_X86_LEVELS is defined.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"
#include "kernels/x86_levels.h"

namespace encore::internal {

#define ENCORE_LOOP_KERNELS(suffix)                                                                                  \
  void attention_head_f32_##suffix(const KernelTable& t, size_t seq_len, size_t head_dim, const float* q,           \
                                   const float* k, const float* v, size_t row_stride, const float* key_bias,        \
                                   float scale, float* scratch, float* out, size_t out_stride, float* probs,        \
                                   size_t probs_stride);                                                            \
  void attention_head_qs8_##suffix(const KernelTable& t, size_t seq_len, size_t head_dim, const int8_t* q,          \
                                   float q_scale, const int8_t* k, float k_scale, const int8_t* v, float v_scale,   \
                                   size_t row_stride, const float* key_bias, float scale, float* scratch,           \
                                   float* out, size_t out_stride, float* probs, size_t probs_stride,                \
                                   const ContextQs8* quantized_out);                                                \
  void attention_window_f32_##suffix(const KernelTable& t, size_t seq_len, size_t head_dim, size_t half_window,    \
                                     const float* q, const float* k, const float* v, size_t row_stride,             \
                                     const float* key_bias, float scale, float* scratch, float* out,                \
                                     size_t out_stride);                                                            \
  void attention_window_qs8_##suffix(const KernelTable& t, size_t seq_len, size_t head_dim, size_t half_window,    \
                                     const int8_t* q, float q_scale, const int8_t* k, float k_scale,                \
                                     const int8_t* v, float v_scale, size_t row_stride, const float* key_bias,      \
                                     float scale, float* scratch, float* out, size_t out_stride,                    \
                                     const ContextQs8* quantized_out);                                              \
  void rotary_f32_##suffix(size_t rows, size_t heads, size_t head_dim, float* x, size_t stride,                     \
                           const int32_t* positions, const float* cos, const float* sin);                          \
  void rotary_qs8_##suffix(size_t rows, size_t heads, size_t head_dim, int8_t* x, size_t stride,                    \
                           const int32_t* positions, const float* cos, const float* sin);                          \
  void geglu_qs8_##suffix(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point, const float* table,    \
                          int32_t y_zero_point, int8_t* y);                                                         \
  void geglu_rows_qs8_##suffix(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point, const float* table, \
                               int8_t* y, float* row_scale);                                                        \
  void geglu_erf_f32_##suffix(size_t rows, size_t width, const float* x, float* y);                                  \
  void layer_norm_f32_##suffix(size_t rows, size_t cols, const float* x, const float* gamma, const float* beta,     \
                               float eps, float* y);                                                                \
  void residual_layer_norm_##suffix(size_t rows, size_t cols, float* x, const float* gamma, const float* beta,      \
                                    float eps, const ResidualNormQs8& io);                                          \
  void add_f32_##suffix(size_t n, const float* x, float* acc);                                                      \
  void f16_to_f32_##suffix(size_t n, const uint16_t* x, float* y);                                                  \
  void quantize_f32_qs8_##suffix(size_t n, const float* x, float scale, int32_t zero_point, int8_t* y);

ENCORE_LOOP_KERNELS(default)
#ifdef ENCORE_X86_LEVELS
ENCORE_LOOP_KERNELS(x86_64_v3)
ENCORE_LOOP_KERNELS(x86_64_v4)
#endif
#undef ENCORE_LOOP_KERNELS

}  // namespace encore::internal
