// x86 vpdpbusd tiles. Compiled for the baseline with per-function targets, so the library
// still runs on any x86-64; callers reach these only when the CPU has the instructions.
// Tests also compile this file against plain C++ stand-ins for the intrinsics it uses
// (tests/kernels/x86_intrinsics_shim.h, included before this file), so that its tiling, tails
// and epilogue are checked on CPUs without VNNI too.
#ifdef ENCORE_GEMM_X86_SHIM
#define ENCORE_X86_TARGET(features)
#define ENCORE_GEMM_X86_BEGIN namespace shim {
#define ENCORE_GEMM_X86_END }
#else
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -Wmaybe-uninitialized
// and -Wuninitialized report inside the header once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
#define ENCORE_X86_TARGET(features) __attribute__((target(features)))
#define ENCORE_GEMM_X86_BEGIN
#define ENCORE_GEMM_X86_END
#endif

#include <cmath>
#include <limits>

#include "kernels/gemm_qs8_tile.h"

namespace encore::internal {
ENCORE_GEMM_X86_BEGIN
namespace {

// Rows past the tile's last read row 0 again (their results are not stored), so the inner
// loop has no row-count branches.
inline void row_pointers(const Qs8Tile& t, const int8_t* rows[kQs8TileRows]) {
  for (size_t m = 0; m < kQs8TileRows; ++m) rows[m] = t.x + (m < t.mr ? m : 0) * t.x_stride;
}

}  // namespace

// The loops below index their accumulators with constants only (unrolled), and the epilogue
// reads them back from a local array: a dynamic index (m < t.mr) anywhere would make GCC keep
// them on the stack, a store and a reload around every vpdpbusd (3.5x slower, measured).

// The full 4-byte groups of row k..k+3 go through one load; the last, partial group (in not
// a multiple of 4) through load_group, outside the hot loop.
inline uint32_t load4(const int8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 4 rows x 64 channels: 16 zmm accumulators; per group of 4 input bytes, 4 weight loads,
// 4 broadcasts (each xor'd to unsigned) and 16 vpdpbusd.
#define ENCORE_AVX512_GROUP(get)                                                        \
  do {                                                                                  \
    const __m512i w0 = _mm512_loadu_si512(wg);                                          \
    const __m512i w1 = _mm512_loadu_si512(wg + 64);                                     \
    const __m512i w2 = _mm512_loadu_si512(wg + 128);                                    \
    const __m512i w3 = _mm512_loadu_si512(wg + 192);                                    \
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {                 \
      const __m512i xm = _mm512_xor_si512(_mm512_set1_epi32(static_cast<int>(get)), flip); \
      acc[m][0] = _mm512_dpbusd_epi32(acc[m][0], xm, w0);                               \
      acc[m][1] = _mm512_dpbusd_epi32(acc[m][1], xm, w1);                               \
      acc[m][2] = _mm512_dpbusd_epi32(acc[m][2], xm, w2);                               \
      acc[m][3] = _mm512_dpbusd_epi32(acc[m][3], xm, w3);                               \
    }                                                                                   \
  } while (0)

ENCORE_X86_TARGET("avx512f,avx512vnni") void qs8_tile_avx512vnni(const Qs8Tile& t) {
  constexpr size_t kNr = 64;
  const int8_t* rows[kQs8TileRows];
  row_pointers(t, rows);
  __m512i acc[kQs8TileRows][4];
  _Pragma("GCC unroll 4") for (size_t q = 0; q < 4; ++q) {
    const __m512i init = _mm512_loadu_si512(t.init + 16 * q);
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) acc[m][q] = init;
  }
  const __m512i flip = _mm512_set1_epi32(static_cast<int>(0x80808080u));
  const int8_t* wg = t.panel;
  const size_t full = t.in & ~size_t{3};
  size_t k = 0;
  for (; k < full; k += 4, wg += kNr * 4) ENCORE_AVX512_GROUP(load4(rows[m] + k));
  if (k < t.in) ENCORE_AVX512_GROUP(load_group(rows[m], k, t.in));

  const __m512 zp_f_lo = _mm512_set1_ps(static_cast<float>(-128 - t.output_zero_point));
  const __m512 zp_f_hi = _mm512_set1_ps(static_cast<float>(127 - t.output_zero_point));
  const __m512i zp = _mm512_set1_epi32(t.output_zero_point);
  if (t.mr == kQs8TileRows && t.nc == kNr) {
    // A full tile (all but the edges) requantizes straight from the registers: going through
    // the array below costs 32 more memory operations per tile (MiniLM QKV: 432 -> 437 GOPS).
    _Pragma("GCC unroll 4") for (size_t q = 0; q < 4; ++q) {
      const __m512 scale = _mm512_loadu_ps(t.scale + 16 * q);
      _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[m][q]), scale);
        f = _mm512_min_ps(_mm512_max_ps(f, zp_f_lo), zp_f_hi);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(t.y + m * t.y_stride + 16 * q),
                         _mm512_cvtsepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), zp)));
      }
    }
    return;
  }
  alignas(64) int32_t sums[kQs8TileRows][kNr];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    _Pragma("GCC unroll 4") for (size_t q = 0; q < 4; ++q) _mm512_store_si512(sums[m] + 16 * q, acc[m][q]);
  }
  for (size_t m = 0; m < t.mr; ++m) {
    for (size_t q = 0; q < 4 && 16 * q < t.nc; ++q) {
      __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums[m] + 16 * q)), _mm512_loadu_ps(t.scale + 16 * q));
      f = _mm512_min_ps(_mm512_max_ps(f, zp_f_lo), zp_f_hi);
      // cvtps rounds in the current mode: to nearest even.
      const __m128i bytes = _mm512_cvtsepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), zp));
      int8_t* dst = t.y + m * t.y_stride + 16 * q;
      const size_t n = t.nc - 16 * q < 16 ? t.nc - 16 * q : 16;
      if (n == 16) {  // every store of a full tile: one instruction, not a memcpy call
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), bytes);
      } else {
        alignas(16) int8_t tmp[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
        std::memcpy(dst, tmp, n);
      }
    }
  }
}
#undef ENCORE_AVX512_GROUP

