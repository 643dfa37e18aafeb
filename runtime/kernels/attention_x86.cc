// x86 kernels of attention: int8 scores on vpdpbusd, their key packing, P x V in float and in
// integers (vpdpbusd on uint8 codes), the integer softmax's codes and V's packing. See
// x86_simd.h for how they are compiled and tested.
#include <cmath>
#include <limits>

#include "kernels/x86_simd.h"

namespace encore::internal {
ENCORE_X86_SHIM_BEGIN

// Attention scores: 4 query rows x NP panels of 16 keys, NP <= 4 (a template, so that the
// accumulators keep constant indices). Flipped: the rows already hold q + 128 (q xor 0x80).
template <size_t NP, bool Flipped>
ENCORE_X86_TARGET("avx512f,avx512vnni") inline void qs8_scores_block(const Qs8ScoreTile& t, const int8_t* const* rows,
                                                                     size_t j0, __m512* vmax) {
  __m512i acc[kQs8TileRows][NP];
  _Pragma("GCC unroll 4") for (size_t p = 0; p < NP; ++p) {
    const __m512i comp = _mm512_loadu_si512(t.comp + j0 + 16 * p);
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) acc[m][p] = comp;
  }
  const __m512i flip = _mm512_set1_epi32(static_cast<int>(0x80808080u));
  const size_t panel_bytes = t.head_dim * 16;
  const int8_t* kp = t.packed + (j0 / 16) * panel_bytes;
  for (size_t c = 0; c < t.head_dim; c += 4, kp += 64) {
    __m512i w[NP];
    _Pragma("GCC unroll 4") for (size_t p = 0; p < NP; ++p) w[p] = _mm512_loadu_si512(kp + p * panel_bytes);
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
      const __m512i xb = _mm512_set1_epi32(static_cast<int>(load4(rows[m] + c)));
      const __m512i xm = Flipped ? xb : _mm512_xor_si512(xb, flip);
      _Pragma("GCC unroll 4") for (size_t p = 0; p < NP; ++p) acc[m][p] = _mm512_dpbusd_epi32(acc[m][p], xm, w[p]);
    }
  }
  // The tile's fields in locals: the stores below may alias anything as far as the compiler
  // knows, and it reloaded them from memory after each one.
  const __m512 mult = _mm512_set1_ps(t.mult);
  const size_t tile_rows = t.rows, keys = t.keys, stride = t.scores_stride;
  const float* const key_bias = t.key_bias;
  float* const scores = t.scores;
  __m512 block_max[kQs8TileRows];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) block_max[m] = vmax[m];
  _Pragma("GCC unroll 4") for (size_t p = 0; p < NP; ++p) {
    const size_t j = j0 + 16 * p;
    const size_t n = keys - j < 16 ? keys - j : 16;
    const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1u);
    const __m512 bias = key_bias ? _mm512_maskz_loadu_ps(mask, key_bias + j) : _mm512_setzero_ps();
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
      if (m < tile_rows) {
        const __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m][p]), mult, bias);
        // Masked stores cost several times a plain one on Zen 4: only a partial panel's.
        if (n == 16) {
          _mm512_storeu_ps(scores + m * stride + j, y);
        } else {
          _mm512_mask_storeu_ps(scores + m * stride + j, mask, y);
        }
        block_max[m] = _mm512_mask_max_ps(block_max[m], mask, block_max[m], y);
      }
    }
  }
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) vmax[m] = block_max[m];
}

// The blocks of a tile, keeping each row's running maximum in a register (one vmaxps per
// stored vector) so that the softmax need not read the row once more to find it.
template <bool Flipped>
ENCORE_X86_TARGET("avx512f,avx512vnni") inline void qs8_scores_blocks(const Qs8ScoreTile& t, const int8_t* const* rows) {
  __m512 vmax[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) vmax[m] = _mm512_set1_ps(std::numeric_limits<float>::lowest());
  size_t j = 0;
  for (; j + 64 <= t.keys; j += 64) qs8_scores_block<4, Flipped>(t, rows, j, vmax);
  switch ((t.keys - j + 15) / 16) {
    case 4: qs8_scores_block<4, Flipped>(t, rows, j, vmax); break;
    case 3: qs8_scores_block<3, Flipped>(t, rows, j, vmax); break;
    case 2: qs8_scores_block<2, Flipped>(t, rows, j, vmax); break;
    case 1: qs8_scores_block<1, Flipped>(t, rows, j, vmax); break;
    default: break;
  }
  if (t.row_max) {
    for (size_t m = 0; m < t.rows; ++m) t.row_max[m] = _mm512_cvtss_f32(max_across_lanes(vmax[m]));
  }
}

