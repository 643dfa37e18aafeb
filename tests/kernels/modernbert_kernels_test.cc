// ModernBERT's kernels against plain double-precision math: sliding-window attention (f32 and
// int8, on every kernel path this CPU has), the rotary embedding (f32 and int8) and the int8
// GeGLU table.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_paths.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/kernel_table.h"
#include "kernels/rotary.h"

namespace encore {
namespace {

// softmax over keys |i - j| <= half (and unmasked) of q_i . k_j * scale, times V; the same
// layout as the kernels: rows `stride` apart.
std::vector<double> window_reference(size_t S, size_t d, size_t half, const std::vector<double>& q,
                                     const std::vector<double>& k, const std::vector<double>& v, size_t stride,
                                     const std::vector<float>& bias, double scale) {
  std::vector<double> out(S * d, 0.0);
  for (size_t i = 0; i < S; ++i) {
    const size_t lo = i > half ? i - half : 0, hi = std::min(S, i + half + 1);
    std::vector<double> s(hi - lo);
    double m = -std::numeric_limits<double>::infinity();
    for (size_t j = lo; j < hi; ++j) {
      double dot = 0.0;
      for (size_t c = 0; c < d; ++c) dot += q[i * stride + c] * k[j * stride + c];
      s[j - lo] = dot * scale + bias[j];
      m = std::max(m, s[j - lo]);
    }
    double total = 0.0;
    for (double& x : s) total += (x = std::exp(x - m));
    for (size_t j = lo; j < hi; ++j) {
      for (size_t c = 0; c < d; ++c) out[i * d + c] += s[j - lo] / total * v[j * stride + c];
    }
  }
  return out;
}

struct WindowCase {
  size_t S, d, half, padded;  // the last `padded` keys are masked
};

std::vector<WindowCase> window_cases() {
  std::vector<WindowCase> out;
  for (size_t S : {1, 5, 16, 17, 40, 100}) {
    for (size_t half : {1, 3, 8, 64}) {
      for (size_t d : {8, 16}) out.push_back({S, d, half, S > 4 ? S / 4 : 0});
    }
  }
  return out;
}

TEST_CASE("attention_window_f32 / _qs8 match softmax over the window, on every path") {
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& t = path.table;
    INFO(path.name);
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> code(-128, 127);
    for (const WindowCase& c : window_cases()) {
      INFO("S=" << c.S << " d=" << c.d << " half=" << c.half);
      const size_t stride = 3 * c.d;
      std::vector<int8_t> qkv8(c.S * stride);
      for (int8_t& x : qkv8) x = static_cast<int8_t>(code(rng));
      const float qs = 0.03f, ks = 0.025f, vs = 0.02f;
      std::vector<float> qkv(c.S * stride);
      std::vector<double> q(c.S * stride), k(c.S * stride), v(c.S * stride);
      for (size_t r = 0; r < c.S; ++r) {
        for (size_t i = 0; i < c.d; ++i) {
          q[r * stride + i] = qkv[r * stride + i] = qs * qkv8[r * stride + i];
          k[r * stride + i] = qkv[r * stride + c.d + i] = ks * qkv8[r * stride + c.d + i];
          v[r * stride + i] = qkv[r * stride + 2 * c.d + i] = vs * qkv8[r * stride + 2 * c.d + i];
        }
      }
      std::vector<float> bias(c.S, 0.0f);
      for (size_t j = c.S - c.padded; j < c.S; ++j) bias[j] = std::numeric_limits<float>::lowest();
      const float scale = 1.0f / std::sqrt(float(c.d));
      const std::vector<double> want = window_reference(c.S, c.d, c.half, q, k, v, stride, bias, scale);
      std::vector<float> scratch(attention_scratch_floats(c.S, c.d)), out(c.S * c.d), out8(c.S * c.d);
      t.attention_window_f32(t, c.S, c.d, c.half, qkv.data(), qkv.data() + c.d, qkv.data() + 2 * c.d, stride,
                             bias.data(), scale, scratch.data(), out.data(), c.d);
      t.attention_window_qs8(t, c.S, c.d, c.half, qkv8.data(), qs, qkv8.data() + c.d, ks, qkv8.data() + 2 * c.d, vs,
                             stride, bias.data(), scale, scratch.data(), out8.data(), c.d, nullptr);
      // Rows whose whole window is padding are left out: their output is no one's input (the
      // session computes them only for holes in a mask, whose keys nobody attends to), and
      // their scores are all the lowest float, in or out of the window, as in Hugging Face's
      // float32 masks.
      double err = 0.0, err8 = 0.0;
      for (size_t i = 0; i < want.size(); ++i) {
        const size_t row = i / c.d, first = row > c.half ? row - c.half : 0;
        if (first >= c.S - c.padded) continue;
        err = std::max(err, std::fabs(out[i] - want[i]));
        err8 = std::max(err8, std::fabs(out8[i] - want[i]));
      }
      CHECK(err <= 2e-6);
      // int8: probabilities as 8-bit codes (with the rounded-away mass credited at V's means):
      // within 1.5% of V's largest value (128 codes of 0.02).
      CHECK(err8 <= 0.015 * 128 * vs);
      if (c.half + 1 >= c.S) {  // a window covering everything is global attention
        std::vector<float> global(c.S * c.d);
        t.attention_f32(t, c.S, c.d, qkv.data(), qkv.data() + c.d, qkv.data() + 2 * c.d, stride, bias.data(), scale,
                        scratch.data(), global.data(), c.d, nullptr, 0);
        for (size_t i = 0; i < global.size(); ++i) CHECK(std::fabs(global[i] - out[i]) <= 1e-6f);
      }
    }
  }
}

TEST_CASE("rotary_f32 / rotary_qs8: rotate-half with the tables of Hugging Face's inv_freq") {
  const size_t P = 300, d = 16, heads = 3, half = d / 2, stride = 3 * heads * d;
  std::vector<float> cos(P * half), sin(P * half);
  rotary_tables(P, d, 10000.0f, cos.data(), sin.data());
  // Position 0 is the identity; the table at p, i is p / 10000^(2i/d).
  CHECK(cos[0] == 1.0f);
  CHECK(sin[3] == 0.0f);
  CHECK(std::fabs(cos[7 * half + 2] - std::cos(7.0 / std::pow(10000.0, 4.0 / 16))) <= 1e-6);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::uniform_int_distribution<int> code(-128, 127);
  const size_t rows = 9;
  std::vector<int32_t> pos = {0, 1, 2, 50, 51, 128, 200, 298, 299};
  std::vector<float> x(rows * stride);
  std::vector<int8_t> x8(rows * stride);
  for (float& f : x) f = u(rng);
  for (int8_t& q : x8) q = static_cast<int8_t>(code(rng));
  const std::vector<float> x0 = x;
  const std::vector<int8_t> x80 = x8;
  for (const auto& path : test::kernel_paths()) {
    INFO(path.name);
    x = x0;
    x8 = x80;
    path.table.rotary_f32(rows, 2 * heads, d, x.data(), stride, pos.data(), cos.data(), sin.data());
    path.table.rotary_qs8(rows, 2 * heads, d, x8.data(), stride, pos.data(), cos.data(), sin.data());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t col = 0; col < stride; ++col) {
        const size_t h = col / d, i = col % d;
        const size_t at = r * stride + col;
        if (h >= 2 * heads) {  // V is not rotated
          CHECK(x[at] == x0[at]);
          CHECK(x8[at] == x80[at]);
          continue;
        }
        const size_t base = r * stride + h * d, f = i % half;
        const double c = cos[pos[r] * half + f], s = sin[pos[r] * half + f];
        const double a = x0[base + f], b = x0[base + f + half];
        const double want = i < half ? a * c - b * s : b * c + a * s;
        CHECK(std::fabs(x[at] - want) <= 1e-5);
        const double a8 = x80[base + f], b8 = x80[base + f + half];
        const double want8 = std::max(-128.0, std::min(127.0, i < half ? a8 * c - b8 * s : b8 * c + a8 * s));
        CHECK(std::fabs(x8[at] - want8) <= 0.5 + 1e-4);
      }
    }
  }
}