// 4 rows x 16 channels on ymm: 8 accumulators.
#define ENCORE_AVXVNNI_GROUP(get)                                                          \
  do {                                                                                     \
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg));          \
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + 32));     \
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {                    \
      const __m256i xm = _mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(get)), flip); \
      acc[m][0] = _mm256_dpbusd_avx_epi32(acc[m][0], xm, w0);                              \
      acc[m][1] = _mm256_dpbusd_avx_epi32(acc[m][1], xm, w1);                              \
    }                                                                                      \
  } while (0)

ENCORE_X86_TARGET("avx2,avxvnni") void qs8_tile_avxvnni(const Qs8Tile& t) {
  constexpr size_t kNr = 16;
  const int8_t* rows[kQs8TileRows];
  row_pointers(t, rows);
  __m256i acc[kQs8TileRows][2];
  _Pragma("GCC unroll 2") for (size_t q = 0; q < 2; ++q) {
    const __m256i init = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.init + 8 * q));
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) acc[m][q] = init;
  }
  const __m256i flip = _mm256_set1_epi32(static_cast<int>(0x80808080u));
  const int8_t* wg = t.panel;
  const size_t full = t.in & ~size_t{3};
  size_t k = 0;
  for (; k < full; k += 4, wg += kNr * 4) ENCORE_AVXVNNI_GROUP(load4(rows[m] + k));
  if (k < t.in) ENCORE_AVXVNNI_GROUP(load_group(rows[m], k, t.in));

  // The epilogue is O(rows x channels) against the O(rows x channels x K) loop: plain code.
  alignas(32) int32_t sums[kQs8TileRows][kNr];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(sums[m]), acc[m][0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(sums[m] + 8), acc[m][1]);
  }
  for (size_t m = 0; m < t.mr; ++m) {
    for (size_t n = 0; n < t.nc; ++n) {
      t.y[m * t.y_stride + n] = requantize_fp32(sums[m][n], t.scale[n], t.output_zero_point);
    }
  }
}
#undef ENCORE_AVXVNNI_GROUP