ENCORE_X86_TARGET("avx512f,avx512vnni") void qs8_scores_avx512vnni(const Qs8ScoreTile& t) {
  const int8_t* rows[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) rows[m] = t.q + (m < t.rows ? m : 0) * t.q_stride;
  // The query rows flipped to q + 128 once per tile, rather than in every key block's
  // broadcasts (an eighth of the block's vector instructions at head_dim 32).
  constexpr size_t kMaxFlipped = 256;
  if (t.head_dim > kMaxFlipped || t.keys <= 64) {
    qs8_scores_blocks<false>(t, rows);
    return;
  }
  alignas(64) int8_t flipped[kQs8TileRows][kMaxFlipped];
  for (size_t m = 0; m < kQs8TileRows; ++m) {
    for (size_t c = 0; c < t.head_dim; ++c) flipped[m][c] = static_cast<int8_t>(rows[m][c] ^ 0x80);
    rows[m] = flipped[m];
  }
  qs8_scores_blocks<true>(t, rows);
}

// Key panels by gathers: each 64-byte group row of a panel is one 4-byte column group of its
// 16 keys (padding keys zero, by the gather mask); the per-key sums come from vpdpbusd with
// ones, as the score kernel's input offset needs them (-128 * sum).
ENCORE_X86_TARGET("avx512f,avx512vnni")
void qs8_scores_pack_keys_avx512vnni(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride, int8_t* packed) {
  alignas(64) static constexpr int32_t kIota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const __m512i rows = _mm512_mullo_epi32(_mm512_load_si512(kIota), _mm512_set1_epi32(static_cast<int>(k_stride)));
  const __m512i ones = _mm512_set1_epi32(0x01010101);
  const size_t panels = (keys + 15) / 16;
  int32_t* comp = reinterpret_cast<int32_t*>(packed + panels * 16 * head_dim);
  for (size_t p = 0; p < panels; ++p) {
    const size_t n = keys - 16 * p < 16 ? keys - 16 * p : 16;
    const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1u);
    const int8_t* base = k + 16 * p * k_stride;
    int8_t* dst = packed + p * head_dim * 16;
    __m512i sums = _mm512_setzero_si512();
    for (size_t c = 0; c < head_dim; c += 4, dst += 64) {
      const __m512i group = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, rows, base + c, 1);
      _mm512_storeu_si512(dst, group);
      sums = _mm512_dpbusd_epi32(sums, ones, group);
    }
    _mm512_storeu_si512(comp + 16 * p, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sums, 7)));
  }
}

// Attention's P x V: 4 probability rows x NV vectors of 16 output columns, NV <= 4; the last
// vector is masked to `cols`.
template <size_t NV>
ENCORE_X86_TARGET("avx512f") inline void f32_pv_block(size_t rows, size_t keys, size_t cols, const float* const* p,
                                                     const float* v, size_t v_stride, float* out, size_t out_stride,
                                                     size_t c0) {
  __m512 acc[kQs8TileRows][NV];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) acc[m][q] = _mm512_setzero_ps();
  }
  // Columns in the last vector, 1..16 (a full block of a wider row has 16 there too).
  const size_t rest = cols - c0 - 16 * (NV - 1);
  const size_t last = rest < 16 ? rest : 16;
  const __mmask16 last_mask = static_cast<__mmask16>((1u << last) - 1u);
  const float* vr = v + c0;
  for (size_t j = 0; j < keys; ++j, vr += v_stride) {
    __m512 w[NV];
    _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) {
      w[q] = q + 1 < NV ? _mm512_loadu_ps(vr + 16 * q) : _mm512_maskz_loadu_ps(last_mask, vr + 16 * q);
    }
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
      const __m512 pm = _mm512_set1_ps(p[m][j]);
      _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) acc[m][q] = _mm512_fmadd_ps(pm, w[q], acc[m][q]);
    }
  }
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    if (m < rows) {
      _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) {
        _mm512_mask_storeu_ps(out + m * out_stride + c0 + 16 * q, q + 1 < NV ? __mmask16(0xFFFF) : last_mask,
                              acc[m][q]);
      }
    }
  }
}