TEST_CASE("geglu_qs8: act(input) * gate requantized through the table, within half a code") {
  const float xs = 0.05f, ys = 0.04f;
  const int32_t xz = 3, yz = -7;
  float table[256];
  make_geglu_table_qs8(Activation::kGeluErf, xs, xz, ys, table);
  const size_t rows = 3, width = 256;
  std::vector<int8_t> x(rows * 2 * width);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < width; ++c) {
      x[r * 2 * width + c] = static_cast<int8_t>(static_cast<int>(c) - 128);                // every input code
      x[r * 2 * width + width + c] = static_cast<int8_t>((static_cast<int>(c * 37 + r * 11) % 256) - 128);
    }
  }
  for (const auto& path : test::kernel_paths()) {
    INFO(path.name);
    std::vector<int8_t> y(rows * width);
    path.table.geglu_qs8(rows, width, x.data(), xz, table, yz, y.data());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < width; ++c) {
        const double a = xs * (x[r * 2 * width + c] - xz), g = xs * (x[r * 2 * width + width + c] - xz);
        const double gelu = 0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0)));
        const double want = std::max(-128.0, std::min(127.0, gelu * g / ys + yz));
        CHECK(std::fabs(y[r * width + c] - want) <= 0.5 + 1e-3);
      }
    }
  }
}

