// aarch64 kernel of attention: int8 scores with sdot (Armv8.2 dot product), on the panel layout
// of the x86 kernel. This file is compiled with the flags of gemm_qs8_arm.cc (+dotprod+i8mm);
// the kernel is reached only where the CPU reports the dot product.
#include <arm_neon.h>

#include <cstring>

#include "kernels/arm_kernels.h"

namespace encore::internal {

// Attention scores with sdot: 4 query rows x one 16-key panel (4 vectors of 4 keys) per
// block, 16 accumulators; the panel layout is the x86 one, with no offset term (signed x
// signed). Scores are float(acc) * mult + bias in one fused multiply-add.
void qs8_scores_neondot(const Qs8ScoreTile& t) {
  const int8_t* rows[kQs8TileRows];
  for (size_t m = 0; m < kQs8TileRows; ++m) rows[m] = t.q + (m < t.rows ? m : 0) * t.q_stride;
  const size_t panel_bytes = t.head_dim * 16;
  const float32x4_t mult = vdupq_n_f32(t.mult);
  for (size_t j0 = 0; j0 < t.keys; j0 += 16) {
    int32x4_t acc[kQs8TileRows][4];
    _Pragma("GCC unroll 4") for (size_t p = 0; p < 4; ++p) {
      const int32x4_t comp = vld1q_s32(t.comp + j0 + 4 * p);
      _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) acc[m][p] = comp;
    }
    const int8_t* kp = t.packed + (j0 / 16) * panel_bytes;
    for (size_t c = 0; c < t.head_dim; c += 4, kp += 64) {
      const int8x16_t w0 = vld1q_s8(kp), w1 = vld1q_s8(kp + 16), w2 = vld1q_s8(kp + 32), w3 = vld1q_s8(kp + 48);
      _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
        uint32_t bits;
        std::memcpy(&bits, rows[m] + c, 4);
        const int8x16_t xm = vreinterpretq_s8_u32(vdupq_n_u32(bits));
        acc[m][0] = vdotq_s32(acc[m][0], w0, xm);
        acc[m][1] = vdotq_s32(acc[m][1], w1, xm);
        acc[m][2] = vdotq_s32(acc[m][2], w2, xm);
        acc[m][3] = vdotq_s32(acc[m][3], w3, xm);
      }
    }
    const size_t n = t.keys - j0 < 16 ? t.keys - j0 : 16;
    alignas(16) float bias[16] = {};
    if (t.key_bias) std::memcpy(bias, t.key_bias + j0, n * sizeof(float));
    alignas(16) float out[kQs8TileRows][16];
    _Pragma("GCC unroll 4") for (size_t m = 0; m < kQs8TileRows; ++m) {
      _Pragma("GCC unroll 4") for (size_t p = 0; p < 4; ++p) {
        vst1q_f32(out[m] + 4 * p, vfmaq_f32(vld1q_f32(bias + 4 * p), vcvtq_f32_s32(acc[m][p]), mult));
      }
    }
    for (size_t m = 0; m < t.rows; ++m) std::memcpy(t.scores + m * t.scores_stride + j0, out[m], n * sizeof(float));
  }
}

}  // namespace encore::internal