ENCORE_X86_TARGET("avx512f")
void f32_pv_avx512(size_t rows, size_t keys, size_t cols, const float* p, size_t p_stride, const float* v,
                   size_t v_stride, float* out, size_t out_stride) {
  const float* prow[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) prow[m] = p + (m < rows ? m : 0) * p_stride;
  size_t c0 = 0;
  for (; c0 + 64 <= cols; c0 += 64) f32_pv_block<4>(rows, keys, cols, prow, v, v_stride, out, out_stride, c0);
  switch ((cols - c0 + 15) / 16) {
    case 4: f32_pv_block<4>(rows, keys, cols, prow, v, v_stride, out, out_stride, c0); break;
    case 3: f32_pv_block<3>(rows, keys, cols, prow, v, v_stride, out, out_stride, c0); break;
    case 2: f32_pv_block<2>(rows, keys, cols, prow, v, v_stride, out, out_stride, c0); break;
    case 1: f32_pv_block<1>(rows, keys, cols, prow, v, v_stride, out, out_stride, c0); break;
    default: break;
  }
}

// Attention's P x V in integers: 4 probability rows x NV vectors of 16 output columns, NV <= 4;
// each vpdpbusd adds one key quad (four uint8 codes broadcast, four int8 values per column) to
// 16 int32 sums.
template <size_t NV>
ENCORE_X86_TARGET("avx512f,avx512vnni") inline void qs8_pv_block(const Qs8PvTile& t, const uint8_t* const* p,
                                                                 size_t c0) {
  __m512i acc[kQs8TileRows][NV];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) acc[m][q] = _mm512_setzero_si512();
  }
  const size_t rest = t.cols - c0 - 16 * (NV - 1);
  const size_t last = rest < 16 ? rest : 16;
  const __mmask16 last_mask = static_cast<__mmask16>((1u << last) - 1u);
  const int8_t* vr = t.v + 4 * c0;
  for (size_t j = 0; j < t.quads; ++j, vr += 4 * t.cols) {
    __m512i w[NV];
    _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) {
      w[q] = q + 1 < NV ? _mm512_loadu_si512(vr + 64 * q) : _mm512_maskz_loadu_epi32(last_mask, vr + 64 * q);
    }
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
      uint32_t quad;
      std::memcpy(&quad, p[m] + 4 * j, sizeof quad);
      const __m512i pm = _mm512_set1_epi32(static_cast<int>(quad));
      _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) acc[m][q] = _mm512_dpbusd_epi32(acc[m][q], pm, w[q]);
    }
  }
  const __m512 lo = _mm512_set1_ps(-300.0f), hi = _mm512_set1_ps(300.0f);
  const __m512i zp = _mm512_set1_epi32(t.out_zero_point);
  __m512 means[NV];
  _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) {
    means[q] = t.means ? _mm512_maskz_loadu_ps(q + 1 < NV ? __mmask16(0xFFFF) : last_mask, t.means + c0 + 16 * q)
                       : _mm512_setzero_ps();
  }
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    if (m < t.rows) {
      const __m512 mult = _mm512_set1_ps(t.mult[m]);
      const __m512 mass = _mm512_set1_ps(t.mass && t.means ? t.mass[m] : 0.0f);
      _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) {
        const __mmask16 mask = q + 1 < NV ? __mmask16(0xFFFF) : last_mask;
        const __m512 y = _mm512_mul_ps(_mm512_fmadd_ps(mass, means[q], _mm512_cvtepi32_ps(acc[m][q])), mult);
        if (t.out_q) {
          // NaN to 0, clamped so that the conversion stays exact; vcvtps2dq rounds half to
          // even in the default mode; vpmovsdb saturates.
          const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, y, _CMP_ORD_Q), y), lo), hi);
          const __m512i codes = _mm512_add_epi32(_mm512_cvtps_epi32(v), zp);
          int8_t* dst = t.out_q + m * t.out_stride + c0 + 16 * q;
          if (mask == 0xFFFF) {
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtsepi32_epi8(codes));
          } else {
            _mm512_mask_cvtsepi32_storeu_epi8(dst, mask, codes);
          }
        } else {
          _mm512_mask_storeu_ps(t.out + m * t.out_stride + c0 + 16 * q, mask, y);
        }
      }
    }
  }
}

