// Internal to encore's kernels: the signatures of the per-ISA microkernels (GEMM tiles,
// attention scores and P x V, the activation table) and the GEMM's scalar epilogue.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/gemm_qs8.h"
#include "kernels/layer_norm.h"

namespace encore::internal {

constexpr size_t kQs8TileRows = 4;  // MR of every kernel

// One tile: rows [0, mr) of x against one panel, channels [0, nc) stored.
struct Qs8Tile {
  size_t mr, nc, in;
  const int8_t* x;  // first row of the tile
  size_t x_stride;
  const int8_t* panel;  // [k_groups][NR][4]
  const int32_t* init;  // [NR]
  const float* scale;   // [NR]
  int8_t* y;
  size_t y_stride;
  int32_t output_zero_point;
};

// The 4-byte group of row `row` at byte k (zero-filled past `in`, so the last group never
// reads beyond the row).
inline uint32_t load_group(const int8_t* row, size_t k, size_t in) {
  uint32_t v = 0;
  if (in - k >= 4) {
    std::memcpy(&v, row + k, 4);  // a constant size: one load
  } else {
    std::memcpy(&v, row + k, in - k);
  }
  return v;
}

// The same for 8-byte groups.
inline uint64_t load_group8(const int8_t* row, size_t k, size_t in) {
  uint64_t v = 0;
  if (in - k >= 8) {
    std::memcpy(&v, row + k, 8);
  } else {
    std::memcpy(&v, row + k, in - k);
  }
  return v;
}

// XNNPACK's fp32 requantization: float(acc) * scale, clamped so that adding the zero point
// stays in int8, rounded half to even (the default rounding mode), plus the zero point.
inline int8_t requantize_fp32(int32_t acc, float scale, int32_t zero_point) {
  float f = static_cast<float>(acc) * scale;
  const float lo = static_cast<float>(-128 - zero_point), hi = static_cast<float>(127 - zero_point);
  f = f < lo ? lo : f;
  f = f > hi ? hi : f;
  return static_cast<int8_t>(std::lrintf(f) + zero_point);
}

void qs8_tile_portable(const Qs8Tile& t);

// Attention scores of rows [0, rows) of q against keys [0, keys) (see qs8_scores).
struct Qs8ScoreTile {
  size_t rows, keys, head_dim;
  const int8_t* q;
  size_t q_stride;
  const int8_t* packed;   // qs8_scores_pack_keys layout
  const int32_t* comp;    // its per-key terms, [ceil(keys / 16) * 16]
  float mult;
  const float* key_bias;  // may be null
  float* scores;
  size_t scores_stride;
  float* row_max;  // [rows] or null: each row's maximum score
};

// qs8_gemm_run with a given tile function (tests run shimmed x86 tiles through it).
struct Qs8PvTile {
  size_t rows, quads, cols;
  const uint8_t* p;  // rows of 4 * quads probability codes
  size_t p_stride;
  const int8_t* v;    // qs8_pv_pack_values layout, [quads][cols][4]
  const float* mult;  // [rows]
  const float* mass;  // [rows] or null (then means is too)
  const float* means;  // [cols] or null
  float* out;
  int8_t* out_q;  // when not null: int8 rows here instead of out (qs8_pv's contract)
  size_t out_stride;
  int32_t out_zero_point;
};

// qs8_pv_pack_values in plain loops.
void qs8_pv_pack_values_portable(size_t keys, size_t cols, const int8_t* v, size_t v_stride, int8_t* packed,
                                 float* means);

// qs8_scores_pack_keys with the term -input_offset * sum_c k[j][c], in plain loops.
void qs8_scores_pack_keys_portable(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride, int8_t* packed,
                                   int32_t input_offset);

void qs8_gemm_run_tile(const Qs8GemmWeights& w, size_t rows, const int8_t* x, int8_t* y,
                       pthreadpool_t pool, void (*tile)(const Qs8Tile&));
#if defined(__x86_64__) && defined(__GNUC__)
#define ENCORE_HAVE_X86_VNNI_KERNELS 1
void qs8_tile_avx512vnni(const Qs8Tile& t);
void qs8_tile_avxvnni(const Qs8Tile& t);
void qs8_scores_avx512vnni(const Qs8ScoreTile& t);
// qs8_scores_pack_keys for that kernel (offset 128), by 32-bit gathers.
void qs8_scores_pack_keys_avx512vnni(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride, int8_t* packed);
// y[i] = lut[x[i] + 128] with AVX-512 VBMI byte permutes; x and y may alias.
void lut_qs8_avx512vbmi(size_t n, const int8_t* x, const int8_t* lut, int8_t* y);
// Attention's P x V in float for rows 1..4: out[r][c] = sum over j ascending of
// fma(p[r][j], v[j][c], .), for c < cols. AVX-512F.
void f32_pv_avx512(size_t rows, size_t keys, size_t cols, const float* p, size_t p_stride, const float* v,
                   size_t v_stride, float* out, size_t out_stride);
// Attention's P x V in integers for rows 1..4 (qs8_pv's contract): vpdpbusd on key quads.
void qs8_pv_avx512vnni(const Qs8PvTile& t);
// qs8_pv_pack_values's contract on AVX-512 F + BW + VL + VNNI.
void qs8_pv_pack_values_avx512vnni(size_t keys, size_t cols, const int8_t* v, size_t v_stride, int8_t* packed,
                                   float* means);
// qs8_pv_softmax_rows's contract on AVX-512 F + BW.
void softmax_u8_avx512(size_t rows, size_t n, const float* scores, size_t s_stride, float p_scale, uint8_t* p,
                       size_t p_stride, float* sums, float* mass, const float* row_max);
// residual_layer_norm's contract on AVX-512 F + BW + VL.
void residual_layer_norm_avx512(size_t rows, size_t cols, float* x, const float* gamma, const float* beta, float eps,
                                const ResidualNormQs8& io);
#endif
#if defined(__aarch64__) && defined(__GNUC__) && defined(__linux__)
#define ENCORE_HAVE_NEONDOT_KERNEL 1
void qs8_tile_neondot(const Qs8Tile& t);
void qs8_tile_neoni8mm(const Qs8Tile& t);
void qs8_scores_neondot(const Qs8ScoreTile& t);
#endif

}  // namespace encore::internal
