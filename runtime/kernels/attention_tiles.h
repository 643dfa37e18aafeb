// Internal to encore's kernels: the tiles of attention's int8 steps (what each ISA's scores
// and P x V microkernels compute) and the portable packers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/attention.h"

namespace encore::internal {

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

// Attention's P x V in integers for rows [0, rows) (see qs8_pv).
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

using Qs8ScoresFn = void (*)(const Qs8ScoreTile&);
using Qs8ScoresPackKeysFn = void (*)(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride, int8_t* packed);
using Qs8PvFn = void (*)(const Qs8PvTile&);
using Qs8PvPackValuesFn = void (*)(size_t keys, size_t cols, const int8_t* v, size_t v_stride, int8_t* packed,
                                   float* means);
// qs8_pv_softmax_rows's contract with the scale as a float.
using Qs8SoftmaxCodesFn = void (*)(size_t rows, size_t keys, const float* scores, size_t scores_stride, float p_scale,
                                   uint8_t* p, size_t p_stride, float* sums, float* mass, const float* row_max);
// Attention's P x V in float for rows 1..4: out[r][c] = sum over j ascending of
// fma(p[r][j], v[j][c], .), for c < cols.
using F32PvFn = void (*)(size_t rows, size_t keys, size_t cols, const float* p, size_t p_stride, const float* v,
                         size_t v_stride, float* out, size_t out_stride);

// qs8_pv_pack_values in plain loops.
void qs8_pv_pack_values_portable(size_t keys, size_t cols, const int8_t* v, size_t v_stride, int8_t* packed,
                                 float* means);

// qs8_scores_pack_keys with the term -input_offset * sum_c k[j][c], in plain loops.
void qs8_scores_pack_keys_portable(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride, int8_t* packed,
                                   int32_t input_offset);

}  // namespace encore::internal
