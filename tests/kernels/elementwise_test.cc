// Element-wise kernels against the double-precision scalar reference, through the public entry
// points and on every path this CPU has.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.h"
#include "kernel_paths.h"
#include "kernels/elementwise.h"
#include "kernels/reference/reference.h"

namespace encore {
namespace {

const size_t kSizes[] = {1, 2, 3, 7, 8, 15, 16, 17, 63, 64, 65, 257};

std::vector<float> random_floats(size_t n, float stddev, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, stddev);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

TEST_CASE("quantize_f32_qs8 rounds half to even, saturates, maps NaN to the zero point") {
  const float scale = 0.5f;
  for (int32_t zp : {0, -3, 17}) {
    std::vector<float> x = {0.25f, 0.75f, -0.25f, -0.75f, 1.25f, 1e9f, -1e9f, 63.6f, -64.2f,
                            std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 0.0f, -0.0f};
    std::vector<int8_t> y(x.size());
    quantize_f32_qs8(x.size(), x.data(), scale, zp, y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      INFO("x=" << x[i] << " zp=" << zp);
      CHECK(int(y[i]) == int(reference::quantize(x[i], scale, zp)));
    }
  }
  // Ties explicitly: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2.
  std::vector<float> ties = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f};
  std::vector<int8_t> y(ties.size());
  quantize_f32_qs8(ties.size(), ties.data(), 1.0f, 0, y.data());
  CHECK(std::vector<int>(y.begin(), y.end()) == std::vector<int>{0, 2, 2, 0, -2});
}

TEST_CASE("quantize_f32_qs8 matches the reference on random data of odd sizes") {
  for (size_t n : kSizes) {
    auto x = random_floats(n, 3.0f, uint32_t(n));
    std::vector<int8_t> y(n);
    quantize_f32_qs8(n, x.data(), 0.037f, 5, y.data());
    for (size_t i = 0; i < n; ++i) REQUIRE(int(y[i]) == int(reference::quantize(x[i], 0.037f, 5)));
  }
}

TEST_CASE("dequantize matches the affine definition") {
  for (size_t n : kSizes) {
    std::vector<int8_t> q(n);
    for (size_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(int(i * 37 % 256) - 128);
    std::vector<float> y(n);
    dequantize_qs8_f32(n, q.data(), 0.02f, -7, y.data());
    for (size_t i = 0; i < n; ++i) {
      const double want = 0.02 * (double(q[i]) + 7);
      REQUIRE(y[i] == doctest::Approx(want).epsilon(1e-6));
    }
  }
}

TEST_CASE("add_f32 adds in place") {
  for (size_t n : kSizes) {
    auto x = random_floats(n, 1.0f, 1), acc = random_floats(n, 1.0f, 2), acc0 = acc;
    add_f32(n, x.data(), acc.data());
    for (size_t i = 0; i < n; ++i) REQUIRE(acc[i] == acc0[i] + x[i]);
  }
}

TEST_CASE("activation_f32 matches the reference for every activation, in place too") {
  for (Activation act : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kRelu}) {
    for (size_t n : kSizes) {
      auto x = random_floats(n, 4.0f, uint32_t(n) + 11);
      std::vector<float> y(n);
      activation_f32(act, n, x.data(), y.data());
      for (size_t i = 0; i < n; ++i) {
        INFO("act=" << int(act) << " x=" << x[i]);
        REQUIRE(std::fabs(y[i] - reference::activation(act, x[i])) <= 2e-6 * (1.0 + std::fabs(x[i])));
      }
      activation_f32(act, n, x.data(), x.data());
      for (size_t i = 0; i < n; ++i) REQUIRE(x[i] == y[i]);
    }
  }
}

TEST_CASE("tanh_f32 matches std::tanh in double") {
  auto x = random_floats(101, 3.0f, 5);
  std::vector<float> y(x.size());
  tanh_f32(x.size(), x.data(), y.data());
  for (size_t i = 0; i < x.size(); ++i) REQUIRE(std::fabs(y[i] - std::tanh(double(x[i]))) <= 1e-6);
}

TEST_CASE("activation LUT equals quantize(act(dequantize(q))) for every code") {
  for (Activation act : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kRelu}) {
    for (int32_t in_zp : {0, 12}) {
      int8_t lut[256];
      const float in_scale = 0.05f, out_scale = 0.03f;
      const int32_t out_zp = -100;
      make_activation_lut_qs8(act, in_scale, in_zp, out_scale, out_zp, lut);
      int max_diff = 0;
      for (int q = -128; q <= 127; ++q) {
        const double real = reference::activation(act, double(in_scale) * (q - in_zp));
        max_diff = std::max(max_diff, std::abs(lut[q + 128] - reference::quantize(real, out_scale, out_zp)));
      }
      // The table is computed in float; a value on a rounding tie may land one code away.
      CHECK(max_diff <= 1);
      // Applying the table, in place and out of place.
      std::vector<int8_t> x(300), y(300);
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int8_t>(int(i % 256) - 128);
      apply_lut_qs8(x.size(), x.data(), lut, y.data());
      for (size_t i = 0; i < x.size(); ++i) REQUIRE(y[i] == lut[x[i] + 128]);
      apply_lut_qs8(x.size(), x.data(), lut, x.data());
      CHECK(x == y);
    }
  }
}

