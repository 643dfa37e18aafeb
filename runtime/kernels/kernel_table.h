// Internal to encore: the kernel table, one function pointer (and a name for reports and the
// profile) per kernel job, chosen once from the CPU features (core/cpu_features.h), as
// XNNPACK's hardware config fills its gemm config. The public entry points (gemm.h,
// attention.h, norm.h, elementwise.h) dispatch through kernel_table(); tests build a table for
// any feature subset with make_kernel_table() to run every path the CPU has.
//
// A table is plain data, immutable once built; kernel_table() is built on first use
// (thread-safe) and lives for the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cpu_features.h"
#include "kernels/attention.h"
#include "kernels/attention_tiles.h"
#include "kernels/gemm.h"
#include "kernels/gemm_tile.h"
#include "kernels/norm.h"

namespace encore::internal {

struct KernelTable;

// attention_head_f32 / attention_head_qs8 with the table whose kernels they call.
using AttentionF32Fn = void (*)(const KernelTable& t, size_t seq_len, size_t head_dim, const float* q, const float* k,
                                const float* v, size_t row_stride, const float* key_bias, float scale, float* scratch,
                                float* out, size_t out_stride, float* probs, size_t probs_stride);
using AttentionQs8Fn = void (*)(const KernelTable& t, size_t seq_len, size_t head_dim, const int8_t* q, float q_scale,
                                const int8_t* k, float k_scale, const int8_t* v, float v_scale, size_t row_stride,
                                const float* key_bias, float scale, float* scratch, float* out, size_t out_stride,
                                float* probs, size_t probs_stride, const ContextQs8* quantized_out);
using AttentionWindowF32Fn = void (*)(const KernelTable& t, size_t seq_len, size_t head_dim, size_t half_window,
                                      const float* q, const float* k, const float* v, size_t row_stride,
                                      const float* key_bias, float scale, float* scratch, float* out,
                                      size_t out_stride);
using AttentionWindowQs8Fn = void (*)(const KernelTable& t, size_t seq_len, size_t head_dim, size_t half_window,
                                      const int8_t* q, float q_scale, const int8_t* k, float k_scale,
                                      const int8_t* v, float v_scale, size_t row_stride, const float* key_bias,
                                      float scale, float* scratch, float* out, size_t out_stride,
                                      const ContextQs8* quantized_out);
using RotaryF32Fn = void (*)(size_t rows, size_t heads, size_t head_dim, float* x, size_t stride,
                             const int32_t* positions, const float* cos, const float* sin);
using RotaryQs8Fn = void (*)(size_t rows, size_t heads, size_t head_dim, int8_t* x, size_t stride,
                             const int32_t* positions, const float* cos, const float* sin);
using GegluQs8Fn = void (*)(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point, const float* table,
                            int32_t y_zero_point, int8_t* y);
using GegluRowsQs8Fn = void (*)(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point, const float* table,
                                int8_t* y, float* row_scale);
using GegluErfF32Fn = void (*)(size_t rows, size_t width, const float* x, float* y);
using LayerNormFn = void (*)(size_t rows, size_t cols, const float* x, const float* gamma, const float* beta, float eps,
                             float* y);
using ResidualNormFn = void (*)(size_t rows, size_t cols, float* x, const float* gamma, const float* beta, float eps,
                                const ResidualNormQs8& io);
using LutQs8Fn = void (*)(size_t n, const int8_t* x, const int8_t* lut, int8_t* y);
using AddF32Fn = void (*)(size_t n, const float* x, float* acc);
using F16ToF32Fn = void (*)(size_t n, const uint16_t* x, float* y);
using QuantizeF32Qs8Fn = void (*)(size_t n, const float* x, float scale, int32_t zero_point, int8_t* y);

constexpr size_t kQs8GemmKernels = 5;  // the Qs8GemmKernel values

struct KernelTable {
  // The features the table was built from.
  CpuFeatures features;
  // x86-64 level of the plain-loop kernels (x86_levels.h): "x86-64-v4", "x86-64-v3" or "default".
  const char* level = "default";

