// x86 kernel of the per-row steps: the fused residual add + LayerNorm + quantize. See
// x86_simd.h for how it is compiled and tested.
#include <cmath>
#include <limits>

#include "kernels/x86_simd.h"

namespace encore::internal {
ENCORE_X86_SHIM_BEGIN

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

ENCORE_X86_SHIM_END
}  // namespace encore::internal
