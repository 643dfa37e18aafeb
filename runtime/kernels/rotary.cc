#include "kernels/rotary.h"

#include <cmath>

#include "kernels/elementwise.h"
#include "kernels/kernel_table.h"
#include "kernels/loop_kernels.h"
#include "kernels/math_approx.h"

namespace encore {

void rotary_tables(size_t positions, size_t head_dim, float theta, float* cos, float* sin) {
  const size_t half = head_dim / 2;
  for (size_t i = 0; i < half; ++i) {
    // torch: base ** (arange(0, dim, 2).float() / dim) in float32, then 1.0 / that.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    const float inv_freq = 1.0f / std::pow(theta, exponent);
    for (size_t p = 0; p < positions; ++p) {
      const float angle = static_cast<float>(p) * inv_freq;  // float32, as the matmul in torch
      cos[p * half + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      sin[p * half + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
  }
}

void geglu_f32(Activation act, size_t rows, size_t width, const float* x, float* y) {
  if (act == Activation::kGeluErf) {
    internal::kernel_table().geglu_erf_f32(rows, width, x, y);
    return;
  }
  for (size_t r = 0; r < rows; ++r) {
    const float* in = x + r * 2 * width;
    float* out = y + r * width;
    activation_f32(act, width, in, out);
    for (size_t c = 0; c < width; ++c) out[c] *= in[width + c];
  }
}

void make_geglu_table_qs8(Activation act, float x_scale, int32_t x_zero_point, float y_scale, float table[256]) {
  for (int q = -128; q < 128; ++q) {
    float v = x_scale * static_cast<float>(q - x_zero_point);
    activation_f32(act, 1, &v, &v);
    table[q + 128] = v * (x_scale / y_scale);
  }
}

namespace {

// The bodies of the kernels below, compiled once per x86-64 level (loop_kernels.h). The int8
// rows are read through restrict pointers: int8_t may alias anything, and without them the
// compiler keeps every loop scalar (measured: rotary 10% and GeGLU 13% of a ModernBERT-base
// int8 run at seq 512 before).

ENCORE_INLINE void rotary_f32_body(size_t rows, size_t heads, size_t head_dim, float* x, size_t stride,
                                   const int32_t* positions, const float* cos, const float* sin) {
  const size_t half = head_dim / 2;
  for (size_t r = 0; r < rows; ++r) {
    const float* __restrict c = cos + static_cast<size_t>(positions[r]) * half;
    const float* __restrict s = sin + static_cast<size_t>(positions[r]) * half;
    for (size_t h = 0; h < heads; ++h) {
      float* __restrict x1 = x + r * stride + h * head_dim;
      float* __restrict x2 = x1 + half;
      for (size_t i = 0; i < half; ++i) {
        const float a = x1[i], b = x2[i];
        x1[i] = a * c[i] - b * s[i];
        x2[i] = b * c[i] + a * s[i];
      }
    }
  }
}

ENCORE_INLINE void rotary_qs8_body(size_t rows, size_t heads, size_t head_dim, int8_t* x, size_t stride,
                                   const int32_t* positions, const float* cos, const float* sin) {
  const size_t half = head_dim / 2;
  for (size_t r = 0; r < rows; ++r) {
    const float* __restrict c = cos + static_cast<size_t>(positions[r]) * half;
    const float* __restrict s = sin + static_cast<size_t>(positions[r]) * half;
    for (size_t h = 0; h < heads; ++h) {
      int8_t* __restrict x1 = x + r * stride + h * head_dim;
      int8_t* __restrict x2 = x1 + half;
      for (size_t i = 0; i < half; ++i) {
        const float a = x1[i], b = x2[i];
        x1[i] = internal::saturate_round_qs8(a * c[i] - b * s[i], 0.0f);
        x2[i] = internal::saturate_round_qs8(b * c[i] + a * s[i], 0.0f);
      }
    }
  }
}

ENCORE_INLINE void geglu_qs8_body(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point,
                                  const float* table, int32_t y_zero_point, int8_t* y) {
  const float zx = static_cast<float>(x_zero_point), zy = static_cast<float>(y_zero_point);
  for (size_t r = 0; r < rows; ++r) {
    const int8_t* __restrict in = x + r * 2 * width;
    const int8_t* __restrict gate = in + width;
    const float* __restrict t = table;
    int8_t* __restrict out = y + r * width;
    for (size_t c = 0; c < width; ++c) {
      out[c] = internal::saturate_round_qs8(t[in[c] + 128] * (static_cast<float>(gate[c]) - zx), zy);
    }
  }
}

// GELU(x) = x / 2 (1 + erf(x / sqrt 2)) with erfc from Abramowitz and Stegun 7.1.26 (absolute
// error below 1.5e-7): for z = |x| / sqrt 2, erfc(z) = t (a1 + t (a2 + ... a5)) e^(-z^2), t =
// 1 / (1 + p z), and 1 + erf(x / sqrt 2) is 2 - erfc(z) for x >= 0, erfc(z) below (no
// cancellation for negative x). Branch-free, so the loop vectorises (std::erf does not: 11 ns
// per element, 16% of an int8 ModernBERT-base run whose quality gate kept 12 FFNs in f32).
ENCORE_INLINE float gelu_erf_approx(float x) {
  const float z = std::fabs(x) * 0.70710678118654752f;
  const float t = 1.0f / (1.0f + 0.3275911f * z);
  float poly = 1.061405429f;
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  const float erfc = poly * t * internal::exp_approx(-z * z);
  return 0.5f * x * (x >= 0.0f ? 2.0f - erfc : erfc);
}

ENCORE_INLINE void geglu_erf_f32_body(size_t rows, size_t width, const float* x, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    const float* __restrict in = x + r * 2 * width;
    const float* __restrict gate = in + width;
    float* __restrict out = y + r * width;
    for (size_t c = 0; c < width; ++c) out[c] = gelu_erf_approx(in[c]) * gate[c];
  }
}

// Each row's products go to a float row on the stack (rows up to kGegluRowFloats wide; wider
// ones compute them again in the second pass) while 16 running maxima, one per lane, find the
// largest |product| in vector registers (a single running maximum would keep the loop scalar:
// measured 5.5 ns per element, 27% of a ModernBERT-base int8 run at seq 512).
constexpr size_t kGegluRowFloats = 4096, kGegluLanes = 16;

ENCORE_INLINE void geglu_rows_qs8_body(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point,
                                       const float* table, int8_t* y, float* row_scale) {
  const float zx = static_cast<float>(x_zero_point);
  alignas(64) float products[kGegluRowFloats];
  const bool stored = width <= kGegluRowFloats;
  for (size_t r = 0; r < rows; ++r) {
    const int8_t* __restrict in = x + r * 2 * width;
    const int8_t* __restrict gate = in + width;
    const float* __restrict t = table;
    int8_t* __restrict out = y + r * width;
    float* __restrict p = products;
    float lanes[kGegluLanes] = {};
    size_t c = 0;
    for (; c + kGegluLanes <= width; c += kGegluLanes) {
      for (size_t j = 0; j < kGegluLanes; ++j) {
        const float v = t[in[c + j] + 128] * (static_cast<float>(gate[c + j]) - zx);
        if (stored) p[c + j] = v;
        const float a = std::fabs(v);
        lanes[j] = a > lanes[j] ? a : lanes[j];  // NaN is skipped (it quantizes to 0 below)
      }
    }
    for (; c < width; ++c) {
      const float v = t[in[c] + 128] * (static_cast<float>(gate[c]) - zx);
      if (stored) p[c] = v;
      const float a = std::fabs(v);
      lanes[0] = a > lanes[0] ? a : lanes[0];
    }
    float largest = 0.0f;
    for (float l : lanes) largest = l > largest ? l : largest;
    // A row of zeros keeps scale 1 (codes 0); an infinite product gives an infinite scale, so
    // the residual turns non-finite as the f32 model's would.
    const float scale = largest > 0.0f ? largest / 127.0f : 1.0f;
    const float inv = 1.0f / scale;
    if (stored) {
      for (size_t i = 0; i < width; ++i) out[i] = internal::saturate_round_qs8(p[i] * inv, 0.0f);
    } else {
      for (size_t i = 0; i < width; ++i) {
        out[i] = internal::saturate_round_qs8(t[in[i] + 128] * (static_cast<float>(gate[i]) - zx) * inv, 0.0f);
      }
    }
    row_scale[r] = scale;
  }
}

}  // namespace

#define ENCORE_ROTARY_VARIANTS(suffix, attr)                                                                        \
  attr void internal::rotary_f32_##suffix(size_t rows, size_t heads, size_t head_dim, float* x, size_t stride,     \
                                          const int32_t* positions, const float* cos, const float* sin) {           \
    rotary_f32_body(rows, heads, head_dim, x, stride, positions, cos, sin);                                         \
  }                                                                                                                 \
  attr void internal::rotary_qs8_##suffix(size_t rows, size_t heads, size_t head_dim, int8_t* x, size_t stride,    \
                                          const int32_t* positions, const float* cos, const float* sin) {           \
    rotary_qs8_body(rows, heads, head_dim, x, stride, positions, cos, sin);                                         \
  }                                                                                                                 \
  attr void internal::geglu_qs8_##suffix(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point,         \
                                         const float* table, int32_t y_zero_point, int8_t* y) {                     \
    geglu_qs8_body(rows, width, x, x_zero_point, table, y_zero_point, y);                                           \
  }                                                                                                                 \
  attr void internal::geglu_rows_qs8_##suffix(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point,    \
                                              const float* table, int8_t* y, float* row_scale) {                    \
    geglu_rows_qs8_body(rows, width, x, x_zero_point, table, y, row_scale);                                         \
  }                                                                                                                 \
  attr void internal::geglu_erf_f32_##suffix(size_t rows, size_t width, const float* x, float* y) {                \
    geglu_erf_f32_body(rows, width, x, y);                                                                          \
  }