ENCORE_X86_TARGET("avx512f,avx512vnni") void qs8_pv_avx512vnni(const Qs8PvTile& t) {
  const uint8_t* prow[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) prow[m] = t.p + (m < t.rows ? m : 0) * t.p_stride;
  size_t c0 = 0;
  for (; c0 + 64 <= t.cols; c0 += 64) qs8_pv_block<4>(t, prow, c0);
  switch ((t.cols - c0 + 15) / 16) {
    case 4: qs8_pv_block<4>(t, prow, c0); break;
    case 3: qs8_pv_block<3>(t, prow, c0); break;
    case 2: qs8_pv_block<2>(t, prow, c0); break;
    case 1: qs8_pv_block<1>(t, prow, c0); break;
    default: break;
  }
}

// V's key quads, 16 columns at a time: each key's 16 bytes widened to 32-bit lanes and shifted
// to its byte of the lane; the column sums by vpdpbusd of the quads with ones (V is the signed
// operand there).
ENCORE_X86_TARGET("avx512f,avx512bw,avx512vl,avx512vnni")
void qs8_pv_pack_values_avx512vnni(size_t keys, size_t cols, const int8_t* v, size_t v_stride, int8_t* packed,
                                   float* means) {
  const size_t full = cols / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (cols - full)) - 1u);
  const __m512i ones = _mm512_set1_epi32(0x01010101);
  const __m512 keys_f = _mm512_set1_ps(static_cast<float>(keys));
  for (size_t c = 0; c < cols; c += 16) {
    const __mmask16 mask = c < full ? __mmask16(0xFFFF) : tail;
    __m512i sums = _mm512_setzero_si512();
    for (size_t j = 0; j < keys; j += 4) {
      __m512i quad = _mm512_setzero_si512();
      for (size_t i = 0; i < 4 && j + i < keys; ++i) {
        const __m512i b = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, v + (j + i) * v_stride + c));
        quad = _mm512_or_si512(quad, _mm512_slli_epi32(b, static_cast<unsigned>(8 * i)));
      }
      sums = _mm512_dpbusd_epi32(sums, ones, quad);
      _mm512_mask_storeu_epi32(packed + j * cols + 4 * c, mask, quad);
    }
    // float(sum) / keys, as the plain loops compute it.
    if (means) _mm512_mask_storeu_ps(means + c, mask, _mm512_div_ps(_mm512_cvtepi32_ps(sums), keys_f));
  }
}

// Softmax numerators e^x * scale for x = score - max <= 0, 16 lanes at a time.
// x log2e = k + f with k a multiple of 1/16 and |f| <= 1/32, by the 1.5 * 2^19 trick (t = x
// log2e + magic rounds to sixteenths; its low 4 mantissa bits are k's fraction j); then
// scale * 2^(j/16) from a 16-entry table (one vpermps), times 2^f by a degree-2 polynomial
// (relative error <= 1.7e-6), times 2^floor(k) by vscalefps. x is clamped at -16 first (the
// numerator is below 3e-5 of the scale there, and no denormal or infinite step follows), which
// also turns NaN into -16. Ten vector instructions for 16 keys, where exponent bits by shifts
// and a degree-5 polynomial took thirteen.
struct SoftmaxCodeConstants {
  __m512 lo, log2e, magic16, table, c1, c2;
};

