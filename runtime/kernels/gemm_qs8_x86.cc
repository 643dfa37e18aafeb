// x86 vpdpbusd tiles of the int8 GEMM (AVX-512 VNNI and AVX-VNNI). See x86_simd.h for how
// they are compiled and tested.
#include <cmath>
#include <limits>

#include "kernels/x86_simd.h"

namespace encore::internal {
ENCORE_X86_SHIM_BEGIN

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

ENCORE_X86_SHIM_END
}  // namespace encore::internal
