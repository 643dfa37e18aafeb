// f16 <-> f32 conversion: exhaustive over every half, and round-to-nearest-even checked
// against the neighbouring representable values.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.h"
#include "kernels/elementwise.h"

namespace encore {
namespace {

TEST_CASE("half_to_float of every half round-trips through float_to_half") {
  int nan = 0;
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = half_to_float(uint16_t(h));
    if (std::isnan(f)) {
      ++nan;
      CHECK(std::isnan(half_to_float(float_to_half(f))));
      continue;
    }
    REQUIRE(float_to_half(f) == h);
  }
  CHECK(nan == 2 * 1023);
  CHECK(half_to_float(0x3C00) == 1.0f);
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(half_to_float(0x7BFF) == 65504.0f);
  CHECK(half_to_float(0xFC00) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("float_to_half picks the nearest half, ties to even, overflow to infinity") {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> exponent(-27.0f, 17.0f);
  for (int i = 0; i < 200000; ++i) {
    const float f = std::exp2(exponent(rng)) * (i % 2 ? -1.0f : 1.0f);
    const uint16_t h = float_to_half(f);
    const double got = half_to_float(h);
    if (std::isinf(got)) {
      REQUIRE(std::fabs(f) >= 65520.0f);
      continue;
    }
    // Neither neighbour is closer (neighbours by bit pattern, within the same sign).
    const double err = std::fabs(got - double(f));
    for (int step : {-1, 1}) {
      const uint16_t n = uint16_t(h + step);
      if ((n & 0x7fff) == 0x7fff || ((h & 0x7fff) == 0 && step < 0)) continue;
      const double other = half_to_float(n);
      if (std::isinf(other) || std::isnan(other)) continue;
      const double other_err = std::fabs(other - double(f));
      REQUIRE(err <= other_err);
      if (err == other_err) REQUIRE((h & 1) == 0);  // a tie went to the even pattern
    }
  }
  CHECK(float_to_half(65519.0f) == 0x7BFF);
  CHECK(float_to_half(65520.0f) == 0x7C00);
  CHECK(float_to_half(std::ldexp(1.0f, -25)) == 0x0000);               // tie -> even (zero)
  CHECK(float_to_half(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(float_to_half(std::ldexp(3.0f, -25)) == 0x0002);               // 1.5 units: tie -> even
  CHECK(float_to_half(-0.0f) == 0x8000);
}

TEST_CASE("f16_to_f32 converts arrays of odd length") {
  std::vector<uint16_t> x;
  for (uint32_t h = 0; h < 0x7c00; h += 37) x.push_back(uint16_t(h));
  std::vector<float> y(x.size());
  f16_to_f32(x.size(), x.data(), y.data());
  for (size_t i = 0; i < x.size(); ++i) REQUIRE(y[i] == half_to_float(x[i]));
}

TEST_CASE("f16_to_f32 equals half_to_float bit for bit on every half, NaN payloads included") {
  std::vector<uint16_t> x(65536);
  for (uint32_t h = 0; h < 65536; ++h) x[h] = uint16_t(h);
  std::vector<float> y(x.size());
  f16_to_f32(x.size(), x.data(), y.data());
  size_t differ = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float want = half_to_float(uint16_t(h));
    differ += std::memcmp(&want, &y[h], sizeof want) != 0;
  }
  CHECK(differ == 0);
}

}  // namespace
}  // namespace encore
