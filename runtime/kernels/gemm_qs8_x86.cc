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
// reports inside the header once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
#define ENCORE_X86_TARGET(features) __attribute__((target(features)))
#define ENCORE_GEMM_X86_BEGIN
#define ENCORE_GEMM_X86_END
#endif

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

  alignas(64) int32_t sums[kQs8TileRows][kNr];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    _Pragma("GCC unroll 4") for (size_t q = 0; q < 4; ++q) _mm512_store_si512(sums[m] + 16 * q, acc[m][q]);
  }
  const __m512 zp_f_lo = _mm512_set1_ps(static_cast<float>(-128 - t.output_zero_point));
  const __m512 zp_f_hi = _mm512_set1_ps(static_cast<float>(127 - t.output_zero_point));
  const __m512i zp = _mm512_set1_epi32(t.output_zero_point);
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

// Attention scores: 4 query rows x NP panels of 16 keys, NP <= 4 (a template, so that the
// accumulators keep constant indices).
template <size_t NP>
ENCORE_X86_TARGET("avx512f,avx512vnni") inline void qs8_scores_block(const Qs8ScoreTile& t, const int8_t* const* rows,
                                                                     size_t j0) {
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
      const __m512i xm = _mm512_xor_si512(_mm512_set1_epi32(static_cast<int>(load4(rows[m] + c))), flip);
      _Pragma("GCC unroll 4") for (size_t p = 0; p < NP; ++p) acc[m][p] = _mm512_dpbusd_epi32(acc[m][p], xm, w[p]);
    }
  }
  const __m512 mult = _mm512_set1_ps(t.mult);
  _Pragma("GCC unroll 4") for (size_t p = 0; p < NP; ++p) {
    const size_t j = j0 + 16 * p;
    const size_t n = t.keys - j < 16 ? t.keys - j : 16;
    const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1u);
    const __m512 bias = t.key_bias ? _mm512_maskz_loadu_ps(mask, t.key_bias + j) : _mm512_setzero_ps();
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
      if (m < t.rows) {
        _mm512_mask_storeu_ps(t.scores + m * t.scores_stride + j, mask,
                              _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m][p]), mult, bias));
      }
    }
  }
}

ENCORE_X86_TARGET("avx512f,avx512vnni") void qs8_scores_avx512vnni(const Qs8ScoreTile& t) {
  const int8_t* rows[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) rows[m] = t.q + (m < t.rows ? m : 0) * t.q_stride;
  size_t j = 0;
  for (; j + 64 <= t.keys; j += 64) qs8_scores_block<4>(t, rows, j);
  switch ((t.keys - j + 15) / 16) {
    case 4: qs8_scores_block<4>(t, rows, j); break;
    case 3: qs8_scores_block<3>(t, rows, j); break;
    case 2: qs8_scores_block<2>(t, rows, j); break;
    case 1: qs8_scores_block<1>(t, rows, j); break;
    default: break;
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
