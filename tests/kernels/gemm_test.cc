// Own int8 GEMM: every kernel this CPU can run, and the x86 tiles on the intrinsic stand-ins,
// against an int64 reference, bit for bit, with guard bytes around the output.
#include <doctest/doctest.h>
#include <pthreadpool.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_paths.h"
#include "kernels/gemm.h"
#include "kernels/gemm_tile.h"
#include "kernels/x86_kernels.h"

namespace encore {
namespace {

// Exact int64 accumulator, then XNNPACK's fp32 requantization written out the slow way.
std::vector<int8_t> reference(size_t rows, size_t out, size_t in, const std::vector<int8_t>& x,
                              const std::vector<int8_t>& w, const std::vector<int32_t>& bias,
                              const std::vector<float>& wscale, const std::vector<float>& oscale, float in_scale,
                              int32_t in_zp, int32_t out_zp) {
  std::vector<int8_t> y(rows * out);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t o = 0; o < out; ++o) {
      int64_t acc = bias[o];
      for (size_t k = 0; k < in; ++k) acc += int64_t(x[r * in + k] - in_zp) * w[o * in + k];
      volatile float scale = in_scale * (wscale[o] / oscale[o]);  // volatile: no fused multiply-add
      volatile float f = static_cast<float>(acc) * scale;
      const float clamped = std::min(std::max(static_cast<float>(f), float(-128 - out_zp)), float(127 - out_zp));
      y[r * out + o] = static_cast<int8_t>(std::nearbyint(clamped) + out_zp);
    }
  }
  return y;
}

// One GEMM case, builder style: GemmTester{}.rows(7).out(127).in(384).input_zero_point(3)
// .check(kernel). check() packs for the kernel, runs it (through qs8_gemm_run, or a given tile
// function) and compares every output byte with the reference and the guard bytes around them.
class GemmTester {
 public:
  GemmTester& rows(size_t v) { rows_ = v; return *this; }
  GemmTester& out(size_t v) { out_ = v; return *this; }
  GemmTester& in(size_t v) { in_ = v; return *this; }
  GemmTester& input_zero_point(int32_t v) { in_zp_ = v; return *this; }
  GemmTester& output_zero_point(int32_t v) { out_zp_ = v; return *this; }
  // Every input and weight at the int8 extremes (the accumulator's range).
  GemmTester& extreme(bool v) { extreme_ = v; return *this; }
  GemmTester& pool(pthreadpool_t v) { pool_ = v; return *this; }

  void check(Qs8GemmKernel kernel, internal::Qs8TileFn tile = nullptr) const {
    std::mt19937 rng(static_cast<uint32_t>(rows_ * 1009 + out_ * 31 + in_ * 7 + in_zp_ + 300));
    std::uniform_int_distribution<int> q(-128, 127), qw(-127, 127), qb(-2000, 2000), coin(0, 1);
    std::uniform_real_distribution<float> ws(0.002f, 0.02f);
    std::vector<int8_t> x(rows_ * in_), w(out_ * in_);
    std::vector<int32_t> bias(out_);
    std::vector<float> wscale(out_), oscale(out_);
    for (auto& v : x) v = static_cast<int8_t>(extreme_ ? (coin(rng) ? 127 : -128) : q(rng));
    for (auto& v : w) v = static_cast<int8_t>(extreme_ ? (coin(rng) ? 127 : -127) : qw(rng));
    for (auto& v : bias) v = qb(rng);
    for (auto& v : wscale) v = ws(rng);
    // Output scales sized so that most results land inside int8 (a test of the clamp alone
    // would prove little), different per channel as in the fused QKV layer.
    for (size_t o = 0; o < out_; ++o) {
      oscale[o] = (extreme_ ? 1.0f : 0.05f) * float(1 + (3 * o) / out_) * std::sqrt(float(in_));
    }
    const float in_scale = 0.03f;
    const auto expect = reference(rows_, out_, in_, x, w, bias, wscale, oscale, in_scale, in_zp_, out_zp_);
    const auto packed = qs8_gemm_pack(kernel, out_, in_, w.data(), bias.data(), wscale.data(), oscale.data(),
                                      in_scale, in_zp_, out_zp_);
    // Guard bytes around the output catch stores past a partial tile.
    std::vector<int8_t> y(rows_ * out_ + 64, 0x55);
    if (tile) {
      internal::qs8_gemm_run_tile(packed, rows_, x.data(), y.data() + 32, pool_, tile);
    } else {
      qs8_gemm_run(packed, rows_, x.data(), y.data() + 32, pool_);
    }
    int differ = 0, clamped = 0;
    for (size_t i = 0; i < rows_ * out_; ++i) {
      differ += y[32 + i] != expect[i];
      clamped += expect[i] == -128 || expect[i] == 127;
    }
    int guards = 0;
    for (size_t i = 0; i < 32; ++i) guards += (y[i] != 0x55) + (y[32 + rows_ * out_ + i] != 0x55);
    CAPTURE(qs8_gemm_kernel_name(kernel));
    CAPTURE(rows_); CAPTURE(out_); CAPTURE(in_); CAPTURE(in_zp_); CAPTURE(out_zp_);
    CHECK(differ == 0);
    CHECK(guards == 0);
    // An extreme output zero point clamps one sign of results; the rest must be real values.
    if (rows_ * out_ >= 64) CHECK(clamped < int(rows_ * out_) * 3 / 4);
  }

