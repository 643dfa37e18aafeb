#include "kernels/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/kernel_table.h"
#include "kernels/loop_kernels.h"
#include "kernels/math_approx.h"

namespace encore {
namespace {

ENCORE_INLINE uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

ENCORE_INLINE int8_t quantize_one(float x, float scale, float zp) {
  return internal::saturate_round_qs8(x / scale, zp);
}

inline float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

inline float gelu_tanh(float x) {
  const float k = 0.79788456080286536f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

// The bodies of add_f32, f16_to_f32 and quantize_f32_qs8, compiled once per x86-64 level
// (loop_kernels.h).
ENCORE_INLINE void add_f32_body(size_t n, const float* x, float* acc) {
  for (size_t i = 0; i < n; ++i) acc[i] += x[i];
}

// half_to_float without branches, so that the loop vectorises (the branchy form measured
// 0.1 ms of a 9 ms MiniLM run, converting embedding rows): normal numbers, infinities and NaN
// re-bias the exponent field (twice for the all-ones exponent); zeros and subnormals are
// mantissa * 2^-24, exact in float. Checked against half_to_float on all 65536 patterns.
ENCORE_INLINE void f16_to_f32_body(size_t n, const uint16_t* x, float* y) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t h = x[i];
    const uint32_t magnitude = h & 0x7fffu, sign = (h & 0x8000u) << 16;
    const uint32_t rebias = (112u << 23) + (magnitude >= 0x7c00u ? (112u << 23) : 0u);
    const uint32_t normal = (magnitude << 13) + rebias;
    const uint32_t small = float_bits(static_cast<float>(magnitude) * 5.9604644775390625e-8f);  // 2^-24
    y[i] = internal::bits_to_float(sign | (magnitude < 0x400u ? small : normal));
  }
}

ENCORE_INLINE void quantize_f32_qs8_body(size_t n, const float* x, float scale, int32_t zero_point, int8_t* y) {
  const float zp = static_cast<float>(zero_point);
  for (size_t i = 0; i < n; ++i) y[i] = quantize_one(x[i], scale, zp);
}

}  // namespace

#define ENCORE_ELEMENTWISE_VARIANTS(suffix, attr)                                                                  \
  attr void internal::add_f32_##suffix(size_t n, const float* x, float* acc) { add_f32_body(n, x, acc); }         \
  attr void internal::f16_to_f32_##suffix(size_t n, const uint16_t* x, float* y) { f16_to_f32_body(n, x, y); }    \
  attr void internal::quantize_f32_qs8_##suffix(size_t n, const float* x, float scale, int32_t zero_point,        \
                                                int8_t* y) {                                                       \
    quantize_f32_qs8_body(n, x, scale, zero_point, y);                                                             \
  }

ENCORE_ELEMENTWISE_VARIANTS(default, )
#ifdef ENCORE_X86_LEVELS
ENCORE_ELEMENTWISE_VARIANTS(x86_64_v3, ENCORE_X86_V3)
ENCORE_ELEMENTWISE_VARIANTS(x86_64_v4, ENCORE_X86_V4)
#endif
#undef ENCORE_ELEMENTWISE_VARIANTS

void dequantize_qs8_f32(size_t n, const int8_t* q, float scale, int32_t zero_point, float* y) {
  const float zp = static_cast<float>(zero_point);
  for (size_t i = 0; i < n; ++i) y[i] = scale * (static_cast<float>(q[i]) - zp);
}

void add_f32(size_t n, const float* x, float* acc) { internal::kernel_table().add(n, x, acc); }

void f16_to_f32(size_t n, const uint16_t* x, float* y) { internal::kernel_table().f16_to_f32(n, x, y); }

void quantize_f32_qs8(size_t n, const float* x, float scale, int32_t zero_point, int8_t* y) {
  internal::kernel_table().quantize(n, x, scale, zero_point, y);
}

void activation_f32(Activation act, size_t n, const float* x, float* y) {
  switch (act) {
    case Activation::kGeluErf:
      for (size_t i = 0; i < n; ++i) y[i] = gelu_erf(x[i]);
      return;
    case Activation::kGeluTanh:
      for (size_t i = 0; i < n; ++i) y[i] = gelu_tanh(x[i]);
      return;
    case Activation::kRelu:
      for (size_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
  }
}

void tanh_f32(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

void make_activation_lut_qs8(Activation act, float in_scale, int32_t in_zero_point, float out_scale,
                             int32_t out_zero_point, int8_t lut[256]) {
  float real[256];
  for (int q = -128; q <= 127; ++q) real[q + 128] = in_scale * static_cast<float>(q - in_zero_point);
  activation_f32(act, 256, real, real);
  quantize_f32_qs8(256, real, out_scale, out_zero_point, lut);
}

void apply_lut_qs8(size_t n, const int8_t* x, const int8_t lut[256], int8_t* y) {
  // The table's byte-permute kernel where the CPU has one (AVX-512 VBMI), else one load per byte.
  if (const internal::LutQs8Fn kernel = internal::kernel_table().lut) {
    kernel(n, x, lut, y);
    return;
  }
  for (size_t i = 0; i < n; ++i) y[i] = lut[static_cast<uint8_t>(x[i] + 128)];
}

}  // namespace encore
