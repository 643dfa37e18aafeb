// Branch-free float approximations that compilers vectorise (std::exp does not without
// -ffast-math). Accuracy: exp_approx within 2 ulp over the whole float range.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace encore::internal {

inline __attribute__((always_inline)) float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// e^x by Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, and a degree-6 polynomial in r.
// Inputs below -87.3 give 0 (the softmax of masked keys must be exactly zero); above 88
// the result saturates to the largest finite-range power instead of overflowing to inf.
inline __attribute__((always_inline)) float exp_approx(float x) {
  const float lo = -87.33654f, hi = 88.0f;
  const bool underflow = x < lo;
  const float input = x;
  // NaN (from a model whose activations overflowed) is carried through as the result; it
  // must not reach the float -> int conversion below, which is undefined for NaN.
  const bool nan = !(x == x);
  x = nan ? 0.0f : x;
  x = x < lo ? lo : (x > hi ? hi : x);
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  // n = round(x * log2e) via the 1.5 * 2^23 trick (default rounding mode).
  const float magic = 12582912.0f;
  float n = (x * log2e + magic) - magic;
  float r = x - n * ln2_hi;
  r = r - n * ln2_lo;
  // Taylor/minimax coefficients of e^r on [-ln2/2, ln2/2].
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n assembled in the exponent field; n is within [-126, 127] after the clamp.
  const int32_t ni = static_cast<int32_t>(n);
  const float scale = bits_to_float(static_cast<uint32_t>(ni + 127) << 23);
  const float y = p * scale;
  return nan ? input : (underflow ? 0.0f : y);
}

// Rounds half to even for |v| < 2^22 in the default rounding mode, without a libm call so
// that loops using it vectorise on baseline SSE2 / NEON.
inline __attribute__((always_inline)) float round_half_even(float v) {
  const float magic = 12582912.0f;  // 1.5 * 2^23
  return (v + magic) - magic;
}

// An already scaled value v (x / scale, or x * (1 / scale)) to its int8 code: NaN to the zero
// point, rounded half to even, saturated.
inline __attribute__((always_inline)) int8_t saturate_round_qs8(float v, float zero_point) {
  v = v == v ? v : 0.0f;
  // Clamp before rounding so the magic-number trick stays exact; 300 is outside any code.
  // std::max/min (not nested ?:) so that GCC if-converts this into min/max instructions
  // and vectorises the loop at every ISA level (the nested form stayed scalar for AVX2).
  v = std::min(std::max(v, -300.0f), 300.0f);
  float q = round_half_even(v) + zero_point;
  q = std::min(std::max(q, -128.0f), 127.0f);
  return static_cast<int8_t>(static_cast<int32_t>(q));
}

}  // namespace encore::internal