 private:
  size_t rows_ = 1, out_ = 1, in_ = 1;
  int32_t in_zp_ = 0, out_zp_ = 0;
  bool extreme_ = false;
  pthreadpool_t pool_ = nullptr;
};

constexpr std::pair<int32_t, int32_t> kZeroPoints[] = {{0, 0}, {-128, 7}, {127, -128}, {-5, 127}};

TEST_CASE("qs8 gemm: the portable kernel is always supported and listed first") {
  const auto kernels = qs8_gemm_supported_kernels();
  REQUIRE(!kernels.empty());
  CHECK(kernels.front() == Qs8GemmKernel::kPortable);
  CHECK(qs8_gemm_kernel_supported(qs8_gemm_best_kernel()));
  MESSAGE("qs8 gemm kernels on this CPU: " << [&] {
    std::string s;
    for (auto k : kernels) s += std::string(s.empty() ? "" : ", ") + qs8_gemm_kernel_name(k);
    return s;
  }());
}

TEST_CASE("qs8 gemm: every path's choice is a supported kernel with its tile") {
  for (const auto& path : test::kernel_paths()) {
    INFO(path.name);
    const internal::KernelTable& t = path.table;
    CHECK(t.gemm_supported[static_cast<size_t>(t.gemm)]);
    CHECK(qs8_gemm_kernel_supported(t.gemm));  // a subset of this CPU's features: runs here
    CHECK((t.gemm_tile == internal::qs8_gemm_tile(t.gemm)));
    CHECK(t.gemm_beats_xnnpack == qs8_gemm_beats_xnnpack(t.gemm));
    CHECK(std::string(t.gemm_name) == qs8_gemm_kernel_name(t.gemm));
  }
}

TEST_CASE("qs8 gemm: every supported kernel equals the reference bit for bit over odd shapes") {
  for (auto kernel : qs8_gemm_supported_kernels()) {
    for (size_t rows : {1, 3, 4, 5, 13}) {
      for (size_t out : {1, 15, 16, 17, 64, 65, 130}) {
        for (size_t in : {1, 3, 4, 5, 63, 100}) {
          for (auto [izp, ozp] : kZeroPoints) {
            GemmTester{}.rows(rows).out(out).in(in).input_zero_point(izp).output_zero_point(ozp).check(kernel);
          }
        }
      }
    }
  }
}

TEST_CASE("qs8 gemm: BERT-sized K at the int8 extremes stays exact (no accumulator overflow)") {
  for (auto kernel : qs8_gemm_supported_kernels()) {
    GemmTester{}.rows(5).out(70).in(3072).input_zero_point(-128).output_zero_point(0).extreme(true).check(kernel);
    GemmTester{}.rows(4).out(64).in(3071).input_zero_point(127).output_zero_point(3).extreme(true).check(kernel);
  }
}

TEST_CASE("qs8 gemm: two threads give the one-thread result") {
  pthreadpool_t pool = pthreadpool_create(2);
  REQUIRE(pool != nullptr);
  for (auto kernel : qs8_gemm_supported_kernels()) {
    GemmTester{}.rows(37).out(200).in(129).input_zero_point(3).output_zero_point(-2).pool(pool).check(kernel);
    GemmTester{}.rows(128).out(96).in(64).pool(pool).check(kernel);
  }
  pthreadpool_destroy(pool);
}

#ifdef ENCORE_X86_KERNELS
TEST_CASE("qs8 gemm: the VNNI tiles on intrinsic stand-ins equal the reference (any x86 CPU)") {
  const std::pair<Qs8GemmKernel, internal::Qs8TileFn> tiles[] = {
      {Qs8GemmKernel::kAvx512Vnni, internal::shim::qs8_tile_avx512vnni},
      {Qs8GemmKernel::kAvxVnni, internal::shim::qs8_tile_avxvnni}};
  for (auto [kernel, tile] : tiles) {
    for (size_t rows : {1, 4, 6}) {
      for (size_t out : {1, 16, 17, 64, 65, 130}) {
        for (size_t in : {1, 5, 64, 67}) {
          for (auto [izp, ozp] : {std::pair{0, 0}, {-128, 7}, {127, -128}}) {
            GemmTester{}.rows(rows).out(out).in(in).input_zero_point(izp).output_zero_point(ozp).check(kernel, tile);
          }
        }
      }
    }
    GemmTester{}.rows(5).out(70).in(3072).input_zero_point(-128).extreme(true).check(kernel, tile);
  }
}
#endif

}  // namespace
}  // namespace encore