ENCORE_ROTARY_VARIANTS(default, )
#ifdef ENCORE_X86_LEVELS
ENCORE_ROTARY_VARIANTS(x86_64_v3, ENCORE_X86_V3)
ENCORE_ROTARY_VARIANTS(x86_64_v4, ENCORE_X86_V4)
#endif
#undef ENCORE_ROTARY_VARIANTS

void rotary_f32(size_t rows, size_t heads, size_t head_dim, float* x, size_t stride, const int32_t* positions,
                const float* cos, const float* sin) {
  internal::kernel_table().rotary_f32(rows, heads, head_dim, x, stride, positions, cos, sin);
}

void rotary_qs8(size_t rows, size_t heads, size_t head_dim, int8_t* x, size_t stride, const int32_t* positions,
                const float* cos, const float* sin) {
  internal::kernel_table().rotary_qs8(rows, heads, head_dim, x, stride, positions, cos, sin);
}

void geglu_qs8(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point, const float table[256],
               int32_t y_zero_point, int8_t* y) {
  internal::kernel_table().geglu_qs8(rows, width, x, x_zero_point, table, y_zero_point, y);
}

void geglu_rows_qs8(size_t rows, size_t width, const int8_t* x, int32_t x_zero_point, const float table[256], int8_t* y,
                    float* row_scale) {
  internal::kernel_table().geglu_rows_qs8(rows, width, x, x_zero_point, table, y, row_scale);
}

}  // namespace encore
