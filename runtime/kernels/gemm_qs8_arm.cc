// aarch64 tiles: sdot (Armv8.2 dot product: Raspberry Pi 5's Cortex-A76, most phone cores) and
// smmla (i8mm: Cortex-A510/A710/X2 and later, Apple M2+, Graviton 3). This file alone is
// compiled with +dotprod+i8mm; each tile is reached only where the CPU reports its extension.
#include <arm_neon.h>

#include "kernels/gemm_qs8_tile.h"

namespace encore::internal {

// 4 rows x 16 channels: 16 accumulators (4 x 4 lanes); per group of 4 input bytes, 4 weight
// loads, 4 broadcasts and 16 sdot. Signed x signed, so no input offset.
void qs8_tile_neondot(const Qs8Tile& t) {
  constexpr size_t kNr = 16;
  const int8_t* rows[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) rows[m] = t.x + (m < t.mr ? m : 0) * t.x_stride;
  int32x4_t acc[kQs8TileRows][4];
  for (size_t q = 0; q < 4; ++q) {
    const int32x4_t init = vld1q_s32(t.init + 4 * q);
    for (size_t m = 0; m < kQs8TileRows; ++m) acc[m][q] = init;
  }
  const int8_t* wg = t.panel;
  for (size_t k = 0; k < t.in; k += 4, wg += kNr * 4) {
    const int8x16_t w0 = vld1q_s8(wg), w1 = vld1q_s8(wg + 16), w2 = vld1q_s8(wg + 32), w3 = vld1q_s8(wg + 48);
    for (size_t m = 0; m < kQs8TileRows; ++m) {
      const int8x16_t xm = vreinterpretq_s8_u32(vdupq_n_u32(load_group(rows[m], k, t.in)));
      acc[m][0] = vdotq_s32(acc[m][0], w0, xm);
      acc[m][1] = vdotq_s32(acc[m][1], w1, xm);
      acc[m][2] = vdotq_s32(acc[m][2], w2, xm);
      acc[m][3] = vdotq_s32(acc[m][3], w3, xm);
    }
  }
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(-128 - t.output_zero_point));
  const float32x4_t hi = vdupq_n_f32(static_cast<float>(127 - t.output_zero_point));
  const int32x4_t zp = vdupq_n_s32(t.output_zero_point);
  for (size_t m = 0; m < t.mr; ++m) {
    alignas(16) int32_t out[16];
    for (size_t q = 0; q < 4; ++q) {
      float32x4_t f = vmulq_f32(vcvtq_f32_s32(acc[m][q]), vld1q_f32(t.scale + 4 * q));
      f = vminq_f32(vmaxq_f32(f, lo), hi);
      vst1q_s32(out + 4 * q, vaddq_s32(vcvtnq_s32_f32(f), zp));  // round to nearest, ties to even
    }
    for (size_t n = 0; n < t.nc; ++n) t.y[m * t.y_stride + n] = static_cast<int8_t>(out[n]);
  }
}

// 4 rows x 16 channels with smmla: each instruction multiplies a 2x8 block of rows by a 2x8
// block of channels (8 input bytes) into a 2x2 int32 block, twice the multiply-adds of an
// sdot. Accumulators acc[p][j] hold rows 2p, 2p+1 x channels 2j, 2j+1 as
// [r0c0, r0c1, r1c0, r1c1]; the panel stores channel pairs' 8-byte groups next to each other.
void qs8_tile_neoni8mm(const Qs8Tile& t) {
  constexpr size_t kNr = 16;
  const int8_t* rows[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) rows[m] = t.x + (m < t.mr ? m : 0) * t.x_stride;
  int32x4_t acc[2][8];
  for (size_t j = 0; j < 8; ++j) {
    const int32x2_t pair = vld1_s32(t.init + 2 * j);
    acc[0][j] = acc[1][j] = vcombine_s32(pair, pair);
  }
  const int8_t* wg = t.panel;
  for (size_t k = 0; k < t.in; k += 8, wg += kNr * 8) {
    const int8x16_t a0 = vreinterpretq_s8_u64(
        vcombine_u64(vcreate_u64(load_group8(rows[0], k, t.in)), vcreate_u64(load_group8(rows[1], k, t.in))));
    const int8x16_t a1 = vreinterpretq_s8_u64(
        vcombine_u64(vcreate_u64(load_group8(rows[2], k, t.in)), vcreate_u64(load_group8(rows[3], k, t.in))));
    for (size_t j = 0; j < 8; ++j) {
      const int8x16_t b = vld1q_s8(wg + 16 * j);
      acc[0][j] = vmmlaq_s32(acc[0][j], a0, b);
      acc[1][j] = vmmlaq_s32(acc[1][j], a1, b);
    }
  }
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(-128 - t.output_zero_point));
  const float32x4_t hi = vdupq_n_f32(static_cast<float>(127 - t.output_zero_point));
  const int32x4_t zp = vdupq_n_s32(t.output_zero_point);
  for (size_t m = 0; m < t.mr; ++m) {
    const size_t p = m / 2;
    alignas(16) int32_t out[16];
    for (size_t q = 0; q < 4; ++q) {
      // Channels 4q..4q+3 of row m: the row's halves of pair blocks 2q and 2q+1.
      const int64x2_t c0 = vreinterpretq_s64_s32(acc[p][2 * q]), c1 = vreinterpretq_s64_s32(acc[p][2 * q + 1]);
      const int32x4_t row = vreinterpretq_s32_s64(m % 2 == 0 ? vzip1q_s64(c0, c1) : vzip2q_s64(c0, c1));
      float32x4_t f = vmulq_f32(vcvtq_f32_s32(row), vld1q_f32(t.scale + 4 * q));
      f = vminq_f32(vmaxq_f32(f, lo), hi);
      vst1q_s32(out + 4 * q, vaddq_s32(vcvtnq_s32_f32(f), zp));
    }
    for (size_t n = 0; n < t.nc; ++n) t.y[m * t.y_stride + n] = static_cast<int8_t>(out[n]);
  }
}

}  // namespace encore::internal
