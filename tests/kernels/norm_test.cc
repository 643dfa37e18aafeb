// LayerNorm and residual_layer_norm against the double-precision scalar reference, on every
// path this CPU has and on the x86 intrinsic stand-ins.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernel_paths.h"
#include "kernels/loop_kernels.h"
#include "kernels/norm.h"
#include "kernels/x86_kernels.h"
#include "kernels/math_approx.h"
#include "kernels/reference/reference.h"
#include "residual_norm_check.h"

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
          for (const auto& path : test::kernel_paths()) {
            const internal::LayerNormFn layer_norm = path.table.layer_norm;
            layer_norm(rows, cols, x.data(), gamma.data(), beta.data(), eps, y.data());
            double err = 0.0;
            for (size_t i = 0; i < y.size(); ++i) err = std::max(err, std::fabs(y[i] - want[i]));
            INFO(path.name << ": rows=" << rows << " cols=" << cols << " offset=" << offset << " eps=" << eps);
            CHECK(err <= 2e-5);
            std::vector<float> inplace = x;
            layer_norm(rows, cols, inplace.data(), gamma.data(), beta.data(), eps, inplace.data());
            CHECK(inplace == y);
          }
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

TEST_CASE("layer_norm_f32: every path equals the dispatched kernel bit for bit") {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 1.0f);
  const size_t rows = 3, cols = 333;
  std::vector<float> x(rows * cols), gamma(cols), beta(cols), want(rows * cols);
  for (float& v : x) v = 20.0f + 3.0f * d(rng);
  for (float& v : gamma) v = 1.0f + 0.2f * d(rng);
  for (float& v : beta) v = 0.1f * d(rng);
  layer_norm_f32(rows, cols, x.data(), gamma.data(), beta.data(), 1e-5f, want.data());
  for (const auto& path : test::kernel_paths()) {
    INFO(path.name << ": " << path.table.layer_norm_name);
    std::vector<float> got(rows * cols);
    path.table.layer_norm(rows, cols, x.data(), gamma.data(), beta.data(), 1e-5f, got.data());
    // Same level: same bits; another level may sum in another order (within the bound above).
    if (path.table.layer_norm == internal::kernel_table().layer_norm) CHECK(got == want);
  }
}

TEST_CASE("residual_layer_norm: the dispatched kernel and every path's kernel") {
  test::check_residual_layer_norm(residual_layer_norm);
  for (const auto& path : test::kernel_paths()) {
    INFO(path.name << ": " << path.table.residual_layer_norm_name);
    test::check_residual_layer_norm(path.table.residual_layer_norm);
  }
  // The plain loops at every level this build has, whatever the table chose.
  test::check_residual_layer_norm(internal::residual_layer_norm_default);
}

#ifdef ENCORE_X86_KERNELS
TEST_CASE("residual_layer_norm: the AVX-512 kernel on intrinsic stand-ins (any x86 CPU)") {
  test::check_residual_layer_norm(internal::shim::residual_layer_norm_avx512);
}
#endif

}  // namespace

namespace test {

// Against the double reference of LayerNorm(x + dequantized residual): floats within 2e-5 (as
// layer_norm_f32), codes equal to quantizing the kernel's own floats by the reciprocal and
// within one of quantizing the reference; NaN rows give the zero point; codes saturate.
void check_residual_layer_norm(ResidualNormFn fn) {
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::uniform_int_distribution<int> code(-128, 127);
  for (size_t rows : {1, 3}) {
    for (size_t cols : {1, 15, 16, 17, 33, 64, 100, 384}) {
      for (bool with_residual : {false, true}) {
        for (bool with_q : {false, true}) {
          INFO("rows " << rows << " cols " << cols << " residual " << with_residual << " q " << with_q);
          std::vector<float> x(rows * cols), gamma(cols), beta(cols);
          std::vector<int8_t> residual(rows * cols), q(rows * cols + 16, 99);
          for (float& v : x) v = 20.0f + 3.0f * d(rng);
          for (float& v : gamma) v = 1.0f + 0.2f * d(rng);
          for (float& v : beta) v = 0.1f * d(rng);
          for (int8_t& v : residual) v = static_cast<int8_t>(code(rng));
          ResidualNormQs8 io;
          if (with_residual) io = {residual.data(), 0.037f, 3, nullptr, 1.0f, 0};
          io.q = with_q ? q.data() : nullptr;
          io.q_scale = 0.021f;
          io.q_zero_point = -5;
          std::vector<float> summed = x;
          if (with_residual) {
            for (size_t i = 0; i < summed.size(); ++i) summed[i] += 0.037f * float(residual[i] - 3);
          }
          std::vector<double> want;
          reference::layer_norm(rows, cols, summed.data(), gamma.data(), beta.data(), 1e-5, &want);
          fn(rows, cols, x.data(), gamma.data(), beta.data(), 1e-5f, io);
          double err = 0.0;
          size_t own = 0, far = 0;
          for (size_t i = 0; i < x.size(); ++i) {
            err = std::max(err, std::fabs(x[i] - want[i]));
            if (!with_q) continue;
            own += q[i] != internal::saturate_round_qs8(x[i] * (1.0f / 0.021f), -5.0f);
            const double ref = std::min(127.0, std::max(-128.0, std::nearbyint(want[i] / 0.021) - 5));
            far += std::fabs(q[i] - ref) > 1;
          }
          CHECK(err <= 2e-5);
          CHECK(own == 0);
          CHECK(far == 0);
          for (size_t i = rows * cols; i < q.size(); ++i) CHECK(q[i] == 99);  // nothing past the rows
          if (!with_q) CHECK(q[0] == 99);
        }
      }
    }
  }
  // A NaN in a row makes the row NaN, quantized to the zero point; the other row is unaffected.
  const size_t cols = 40;
  std::vector<float> x(2 * cols, 1.0f), gamma(cols, 1.0f), beta(cols, 0.0f);
  for (size_t c = 0; c < cols; ++c) x[cols + c] = float(c % 5);
  x[7] = std::numeric_limits<float>::quiet_NaN();
  std::vector<int8_t> q(2 * cols, 99);
  ResidualNormQs8 io;
  io.q = q.data();
  io.q_scale = 0.001f;  // |x_hat| up to ~1.4: far past 127 codes, so the row saturates
  io.q_zero_point = 7;
  fn(2, cols, x.data(), gamma.data(), beta.data(), 1e-5f, io);
  for (size_t c = 0; c < cols; ++c) CHECK(q[c] == 7);
  for (size_t c = 0; c < cols; ++c) {
    const float v = x[cols + c];
    CHECK(q[cols + c] == (v > 0.0f ? 127 : v < 0.0f ? -128 : 7));
  }
}

}  // namespace test
}  // namespace encore
