// x86 kernel of the element-wise steps: the int8 activation table lookup. See x86_simd.h for
// how it is compiled; the intrinsic stand-ins have no vpermi2b, so it is tested on CPUs with
// AVX-512 VBMI only.
#include <cmath>
#include <limits>

#include "kernels/x86_simd.h"

namespace encore::internal {

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
}  // namespace encore::internal