ENCORE_X86_TARGET("avx512f") inline __m512 softmax_numerators(__m512 x, const SoftmaxCodeConstants& k) {
  x = _mm512_max_ps(x, k.lo);
  const __m512 t = _mm512_fmadd_ps(x, k.log2e, k.magic16);
  const __m512 sixteenths = _mm512_sub_ps(t, k.magic16);
  const __m512 f = _mm512_fmsub_ps(x, k.log2e, sixteenths);
  const __m512 table = _mm512_permutexvar_ps(_mm512_castps_si512(t), k.table);
  const __m512 poly = _mm512_mul_ps(_mm512_fmadd_ps(k.c2, f, k.c1), f);  // 2^f - 1
  return _mm512_scalef_ps(_mm512_fmadd_ps(table, poly, table), sixteenths);
}

// qs8_pv_softmax_rows for R rows interleaved, so that one row's reductions (the maximum's
// tree before its exponentials, the sums after) overlap with the other rows' work. Per row only
// vector work: the NaN test is one compare of the lane sums, the sums trees (a store and 16
// scalar adds per row had cost a fifth of the row).
template <size_t R>
ENCORE_X86_TARGET("avx512f,avx512bw")
inline void softmax_u8_rows(size_t n, const float* scores, size_t s_stride, float p_scale, uint8_t* p, size_t p_stride,
                            float* sums, float* mass, const float* row_max) {
  const __m512 lowest = _mm512_set1_ps(std::numeric_limits<float>::lowest());
  const size_t full = n / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - full)) - 1u);
  // Per row the maximum, and whether a score is NaN: given, or by one pass (a plain sum is NaN
  // exactly when a score is, or +inf meets -inf).
  __m512 vmax[R];
  bool has_nan[R];
  if (row_max) {
    _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
      vmax[m] = _mm512_set1_ps(row_max[m]);
      has_nan[m] = false;
    }
  } else {
    __m512 vsum[R];
    _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
      vmax[m] = lowest;
      vsum[m] = _mm512_setzero_ps();
    }
    for (size_t j = 0; j < full; j += 16) {
      _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
        const __m512 s = _mm512_loadu_ps(scores + m * s_stride + j);
        vmax[m] = _mm512_max_ps(vmax[m], s);
        vsum[m] = _mm512_add_ps(vsum[m], s);
      }
    }
    if (tail) {
      _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
        vmax[m] = _mm512_max_ps(vmax[m], _mm512_mask_loadu_ps(lowest, tail, scores + m * s_stride + full));
        vsum[m] = _mm512_add_ps(vsum[m], _mm512_maskz_loadu_ps(tail, scores + m * s_stride + full));
      }
    }
    _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
      vmax[m] = max_across_lanes(vmax[m]);
      has_nan[m] = _mm512_cmp_ps_mask(vsum[m], vsum[m], _CMP_ORD_Q) != 0xFFFF;
    }
  }
  alignas(64) static const float kPow2Sixteenths[16] = {
      1.0f,          1.04427378f, 1.09050773f, 1.13878863f, 1.18920712f, 1.24185781f, 1.29683955f, 1.35425555f,
      1.41421356f,   1.47682615f, 1.54221083f, 1.61049033f, 1.68179283f, 1.75625216f, 1.83400809f, 1.91520656f};
  SoftmaxCodeConstants k;
  k.lo = _mm512_set1_ps(-16.0f);
  k.log2e = _mm512_set1_ps(1.44269504088896341f);
  k.magic16 = _mm512_set1_ps(786432.0f);  // 1.5 * 2^19: its ulp is 1/16
  k.table = _mm512_mul_ps(_mm512_loadu_ps(kPow2Sixteenths), _mm512_set1_ps(p_scale));
  k.c1 = _mm512_set1_ps(0.693147180559945f);      // ln 2
  k.c2 = _mm512_set1_ps(0.240226506959101f);      // ln^2 2 / 2
  // vcvtps2dq rounds each numerator to its code (to nearest even, the default mode).
  __m512i code_sum[R];
  __m512 sum[R];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
    code_sum[m] = _mm512_setzero_si512();
    sum[m] = _mm512_setzero_ps();
  }
  // 64 keys at a time: two unsigned-saturating packs take four vectors of codes to bytes, ordered
  // by 128-bit lane, which one dword permute puts back in key order for a single store (the
  // store form of vpmovdb measured slow on Zen 4, and four of its register form cost more).
  alignas(64) static constexpr int32_t kLaneOrder[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
  const __m512i lane_order = _mm512_load_si512(kLaneOrder);
  size_t j = 0;
  for (; j + 64 <= n; j += 64) {
    _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
      const float* sr = scores + m * s_stride + j;
      __m512 e[4];
      __m512i c[4];
      _Pragma("GCC unroll 4") for (size_t v = 0; v < 4; ++v) {
        e[v] = softmax_numerators(_mm512_sub_ps(_mm512_loadu_ps(sr + 16 * v), vmax[m]), k);
        c[v] = _mm512_cvtps_epi32(e[v]);
      }
      sum[m] = _mm512_add_ps(sum[m], _mm512_add_ps(_mm512_add_ps(e[0], e[1]), _mm512_add_ps(e[2], e[3])));
      code_sum[m] = _mm512_add_epi32(code_sum[m], _mm512_add_epi32(_mm512_add_epi32(c[0], c[1]), _mm512_add_epi32(c[2], c[3])));
      const __m512i bytes = _mm512_packus_epi16(_mm512_packus_epi32(c[0], c[1]), _mm512_packus_epi32(c[2], c[3]));
      _mm512_storeu_si512(p + m * p_stride + j, _mm512_permutexvar_epi32(lane_order, bytes));
    }
  }
  for (; j < n; j += 16) {
    const __mmask16 mask = n - j >= 16 ? __mmask16(0xFFFF) : tail;
    _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
      // Masked-off lanes read the maximum: finite work, kept out of the sums and the store.
      const __m512 s = _mm512_mask_loadu_ps(vmax[m], mask, scores + m * s_stride + j);
      const __m512 e = softmax_numerators(_mm512_sub_ps(s, vmax[m]), k);
      const __m512i c = _mm512_cvtps_epi32(e);
      sum[m] = _mm512_mask_add_ps(sum[m], mask, sum[m], e);
      code_sum[m] = _mm512_mask_add_epi32(code_sum[m], mask, code_sum[m], c);
      _mm512_mask_cvtepi32_storeu_epi8(p + m * p_stride + j, mask, c);
    }
  }
  const size_t padded = (n + 3) / 4 * 4;
  _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
    uint8_t* pm = p + m * p_stride;
    for (size_t i = n; i < padded; ++i) pm[i] = 0;
    if (has_nan[m]) {
      for (size_t i = 0; i < n; ++i) pm[i] = 0;
      sums[m] = mass[m] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    const uint32_t codes = isum_across_lanes(code_sum[m]);  // <= keys * 255: fits int32
    sums[m] = _mm512_cvtss_f32(sum_across_lanes(sum[m]));
    mass[m] = sums[m] - static_cast<float>(static_cast<int32_t>(codes));
  }
}

ENCORE_X86_TARGET("avx512f,avx512bw")
void softmax_u8_avx512(size_t rows, size_t n, const float* scores, size_t s_stride, float p_scale, uint8_t* p,
                       size_t p_stride, float* sums, float* mass, const float* row_max) {
  switch (rows) {
    case 4: softmax_u8_rows<4>(n, scores, s_stride, p_scale, p, p_stride, sums, mass, row_max); break;
    case 3: softmax_u8_rows<3>(n, scores, s_stride, p_scale, p, p_stride, sums, mass, row_max); break;
    case 2: softmax_u8_rows<2>(n, scores, s_stride, p_scale, p, p_stride, sums, mass, row_max); break;
    case 1: softmax_u8_rows<1>(n, scores, s_stride, p_scale, p, p_stride, sums, mass, row_max); break;
    default: break;
  }
}

ENCORE_X86_SHIM_END
}  // namespace encore::internal