// Maximum / sum over all 16 lanes, in every lane: trees of 4 steps (a 16-step chain through
// memory cost as much as a row's exponentials at 128 keys; GCC 12's _mm512_reduce_* trip
// -Wuninitialized in its header).
ENCORE_X86_TARGET("avx512f") inline __m512 max_across_lanes(__m512 v) {
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));  // 256-bit halves swapped
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));  // 128-bit quarters swapped in pairs
  v = _mm512_max_ps(v, _mm512_permute_ps(v, 0x4E));        // 64-bit halves of each quarter
  return _mm512_max_ps(v, _mm512_permute_ps(v, 0xB1));     // neighbours
}

ENCORE_X86_TARGET("avx512f") inline __m512 sum_across_lanes(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
  return _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
}

// The int32 sum of all 16 lanes (modulo 2^32), by the same tree on the float-typed shuffles.
ENCORE_X86_TARGET("avx512f") inline uint32_t isum_across_lanes(__m512i v) {
  __m512 f = _mm512_castsi512_ps(v);
  v = _mm512_add_epi32(v, _mm512_castps_si512(_mm512_shuffle_f32x4(f, f, 0x4E)));
  f = _mm512_castsi512_ps(v);
  v = _mm512_add_epi32(v, _mm512_castps_si512(_mm512_shuffle_f32x4(f, f, 0xB1)));
  f = _mm512_castsi512_ps(v);
  v = _mm512_add_epi32(v, _mm512_castps_si512(_mm512_permute_ps(f, 0x4E)));
  f = _mm512_castsi512_ps(v);
  v = _mm512_add_epi32(v, _mm512_castps_si512(_mm512_permute_ps(f, 0xB1)));
  const float lane0 = _mm512_cvtss_f32(_mm512_castsi512_ps(v));
  uint32_t bits;
  std::memcpy(&bits, &lane0, sizeof bits);
  return bits;
}

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
// each vpdpwssd adds one key pair (two int16 probabilities broadcast, two int16 values per
// column) to 16 int32 sums.
template <size_t NV>
ENCORE_X86_TARGET("avx512f,avx512vnni") inline void qs8_pv_block(const Qs8PvTile& t, const int16_t* const* p,
                                                                 size_t c0) {
  __m512i acc[kQs8TileRows][NV];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) acc[m][q] = _mm512_setzero_si512();
  }
  const size_t rest = t.cols - c0 - 16 * (NV - 1);
  const size_t last = rest < 16 ? rest : 16;
  const __mmask16 last_mask = static_cast<__mmask16>((1u << last) - 1u);
  const int16_t* vr = t.v + 2 * c0;
  for (size_t j = 0; j < t.pairs; ++j, vr += 2 * t.cols) {
    __m512i w[NV];
    _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) {
      w[q] = q + 1 < NV ? _mm512_loadu_si512(vr + 32 * q) : _mm512_maskz_loadu_epi32(last_mask, vr + 32 * q);
    }
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
      int32_t pair;
      std::memcpy(&pair, p[m] + 2 * j, sizeof pair);
      const __m512i pm = _mm512_set1_epi32(pair);
      _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) acc[m][q] = _mm512_dpwssd_epi32(acc[m][q], pm, w[q]);
    }
  }
  const __m512 lo = _mm512_set1_ps(-300.0f), hi = _mm512_set1_ps(300.0f);
  const __m512i zp = _mm512_set1_epi32(t.out_zero_point);
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    if (m < t.rows) {
      const __m512 mult = _mm512_set1_ps(t.mult[m]);
      _Pragma("GCC unroll 4") for (size_t q = 0; q < NV; ++q) {
        const __mmask16 mask = q + 1 < NV ? __mmask16(0xFFFF) : last_mask;
        const __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[m][q]), mult);
        if (t.out_q) {
          // NaN to 0, clamped so that the conversion stays exact; vcvtps2dq rounds half to
          // even in the default mode; vpmovsdb saturates.
          const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, y, _CMP_ORD_Q), y), lo), hi);
          _mm512_mask_cvtsepi32_storeu_epi8(t.out_q + m * t.out_stride + c0 + 16 * q, mask,
                                            _mm512_add_epi32(_mm512_cvtps_epi32(v), zp));
        } else {
          _mm512_mask_storeu_ps(t.out + m * t.out_stride + c0 + 16 * q, mask, y);
        }
      }
    }
  }
}

