// LayerNorm against the double-precision scalar reference.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/layer_norm.h"
#include "kernels/reference/reference.h"

namespace encore {
namespace {

TEST_CASE("layer_norm_f32 matches the reference on odd shapes, large means, in place") {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (size_t rows : {1, 2, 5}) {
    for (size_t cols : {1, 3, 8, 17, 64, 333, 768}) {
      for (float offset : {0.0f, 50.0f}) {
        std::vector<float> x(rows * cols), gamma(cols), beta(cols), y(rows * cols);
        for (float& v : x) v = offset + 3.0f * d(rng);
        for (float& v : gamma) v = 1.0f + 0.2f * d(rng);
        for (float& v : beta) v = 0.1f * d(rng);
        for (float eps : {1e-12f, 1e-5f}) {
          std::vector<double> want;
          reference::layer_norm(rows, cols, x.data(), gamma.data(), beta.data(), eps, &want);
          layer_norm_f32(rows, cols, x.data(), gamma.data(), beta.data(), eps, y.data());
          double err = 0.0;
          for (size_t i = 0; i < y.size(); ++i) err = std::max(err, std::fabs(y[i] - want[i]));
          INFO("rows=" << rows << " cols=" << cols << " offset=" << offset << " eps=" << eps);
          CHECK(err <= 2e-5);
          std::vector<float> inplace = x;
          layer_norm_f32(rows, cols, inplace.data(), gamma.data(), beta.data(), eps, inplace.data());
          CHECK(inplace == y);
        }
      }
    }
  }
}

TEST_CASE("layer_norm_f32 of a constant row is beta (eps keeps it finite)") {
  std::vector<float> x(10, 4.0f), gamma(10, 2.0f), beta(10), y(10);
  for (size_t i = 0; i < 10; ++i) beta[i] = float(i);
  layer_norm_f32(1, 10, x.data(), gamma.data(), beta.data(), 1e-12f, y.data());
  for (size_t i = 0; i < 10; ++i) CHECK(y[i] == doctest::Approx(beta[i]));
}

}  // namespace
}  // namespace encore
