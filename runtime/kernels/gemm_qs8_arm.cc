// aarch64 tiles of the int8 GEMM: sdot (Armv8.2 dot product: Raspberry Pi 5's Cortex-A76, most phone cores) and
// smmla (i8mm: Cortex-A510/A710/X2 and later, Apple M2+, Graviton 3). This file alone is
// compiled with +dotprod+i8mm; each tile is reached only where the CPU reports its extension.
#include <arm_neon.h>

#include "kernels/arm_kernels.h"

namespace encore::internal {

// As in the x86 tiles: accumulators are indexed with constants only and the epilogue reads a
// local copy, so they stay in registers; full input groups load directly, the partial last
// group (in not a multiple of the group) goes through load_group outside the hot loop.

// 4 rows x 16 channels: 16 accumulators (4 x 4 lanes); per group of 4 input bytes, 4 weight
// loads, 4 broadcasts and 16 sdot. Signed x signed, so no input offset.
#define ENCORE_SDOT_GROUP(get)                                                                             \
  do {                                                                                                     \
    const int8x16_t w0 = vld1q_s8(wg), w1 = vld1q_s8(wg + 16), w2 = vld1q_s8(wg + 32), w3 = vld1q_s8(wg + 48); \
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {                                  \
      const int8x16_t xm = vreinterpretq_s8_u32(vdupq_n_u32(get));                                         \
      acc[m][0] = vdotq_s32(acc[m][0], w0, xm);                                                            \
      acc[m][1] = vdotq_s32(acc[m][1], w1, xm);                                                            \
      acc[m][2] = vdotq_s32(acc[m][2], w2, xm);                                                            \
      acc[m][3] = vdotq_s32(acc[m][3], w3, xm);                                                            \
    }                                                                                                      \
  } while (0)

void qs8_tile_neondot(const Qs8Tile& t) {
  constexpr size_t kNr = 16;
  const int8_t* rows[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) rows[m] = t.x + (m < t.mr ? m : 0) * t.x_stride;
  int32x4_t acc[kQs8TileRows][4];
  _Pragma("GCC unroll 4") for (size_t q = 0; q < 4; ++q) {
    const int32x4_t init = vld1q_s32(t.init + 4 * q);
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) acc[m][q] = init;
  }
  const int8_t* wg = t.panel;
  const size_t full = t.in & ~size_t{3};
  size_t k = 0;
  for (; k < full; k += 4, wg += kNr * 4) {
    ENCORE_SDOT_GROUP([&] {
      uint32_t v;
      std::memcpy(&v, rows[m] + k, 4);
      return v;
    }());
  }
  if (k < t.in) ENCORE_SDOT_GROUP(load_group(rows[m], k, t.in));

  alignas(16) int32_t sums[kQs8TileRows][kNr];
  _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
    _Pragma("GCC unroll 4") for (size_t q = 0; q < 4; ++q) vst1q_s32(sums[m] + 4 * q, acc[m][q]);
  }
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(-128 - t.output_zero_point));
  const float32x4_t hi = vdupq_n_f32(static_cast<float>(127 - t.output_zero_point));
  const int32x4_t zp = vdupq_n_s32(t.output_zero_point);
  for (size_t m = 0; m < t.mr; ++m) {
    alignas(16) int32_t out[16];
    for (size_t q = 0; q < 4; ++q) {
      float32x4_t f = vmulq_f32(vcvtq_f32_s32(vld1q_s32(sums[m] + 4 * q)), vld1q_f32(t.scale + 4 * q));
      f = vminq_f32(vmaxq_f32(f, lo), hi);
      vst1q_s32(out + 4 * q, vaddq_s32(vcvtnq_s32_f32(f), zp));  // round to nearest, ties to even
    }
    for (size_t n = 0; n < t.nc; ++n) t.y[m * t.y_stride + n] = static_cast<int8_t>(out[n]);
  }
}
#undef ENCORE_SDOT_GROUP

// 4 rows x 16 channels with smmla: each instruction multiplies a 2x8 block of rows by a 2x8
// block of channels (8 input bytes) into a 2x2 int32 block, twice the multiply-adds of an
// sdot. Accumulators acc[p][j] hold rows 2p, 2p+1 x channels 2j, 2j+1 as
// [r0c0, r0c1, r1c0, r1c1]; the panel stores channel pairs' 8-byte groups next to each other.
#define ENCORE_SMMLA_GROUP(get)                                                                  \
  do {                                                                                           \
    const int8x16_t a0 = vreinterpretq_s8_u64(vcombine_u64(vcreate_u64(get(0)), vcreate_u64(get(1)))); \
    const int8x16_t a1 = vreinterpretq_s8_u64(vcombine_u64(vcreate_u64(get(2)), vcreate_u64(get(3)))); \
    _Pragma("GCC unroll 8") for (size_t j = 0; j < 8; ++j) {                                    \
      const int8x16_t b = vld1q_s8(wg + 16 * j);                                                 \
      acc[0][j] = vmmlaq_s32(acc[0][j], a0, b);                                                  \
      acc[1][j] = vmmlaq_s32(acc[1][j], a1, b);                                                  \
    }                                                                                            \
  } while (0)

void qs8_tile_neoni8mm(const Qs8Tile& t) {
  constexpr size_t kNr = 16;
  const int8_t* rows[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) rows[m] = t.x + (m < t.mr ? m : 0) * t.x_stride;
  int32x4_t acc[2][8];
  _Pragma("GCC unroll 8") for (size_t j = 0; j < 8; ++j) {
    const int32x2_t pair = vld1_s32(t.init + 2 * j);
    acc[0][j] = acc[1][j] = vcombine_s32(pair, pair);
  }
  const int8_t* wg = t.panel;
  const size_t full = t.in & ~size_t{7};
  size_t k = 0;
  const auto whole = [&](size_t m) {
    uint64_t v;
    std::memcpy(&v, rows[m] + k, 8);
    return v;
  };
  const auto partial = [&](size_t m) { return load_group8(rows[m], k, t.in); };
  for (; k < full; k += 8, wg += kNr * 8) ENCORE_SMMLA_GROUP(whole);
  if (k < t.in) ENCORE_SMMLA_GROUP(partial);

  // Block layout to row-major: channel n of row m is lane (m % 2) * 2 + n % 2 of block
  // acc[m / 2][n / 2].
  alignas(16) int32_t blocks[2][8][4];
  _Pragma("GCC unroll 2") for (size_t p = 0; p < 2; ++p) {
    _Pragma("GCC unroll 8") for (size_t j = 0; j < 8; ++j) vst1q_s32(blocks[p][j], acc[p][j]);
  }
  for (size_t m = 0; m < t.mr; ++m) {
    for (size_t n = 0; n < t.nc; ++n) {
      const int32_t sum = blocks[m / 2][n / 2][(m % 2) * 2 + n % 2];
      t.y[m * t.y_stride + n] = requantize_fp32(sum, t.scale[n], t.output_zero_point);
    }
  }
}
#undef ENCORE_SMMLA_GROUP

}  // namespace encore::internal