ENCORE_X86_TARGET("avx512f,avx512vnni") void qs8_pv_avx512vnni(const Qs8PvTile& t) {
  const int16_t* prow[kQs8TileRows];
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

// Softmax numerator codes, round(e^x * scale) for x = score - max <= 0, 16 lanes at a time.
// x log2e = k + f with k a multiple of 1/16 and |f| <= 1/32, by the 1.5 * 2^19 trick (t = x
// log2e + magic rounds to sixteenths; its low 4 mantissa bits are k's fraction j); then
// scale * 2^(j/16) from a 16-entry table (one vpermps), times 2^f by a degree-2 polynomial
// (relative error <= 1.7e-6, a twentieth of a code), times 2^floor(k) by vscalefps; adding
// 1.5 * 2^23 rounds to the code, which sits in the low bits. x is clamped at -16 first
// (codes are 0 below, and no denormal or infinite step follows), which also turns NaN into -16.
// Eleven vector instructions for 16 keys, where exponent bits by shifts and a degree-5
// polynomial took fourteen.
struct SoftmaxCodeConstants {
  __m512 lo, log2e, magic16, table, c1, c2, magic23;
};

ENCORE_X86_TARGET("avx512f") inline __m512 softmax_codes(__m512 x, const SoftmaxCodeConstants& k) {
  x = _mm512_max_ps(x, k.lo);
  const __m512 t = _mm512_fmadd_ps(x, k.log2e, k.magic16);
  const __m512 sixteenths = _mm512_sub_ps(t, k.magic16);
  const __m512 f = _mm512_fmsub_ps(x, k.log2e, sixteenths);
  const __m512 table = _mm512_permutexvar_ps(_mm512_castps_si512(t), k.table);
  const __m512 poly = _mm512_mul_ps(_mm512_fmadd_ps(k.c2, f, k.c1), f);  // 2^f - 1
  const __m512 e = _mm512_scalef_ps(_mm512_fmadd_ps(table, poly, table), sixteenths);
  return _mm512_add_ps(e, k.magic23);
}

// qs8_pv_softmax_rows for R rows interleaved, so that one row's reductions (the maximum's
// tree before its exponentials, the codes' sum after) overlap with the other rows' work. Per
// row only vector work: the NaN test is one compare of the lane sums, the codes' sum a tree
// (a store and 16 scalar adds per row had cost a fifth of the row). 128 keys: 37 ns per row
// one row at a time with the degree-5 exponential, 29 ns now.
template <size_t R>
ENCORE_X86_TARGET("avx512f,avx512bw")
inline void softmax_i16_rows(size_t n, const float* scores, size_t s_stride, float p_scale, int16_t* p16,
                             size_t p_stride, float* sums, const float* row_max) {
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
  k.magic23 = _mm512_set1_ps(12582912.0f);        // 1.5 * 2^23: its ulp is 1
  // The sum of the codes is kept on the float bits: each is magic's bits + code, and the
  // magic parts cancel modulo 2^32 at the end (the true sum, <= keys * scale, fits int32).
  alignas(64) static constexpr int16_t kLowWords[32] = {0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20,
                                                        22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42,
                                                        44, 46, 48, 50, 52, 54, 56, 58, 60, 62};
  const __m512i low_words = _mm512_load_si512(kLowWords);
  __m512i sum[R];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) sum[m] = _mm512_setzero_si512();
  size_t j = 0;
  for (; j + 32 <= n; j += 32) {
    _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
      const float* s = scores + m * s_stride + j;
      const __m512i c0 = _mm512_castps_si512(softmax_codes(_mm512_sub_ps(_mm512_loadu_ps(s), vmax[m]), k));
      const __m512i c1 = _mm512_castps_si512(softmax_codes(_mm512_sub_ps(_mm512_loadu_ps(s + 16), vmax[m]), k));
      sum[m] = _mm512_add_epi32(sum[m], _mm512_add_epi32(c0, c1));
      // One word permute packs the 32 codes (each lane's low 16 bits).
      _mm512_storeu_si512(p16 + m * p_stride + j, _mm512_permutex2var_epi16(c0, low_words, c1));
    }
  }
  for (; j < n; j += 16) {
    const __mmask16 mask = n - j >= 16 ? __mmask16(0xFFFF) : tail;
    _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
      const __m512 s = _mm512_mask_loadu_ps(vmax[m], mask, scores + m * s_stride + j);
      const __m512i c = _mm512_castps_si512(softmax_codes(_mm512_sub_ps(s, vmax[m]), k));
      sum[m] = _mm512_mask_add_epi32(sum[m], mask, sum[m], c);
      _mm512_mask_cvtepi32_storeu_epi16(p16 + m * p_stride + j, mask, c);  // vpmovdw keeps the low words
    }
  }
  _Pragma("GCC unroll 4") for (size_t m = 0; m < R; ++m) {
    int16_t* p = p16 + m * p_stride;
    if (n % 2) p[n] = 0;
    if (has_nan[m]) {
      for (size_t i = 0; i < n + n % 2; ++i) p[i] = 0;
      sums[m] = std::numeric_limits<float>::quiet_NaN();  // the context comes out NaN, as in the float path
      continue;
    }
    uint32_t total = isum_across_lanes(sum[m]);
    total -= static_cast<uint32_t>(n) * 0x4B400000u;  // the bits of 1.5 * 2^23, once per code
    sums[m] = static_cast<float>(static_cast<int32_t>(total));
  }
}