  // Int8 GEMM: which kernels can run (indexed by Qs8GemmKernel) and the best of them.
  bool gemm_supported[kQs8GemmKernels] = {true};
  Qs8GemmKernel gemm = Qs8GemmKernel::kPortable;
  Qs8TileFn gemm_tile = nullptr;
  bool gemm_beats_xnnpack = false;  // see qs8_gemm_beats_xnnpack
  const char* gemm_name = "";

  // Attention scores in integers (qs8_scores). Null: none on this CPU (qs8_scores_supported
  // is false). scores_pack_keys null: the plain loops with scores_input_offset.
  Qs8ScoresFn scores = nullptr;
  Qs8ScoresPackKeysFn scores_pack_keys = nullptr;
  int32_t scores_input_offset = 0;  // what the score kernel adds to each query byte
  bool scores_sets_row_max = false;  // else qs8_scores scans the rows for row_max
  const char* scores_name = "none";

  // Attention's P x V in integers: all three or none (qs8_pv_supported).
  Qs8PvFn pv = nullptr;
  Qs8PvPackValuesFn pv_pack_values = nullptr;
  Qs8SoftmaxCodesFn softmax_codes = nullptr;
  const char* pv_name = "none";
  const char* softmax_codes_name = "none";

  // Attention's P x V in float: an explicit tile, or null for attention.cc's loops.
  F32PvFn f32_pv = nullptr;
  const char* f32_pv_name = "loops";

  // One attention head, f32 and int8 (x86-64 level variants).
  AttentionF32Fn attention_f32 = nullptr;
  AttentionQs8Fn attention_qs8 = nullptr;
  const char* attention_name = "";
  // The sliding-window variants (ModernBERT's local layers).
  AttentionWindowF32Fn attention_window_f32 = nullptr;
  AttentionWindowQs8Fn attention_window_qs8 = nullptr;

  // ModernBERT's rotary embedding and int8 GeGLU (rotary.h), per level.
  RotaryF32Fn rotary_f32 = nullptr;
  RotaryQs8Fn rotary_qs8 = nullptr;
  GegluQs8Fn geglu_qs8 = nullptr;
  GegluRowsQs8Fn geglu_rows_qs8 = nullptr;
  GegluErfF32Fn geglu_erf_f32 = nullptr;

  // LayerNorm, and the int8 encoder's residual + LayerNorm + quantize step.
  LayerNormFn layer_norm = nullptr;
  ResidualNormFn residual_layer_norm = nullptr;
  const char* layer_norm_name = "";
  const char* residual_layer_norm_name = "";

  // Element-wise: the int8 table lookup (null: one load per byte), and the level variants.
  LutQs8Fn lut = nullptr;
  const char* lut_name = "encore qs8 lut loops";
  AddF32Fn add = nullptr;
  F16ToF32Fn f16_to_f32 = nullptr;
  QuantizeF32Qs8Fn quantize = nullptr;
  const char* elementwise_name = "";
};

// The kernels this build has for a CPU with features `f` (any subset of this CPU's features
// gives a table whose every kernel runs here).
KernelTable make_kernel_table(const CpuFeatures& f);

// The process-wide table: make_kernel_table(cpu_features()), built once.
const KernelTable& kernel_table();

// One line per job: "gemm: encore qs8 gemm avx512vnni 4x64", "attention: ...", ...
std::string describe_kernels(const KernelTable& t);

// What attention_head_qs8 (int8) or attention_head_f32 runs for heads of `head_dim` with this
// table, for the profile: the head's level, then its scores and P x V kernels
// ("encore attention x86-64-v4 qs8: scores encore qs8 scores avx512vnni 4x64, P x V ...").
std::string attention_kernel_name(const KernelTable& t, bool int8, size_t head_dim);

}  // namespace encore::internal