TEST_CASE("apply_lut_qs8 looks every byte up, whatever the length (vector bodies and tails)") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(-128, 127);
  int8_t lut[256];
  for (auto& v : lut) v = static_cast<int8_t>(byte(rng));
  for (size_t n : {0, 1, 63, 64, 65, 127, 128, 129, 1000}) {
    INFO("n " << n);
    std::vector<int8_t> x(n + 8), y(n + 8, 55);
    for (auto& v : x) v = static_cast<int8_t>(byte(rng));
    apply_lut_qs8(n, x.data(), lut, y.data());
    for (size_t i = 0; i < n; ++i) REQUIRE(y[i] == lut[x[i] + 128]);
    for (size_t i = n; i < n + 8; ++i) REQUIRE(y[i] == 55);  // nothing past n written
  }
}

TEST_CASE("element-wise kernels: every path against the reference") {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> byte(-128, 127);
  int8_t lut[256];
  for (auto& v : lut) v = static_cast<int8_t>(byte(rng));
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& t = path.table;
    INFO(path.name << ": " << t.elementwise_name << ", " << t.lut_name);
    for (size_t n : kSizes) {
      INFO("n " << n);
      auto x = random_floats(n, 3.0f, uint32_t(n)), acc = random_floats(n, 1.0f, 2), acc0 = acc;
      std::vector<int8_t> q(n);
      t.quantize(n, x.data(), 0.037f, 5, q.data());
      for (size_t i = 0; i < n; ++i) REQUIRE(int(q[i]) == int(reference::quantize(x[i], 0.037f, 5)));
      t.add(n, x.data(), acc.data());
      for (size_t i = 0; i < n; ++i) REQUIRE(acc[i] == acc0[i] + x[i]);
      std::vector<uint16_t> h(n);
      for (size_t i = 0; i < n; ++i) h[i] = static_cast<uint16_t>(rng());
      std::vector<float> f(n);
      t.f16_to_f32(n, h.data(), f.data());
      for (size_t i = 0; i < n; ++i) {
        const float want = half_to_float(h[i]);
        REQUIRE(std::memcmp(&want, &f[i], sizeof want) == 0);
      }
    }
    if (!t.lut) continue;
    for (size_t n : {0, 1, 63, 64, 65, 127, 128, 129, 1000}) {
      INFO("lut n " << n);
      std::vector<int8_t> x(n + 8), y(n + 8, 55);
      for (auto& v : x) v = static_cast<int8_t>(byte(rng));
      t.lut(n, x.data(), lut, y.data());
      for (size_t i = 0; i < n; ++i) REQUIRE(y[i] == lut[x[i] + 128]);
      for (size_t i = n; i < n + 8; ++i) REQUIRE(y[i] == 55);  // nothing past n written
      t.lut(n, x.data(), lut, x.data());  // in place
      for (size_t i = 0; i < n; ++i) REQUIRE(x[i] == y[i]);
    }
  }
}

}  // namespace
}  // namespace encore
