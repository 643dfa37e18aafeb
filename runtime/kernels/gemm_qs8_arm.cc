// aarch64 sdot tile (Armv8.2 dot product: Raspberry Pi 5's Cortex-A76, most phone cores).
// This file alone is compiled with +dotprod; it is reached only where cpuinfo reports it.
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

}  // namespace encore::internal