ENCORE_X86_TARGET("avx512f,avx512bw")
void softmax_i16_avx512(size_t rows, size_t n, const float* scores, size_t s_stride, float p_scale, int16_t* p16,
                        size_t p_stride, float* sums, const float* row_max) {
  switch (rows) {
    case 4: softmax_i16_rows<4>(n, scores, s_stride, p_scale, p16, p_stride, sums, row_max); break;
    case 3: softmax_i16_rows<3>(n, scores, s_stride, p_scale, p16, p_stride, sums, row_max); break;
    case 2: softmax_i16_rows<2>(n, scores, s_stride, p_scale, p16, p_stride, sums, row_max); break;
    case 1: softmax_i16_rows<1>(n, scores, s_stride, p_scale, p16, p_stride, sums, row_max); break;
    default: break;
  }
}

// residual_layer_norm in three passes over blocks of up to 8 rows (L1-resident): residual add
// and sum, squared deviations, normalise and quantize. Each pass runs over the block's rows
// before the next starts, so that one row's reductions (trees of shuffles, a square root)
// overlap with the next row's work instead of stalling it (one row at a time measured 1.27x
// slower); two accumulators per sum halve the add chain.
ENCORE_X86_TARGET("avx512f,avx512bw,avx512vl")
void residual_layer_norm_avx512(size_t rows, size_t cols, float* x, const float* gamma, const float* beta, float eps,
                                const ResidualNormQs8& io) {
  constexpr size_t kBlock = 8;
  const size_t full = cols / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (cols - full)) - 1u);
  const __m512 residual_scale = _mm512_set1_ps(io.residual_scale);
  const __m512 residual_zp = _mm512_set1_ps(static_cast<float>(io.residual_zero_point));
  const __m512 inv_q_scale = _mm512_set1_ps(1.0f / io.q_scale);
  const __m512 q_zp = _mm512_set1_ps(static_cast<float>(io.q_zero_point));
  const __m512 lo = _mm512_set1_ps(-300.0f), hi = _mm512_set1_ps(300.0f);
  const __m512 inv_cols = _mm512_set1_ps(1.0f / static_cast<float>(cols));
  for (size_t r0 = 0; r0 < rows; r0 += kBlock) {
    const size_t block = rows - r0 < kBlock ? rows - r0 : kBlock;
    __m512 mean[kBlock], inv_std[kBlock];
    for (size_t b = 0; b < block; ++b) {
      float* xr = x + (r0 + b) * cols;
      const int8_t* rr = io.residual ? io.residual + (r0 + b) * cols : nullptr;
      // Masked-off lanes load as 0 and add nothing to the sums.
      const auto add_residual = [&](size_t c, __mmask16 m) ENCORE_X86_TARGET("avx512f,avx512bw,avx512vl") {
        __m512 v = _mm512_maskz_loadu_ps(m, xr + c);
        if (rr) {
          const __m512 d = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, rr + c)));
          // Masked-off lanes would hold -zero_point * scale: zeroed again.
          v = _mm512_maskz_mov_ps(m, _mm512_fmadd_ps(_mm512_sub_ps(d, residual_zp), residual_scale, v));
          _mm512_mask_storeu_ps(xr + c, m, v);
        }
        return v;
      };
      __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
      size_t c = 0;
      for (; c + 32 <= full; c += 32) {
        s0 = _mm512_add_ps(s0, add_residual(c, 0xFFFF));
        s1 = _mm512_add_ps(s1, add_residual(c + 16, 0xFFFF));
      }
      for (; c < cols; c += 16) s0 = _mm512_add_ps(s0, add_residual(c, c < full ? __mmask16(0xFFFF) : tail));
      mean[b] = _mm512_mul_ps(sum_across_lanes(_mm512_add_ps(s0, s1)), inv_cols);
    }
    for (size_t b = 0; b < block; ++b) {
      const float* xr = x + (r0 + b) * cols;
      __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
      size_t c = 0;
      for (; c + 32 <= full; c += 32) {
        const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(xr + c), mean[b]);
        const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(xr + c + 16), mean[b]);
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
      }
      for (; c < cols; c += 16) {
        const __mmask16 m = c < full ? __mmask16(0xFFFF) : tail;
        const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xr + c), mean[b]);
        s0 = _mm512_fmadd_ps(d, d, s0);
      }
      const __m512 var = _mm512_mul_ps(sum_across_lanes(_mm512_add_ps(s0, s1)), inv_cols);
      inv_std[b] = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(_mm512_add_ps(var, _mm512_set1_ps(eps))));
    }
    for (size_t b = 0; b < block; ++b) {
      float* xr = x + (r0 + b) * cols;
      int8_t* qr = io.q ? io.q + (r0 + b) * cols : nullptr;
      for (size_t c = 0; c < cols; c += 16) {
        const __mmask16 m = c < full ? __mmask16(0xFFFF) : tail;
        const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + c), mean[b]);
        const __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(d, inv_std[b]), _mm512_maskz_loadu_ps(m, gamma + c),
                                         _mm512_maskz_loadu_ps(m, beta + c));
        _mm512_mask_storeu_ps(xr + c, m, y);
        if (qr) {
          // The zero point added in float (exact: |v| < 2^22 after the clamps); vcvtps2dq
          // rounds half to even in the default mode; vpmovsdb saturates to int8.
          __m512 v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, y, _CMP_ORD_Q), y);  // NaN -> 0
          v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, inv_q_scale), lo), hi);
          _mm512_mask_cvtsepi32_storeu_epi8(qr + c, m, _mm512_cvtps_epi32(_mm512_add_ps(v, q_zp)));
        }
      }
    }
  }
}

