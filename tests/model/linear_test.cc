// XNNPACK linear wrappers (f32 fully connected, qc8 1x1 convolution) against plain loops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "xnnpack/xnn_linear.h"

namespace encore::internal {
namespace {

struct LinearTester {
  size_t rows_ = 1, in_ = 1, out_ = 1;
  int threads_ = 1;
  LinearTester& rows(size_t r) { rows_ = r; return *this; }
  LinearTester& in(size_t k) { in_ = k; return *this; }
  LinearTester& out(size_t n) { out_ = n; return *this; }

  void check_f32() const {
    std::mt19937 rng(static_cast<uint32_t>(rows_ * 131 + in_ * 7 + out_));
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(rows_ * in_), w(out_ * in_), b(out_), y(rows_ * out_);
    for (auto* v : {&x, &w, &b}) for (float& f : *v) f = d(rng);
    auto op = LinearOp::create_f32(static_cast<int64_t>(out_), static_cast<int64_t>(in_), w.data(), b.data(), "test");
    REQUIRE(op.ok());
    REQUIRE(op->run(rows_, x.data(), y.data(), nullptr).ok());
    for (size_t r = 0; r < rows_; ++r) {
      for (size_t o = 0; o < out_; ++o) {
        double acc = b[o];
        for (size_t k = 0; k < in_; ++k) acc += double(x[r * in_ + k]) * w[o * in_ + k];
        REQUIRE(std::fabs(y[r * out_ + o] - acc) <= 1e-4 * (1.0 + std::sqrt(double(in_))));
      }
    }
  }

  // int8: the reference computes the integer accumulator exactly, then requantizes twice:
  // in double (the ideal result; XNNPACK may differ by one code at rounding ties) and the way
  // XNNPACK's fp32 requantization specifies it (accumulator to float, times the float scale
  // input_scale * kernel_scale, clamp, round half to even), which every architecture's kernel
  // must reproduce exactly: this is what makes int8 results bit-identical across x86 and ARM.
  void check_qc8(int32_t in_zp, int32_t out_zp) const {
    std::mt19937 rng(static_cast<uint32_t>(rows_ * 31 + in_ * 17 + out_));
    std::uniform_int_distribution<int> q(-128, 127), qw(-127, 127), qb(-5000, 5000);
    std::uniform_real_distribution<float> s(0.002f, 0.02f);
    std::vector<int8_t> x(rows_ * in_), w(out_ * in_), y(rows_ * out_);
    std::vector<int32_t> b(out_);
    std::vector<float> wscale(out_), oscale(out_);
    for (auto& v : x) v = static_cast<int8_t>(q(rng));
    for (auto& v : w) v = static_cast<int8_t>(qw(rng));
    for (auto& v : b) v = qb(rng);
    for (auto& v : wscale) v = s(rng);
    // Per-row output scales, as the fused QKV layer uses (three different segments).
    for (size_t o = 0; o < out_; ++o) oscale[o] = 0.05f * float(1 + (3 * o) / out_) * std::sqrt(float(in_));
    LinearWeights lw;
    lw.out = static_cast<int64_t>(out_);
    lw.in = static_cast<int64_t>(in_);
    lw.weight_i8 = w.data();
    lw.weight_scales = wscale.data();
    lw.bias_i32 = b.data();
    const ActivationQuant input{0.03f, in_zp};
    auto op = LinearOp::create_qc8(lw, input, oscale.data(), out_zp, "test");
    REQUIRE(op.ok());
    REQUIRE(op->run(rows_, x.data(), y.data(), nullptr).ok());
    int max_diff = 0, saturated = 0, not_fp32_exact = 0;
    for (size_t r = 0; r < rows_; ++r) {
      for (size_t o = 0; o < out_; ++o) {
        int64_t acc = b[o];
        for (size_t k = 0; k < in_; ++k) acc += int64_t(x[r * in_ + k] - in_zp) * w[o * in_ + k];
        double real = double(acc) * input.scale * wscale[o] / oscale[o];
        double expect = std::clamp(std::nearbyint(real) + out_zp, -128.0, 127.0);
        saturated += expect == -128.0 || expect == 127.0;
        max_diff = std::max(max_diff, std::abs(int(y[r * out_ + o]) - int(expect)));
        volatile float fp32_scale = input.scale * (wscale[o] / oscale[o]);  // volatile: no fused multiply-add
        volatile float fp32 = static_cast<float>(acc) * fp32_scale;
        const float lo = float(-128 - out_zp), hi = float(127 - out_zp);
        const float clamped = std::min(std::max(static_cast<float>(fp32), lo), hi);
        not_fp32_exact += int(y[r * out_ + o]) != int(std::nearbyint(clamped)) + out_zp;
      }
    }
    CHECK(max_diff <= 1);
    CHECK(not_fp32_exact == 0);
    // The test must exercise more than the clamp (tiny outputs with an extreme zero point
    // may all saturate by chance).
    if (rows_ * out_ >= 32) CHECK(saturated < int(rows_ * out_));
  }
};

TEST_CASE("LinearOp f32 matches the reference over odd shapes") {
  for (size_t rows : {1, 2, 7, 13}) {
    for (size_t in : {1, 3, 16, 33}) {
      for (size_t out : {1, 5, 16, 31}) {
        CAPTURE(rows); CAPTURE(in); CAPTURE(out);
        LinearTester{}.rows(rows).in(in).out(out).check_f32();
      }
    }
  }
}

TEST_CASE("LinearOp qc8 equals the fp32-requantizing reference exactly, per-row output scales") {
  for (size_t rows : {1, 3, 8, 17}) {
    for (size_t in : {1, 7, 16, 64}) {
      for (size_t out : {1, 6, 16, 33}) {
        for (auto [izp, ozp] : {std::pair{0, 0}, {-128, 5}, {127, -128}, {-3, 127}}) {
          CAPTURE(rows); CAPTURE(in); CAPTURE(out); CAPTURE(izp); CAPTURE(ozp);
          LinearTester{}.rows(rows).in(in).out(out).check_qc8(izp, ozp);
        }
      }
    }
  }
}

TEST_CASE("LinearOp qc8 refuses a requantization scale XNNPACK cannot represent") {
  std::vector<int8_t> w(4, 1);
  std::vector<int32_t> b(2, 0);
  std::vector<float> ws = {1.0f, 1.0f}, os = {1e-4f, 1e-4f};
  LinearWeights lw;
  lw.out = 2;
  lw.in = 2;
  lw.weight_i8 = w.data();
  lw.weight_scales = ws.data();
  lw.bias_i32 = b.data();
  auto op = LinearOp::create_qc8(lw, {1.0f, 0}, os.data(), 0, "layer.0.qkv");
  CHECK(op.status().code() == StatusCode::kUnsupported);
  CHECK(op.status().message().find("layer.0.qkv") != std::string::npos);
}

}  // namespace
}  // namespace encore::internal