// Per-token scales: each row's scale is its largest |product| / 127 and its codes the products
// in that scale, within half a code; a row of zeros (every gate code at the zero point) keeps
// scale 1 and codes 0, and every path gives the same bits.
TEST_CASE("geglu_rows_qs8: act(input) * gate quantized with each row's own scale") {
  const float xs = 0.05f;
  const int32_t xz = 3;
  float table[256];
  make_geglu_table_qs8(Activation::kGeluErf, xs, xz, 1.0f, table);
  const size_t rows = 4, width = 256;
  std::vector<int8_t> x(rows * 2 * width);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < width; ++c) {
      x[r * 2 * width + c] = static_cast<int8_t>(static_cast<int>(c) - 128);
      // row 0: large gates; rows 1-2: small, differently scaled ones; row 3: the zero point
      const int gate = r == 3 ? xz : (static_cast<int>(c * 37 + r * 11) % 256 - 128) / (1 + 20 * static_cast<int>(r));
      x[r * 2 * width + width + c] = static_cast<int8_t>(gate);
    }
  }
  std::vector<int8_t> first;
  std::vector<float> first_scales;
  for (const auto& path : test::kernel_paths()) {
    INFO(path.name);
    std::vector<int8_t> y(rows * width);
    std::vector<float> scales(rows);
    path.table.geglu_rows_qs8(rows, width, x.data(), xz, table, y.data(), scales.data());
    for (size_t r = 0; r < rows; ++r) {
      std::vector<double> product(width);
      double largest = 0.0;
      for (size_t c = 0; c < width; ++c) {
        const double a = xs * (x[r * 2 * width + c] - xz), g = xs * (x[r * 2 * width + width + c] - xz);
        product[c] = 0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0))) * g;
        largest = std::max(largest, std::fabs(product[c]));
      }
      if (r == 3) {
        CHECK(scales[r] == 1.0f);
      } else {
        CHECK(scales[r] == doctest::Approx(largest / 127.0).epsilon(1e-5));
      }
      for (size_t c = 0; c < width; ++c) {
        const double want = r == 3 ? 0.0 : product[c] / (largest / 127.0);
        CHECK(std::fabs(y[r * width + c] - want) <= 0.5 + 1e-3);
      }
    }
    if (first.empty()) {
      first = y;
      first_scales = scales;
    } else {
      CHECK(y == first);
      CHECK(scales == first_scales);
    }
  }
}

// The f32 GeGLU's erf GELU (an erfc approximation, vectorised) against std::erf in double:
// within 2e-7 x max(1, |x|) plus an ulp of the result, over [-12, 12] (both tails), on every path.
TEST_CASE("geglu_f32: the erf GELU times the gate, within 2e-7 of double precision") {
  const size_t width = 4801;  // not a multiple of any vector width
  std::vector<float> x(2 * width);
  for (size_t c = 0; c < width; ++c) {
    x[c] = -12.0f + 24.0f * static_cast<float>(c) / static_cast<float>(width - 1);
    x[width + c] = c % 3 == 0 ? 1.0f : -0.75f;
  }
  for (const auto& path : test::kernel_paths()) {
    INFO(path.name);
    std::vector<float> y(width);
    path.table.geglu_erf_f32(1, width, x.data(), y.data());
    double worst = 0.0;
    for (size_t c = 0; c < width; ++c) {
      const double a = x[c], g = x[width + c];
      const double want = 0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0))) * g;
      const double err = std::fabs(y[c] - want);
      worst = std::max(worst, err / std::max(1.0, std::fabs(a)));
      CHECK(err <= 2e-7 * std::max(1.0, std::fabs(a)) + 1.2e-7 * std::fabs(want));
    }
    MESSAGE(path.name << ": largest error / max(1, |x|) " << worst);
  }
  std::vector<float> y(width);
  geglu_f32(Activation::kGeluErf, 1, width, x.data(), y.data());  // the dispatching entry point
  CHECK(std::fabs(y[width / 2]) < 1e-6f);
}

}  // namespace
}  // namespace encore