#ifndef ENCORE_GEMM_X86_SHIM
// y[i] = lut[x[i] + 128] for 64 bytes per step: the 256-entry table is four zmm; vpermi2b looks
// up 128 entries by the low 7 index bits, twice, and the top bit picks between the halves.
ENCORE_X86_TARGET("avx512f,avx512bw,avx512vbmi")
void lut_qs8_avx512vbmi(size_t n, const int8_t* x, const int8_t* lut, int8_t* y) {
  const __m512i t0 = _mm512_loadu_si512(lut), t1 = _mm512_loadu_si512(lut + 64);
  const __m512i t2 = _mm512_loadu_si512(lut + 128), t3 = _mm512_loadu_si512(lut + 192);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const auto lookup = [&](__m512i v) __attribute__((target("avx512f,avx512bw,avx512vbmi"))) {
    const __m512i idx = _mm512_xor_si512(v, flip);  // x + 128 as an unsigned byte
    const __m512i low = _mm512_permutex2var_epi8(t0, idx, t1);
    const __m512i high = _mm512_permutex2var_epi8(t2, idx, t3);
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high);
  };
  size_t i = 0;
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(y + i, lookup(_mm512_loadu_si512(x + i)));
  if (i < n) {
    const __mmask64 mask = (~uint64_t{0}) >> (64 - (n - i));
    _mm512_mask_storeu_epi8(y + i, mask, lookup(_mm512_maskz_loadu_epi8(mask, x + i)));
  }
}
#endif

ENCORE_GEMM_X86_END
}  // namespace encore::internal
