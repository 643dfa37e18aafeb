// Own int8 GEMM: every kernel this CPU can run against a plain-loop reference, bit for bit.
#include <doctest/doctest.h>
#include <pthreadpool.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/gemm_qs8.h"
#include "kernels/gemm_qs8_tile.h"
#include "kernels/math_approx.h"
#include "residual_norm_check.h"

#if defined(__x86_64__) && defined(__GNUC__)
// The x86 kernels once more, on plain C++ stand-ins for their intrinsics (in namespace
// encore::internal::shim): their logic is then tested on every x86 CPU, not only on VNNI ones.
#include "x86_intrinsics_shim.h"
#define ENCORE_GEMM_X86_SHIM 1
#include "kernels/attention_x86.cc"
#include "kernels/elementwise_x86.cc"
#include "kernels/gemm_qs8_x86.cc"
#endif

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

struct GemmCase {
  size_t rows, out, in;
  int32_t in_zp, out_zp;
  int extreme = 0;  // 1: every input and weight at the int8 extremes (accumulator range)
};

// Runs `kernel` on one case and compares every output byte (and guard bytes around them).
using TileFn = void (*)(const internal::Qs8Tile&);

void check(Qs8GemmKernel kernel, const GemmCase& c, pthreadpool_t pool = nullptr, TileFn tile = nullptr) {
  std::mt19937 rng(static_cast<uint32_t>(c.rows * 1009 + c.out * 31 + c.in * 7 + c.in_zp + 300));
  std::uniform_int_distribution<int> q(-128, 127), qw(-127, 127), qb(-2000, 2000), coin(0, 1);
  std::uniform_real_distribution<float> ws(0.002f, 0.02f);
  std::vector<int8_t> x(c.rows * c.in), w(c.out * c.in);
  std::vector<int32_t> bias(c.out);
  std::vector<float> wscale(c.out), oscale(c.out);
  for (auto& v : x) v = static_cast<int8_t>(c.extreme ? (coin(rng) ? 127 : -128) : q(rng));
  for (auto& v : w) v = static_cast<int8_t>(c.extreme ? (coin(rng) ? 127 : -127) : qw(rng));
  for (auto& v : bias) v = qb(rng);
  for (auto& v : wscale) v = ws(rng);
  // Output scales sized so that most results land inside int8 (a test of the clamp alone
  // would prove little), different per channel as in the fused QKV layer.
  for (size_t o = 0; o < c.out; ++o) {
    oscale[o] = (c.extreme ? 1.0f : 0.05f) * float(1 + (3 * o) / c.out) * std::sqrt(float(c.in));
  }
  const float in_scale = 0.03f;
  const auto expect = reference(c.rows, c.out, c.in, x, w, bias, wscale, oscale, in_scale, c.in_zp, c.out_zp);
  const auto packed = qs8_gemm_pack(kernel, c.out, c.in, w.data(), bias.data(), wscale.data(), oscale.data(),
                                    in_scale, c.in_zp, c.out_zp);
  // Guard bytes around the output catch stores past a partial tile.
  std::vector<int8_t> y(c.rows * c.out + 64, 0x55);
  if (tile) {
    internal::qs8_gemm_run_tile(packed, c.rows, x.data(), y.data() + 32, pool, tile);
  } else {
    qs8_gemm_run(packed, c.rows, x.data(), y.data() + 32, pool);
  }
  int differ = 0, clamped = 0;
  for (size_t i = 0; i < c.rows * c.out; ++i) {
    differ += y[32 + i] != expect[i];
    clamped += expect[i] == -128 || expect[i] == 127;
  }
  int guards = 0;
  for (size_t i = 0; i < 32; ++i) guards += (y[i] != 0x55) + (y[32 + c.rows * c.out + i] != 0x55);
  CAPTURE(qs8_gemm_kernel_name(kernel));
  CAPTURE(c.rows); CAPTURE(c.out); CAPTURE(c.in); CAPTURE(c.in_zp); CAPTURE(c.out_zp);
  CHECK(differ == 0);
  CHECK(guards == 0);
  // An extreme output zero point clamps one sign of results; the rest must be real values.
  if (c.rows * c.out >= 64) CHECK(clamped < int(c.rows * c.out) * 3 / 4);
}

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

TEST_CASE("qs8 gemm: every supported kernel equals the reference bit for bit over odd shapes") {
  for (auto kernel : qs8_gemm_supported_kernels()) {
    for (size_t rows : {1, 3, 4, 5, 13}) {
      for (size_t out : {1, 15, 16, 17, 64, 65, 130}) {
        for (size_t in : {1, 3, 4, 5, 63, 100}) {
          for (auto [izp, ozp] : {std::pair{0, 0}, {-128, 7}, {127, -128}, {-5, 127}}) {
            check(kernel, {rows, out, in, izp, ozp});
          }
        }
      }
    }
  }
}

TEST_CASE("qs8 gemm: BERT-sized K at the int8 extremes stays exact (no accumulator overflow)") {
  for (auto kernel : qs8_gemm_supported_kernels()) {
    check(kernel, {5, 70, 3072, -128, 0, 1});
    check(kernel, {4, 64, 3071, 127, 3, 1});
  }
}

TEST_CASE("qs8 gemm: two threads give the one-thread result") {
  pthreadpool_t pool = pthreadpool_create(2);
  REQUIRE(pool != nullptr);
  for (auto kernel : qs8_gemm_supported_kernels()) {
    check(kernel, {37, 200, 129, 3, -2}, pool);
    check(kernel, {128, 96, 64, 0, 0}, pool);
  }
  pthreadpool_destroy(pool);
}

#if defined(ENCORE_HAVE_X86_VNNI_KERNELS) || defined(ENCORE_HAVE_NEONDOT_KERNEL)
// Attention scores: exact integer dot products, then one fused multiply-add with the bias; with
// sets_row_max, each row's maximum too (rows past `rows` untouched).
using ScoreFn = void (*)(const internal::Qs8ScoreTile&);

void check_scores(size_t rows, size_t keys, size_t head_dim, bool with_bias, ScoreFn tile, bool sets_row_max) {
  INFO("rows " << rows << " keys " << keys << " head_dim " << head_dim << " bias " << with_bias);
  std::mt19937 rng(static_cast<uint32_t>(rows * 131 + keys * 17 + head_dim + with_bias));
  std::uniform_int_distribution<int> q8(-128, 127), coin(0, 3);
  const size_t q_stride = head_dim + 3, k_stride = head_dim + 5;  // rows inside wider buffers
  std::vector<int8_t> q(rows * q_stride), k(keys * k_stride);
  for (auto& v : q) v = static_cast<int8_t>(q8(rng));
  for (auto& v : k) v = static_cast<int8_t>(q8(rng));
  std::vector<float> bias(keys);
  for (auto& b : bias) b = coin(rng) == 0 ? std::numeric_limits<float>::lowest() : 0.25f * float(q8(rng));
  const float mult = 0.0123f;
  std::vector<int8_t> packed(qs8_scores_packed_bytes(keys, head_dim));
  qs8_scores_pack_keys(keys, head_dim, k.data(), k_stride, packed.data());
  const size_t stride = keys + 3;
  const float guard = -7777.0f;
  std::vector<float> scores(4 * stride, guard);
  const size_t padded = (keys + 15) / 16 * 16;
  float row_max[4] = {guard, guard, guard, guard};
  const internal::Qs8ScoreTile t{rows, keys, head_dim, q.data(), q_stride, packed.data(),
                                 reinterpret_cast<const int32_t*>(packed.data() + padded * head_dim), mult,
                                 with_bias ? bias.data() : nullptr, scores.data(), stride,
                                 sets_row_max ? row_max : nullptr};
  tile(t);
  size_t differ = 0;
  for (size_t r = 0; sets_row_max && r < 4; ++r) {
    float want = guard;
    for (size_t j = 0; r < rows && j < keys; ++j) want = j == 0 || scores[r * stride + j] > want ? scores[r * stride + j] : want;
    differ += row_max[r] != want;
  }
  for (size_t r = 0; r < 4; ++r) {
    for (size_t j = 0; j < stride; ++j) {
      float want = guard;  // rows past `rows` and columns past `keys` untouched
      if (r < rows && j < keys) {
        int64_t acc = 0;
        for (size_t c = 0; c < head_dim; ++c) acc += int64_t(q[r * q_stride + c]) * k[j * k_stride + c];
        want = std::fma(static_cast<float>(acc), mult, with_bias ? bias[j] : 0.0f);
      }
      differ += std::memcmp(&want, &scores[r * stride + j], sizeof want) != 0;
    }
  }
  CHECK(differ == 0);
}

void check_all_scores(ScoreFn tile, bool sets_row_max) {
  for (size_t rows : {1, 3, 4}) {
    for (size_t keys : {1, 5, 16, 17, 48, 63, 64, 65, 130}) {
      for (size_t head_dim : {4, 12, 32, 64}) {
        for (bool with_bias : {false, true}) check_scores(rows, keys, head_dim, with_bias, tile, sets_row_max);
      }
    }
  }
  check_scores(4, 512, 128, true, tile, sets_row_max);
  // Past the x86 kernel's flipped-row buffer (256 columns): its unflipped path.
  check_scores(3, 130, 260, true, tile, sets_row_max);
  if (sets_row_max) check_scores(2, 100, 32, true, tile, false);  // no maximum asked: none written
}

// The public entry with row_max on whichever kernel this CPU runs (the x86 one sets it in its
// epilogue; elsewhere the wrapper scans the rows).
TEST_CASE("qs8 attention scores: qs8_scores gives each row's maximum when asked") {
  const size_t keys = 77, head_dim = 32;
  if (!qs8_scores_supported(head_dim)) {
    MESSAGE("no int8 score kernel here");
    return;
  }
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> q8(-128, 127);
  std::vector<int8_t> q(3 * head_dim), k(keys * head_dim);
  for (auto& v : q) v = static_cast<int8_t>(q8(rng));
  for (auto& v : k) v = static_cast<int8_t>(q8(rng));
  std::vector<int8_t> packed(qs8_scores_packed_bytes(keys, head_dim));
  qs8_scores_pack_keys(keys, head_dim, k.data(), head_dim, packed.data());
  std::vector<float> scores(3 * keys);
  float row_max[4] = {0, 0, 0, -5.0f};
  qs8_scores(3, keys, head_dim, q.data(), head_dim, packed.data(), 0.01f, nullptr, scores.data(), keys, row_max);
  for (size_t r = 0; r < 3; ++r) {
    CHECK(row_max[r] == *std::max_element(scores.begin() + r * keys, scores.begin() + (r + 1) * keys));
  }
  CHECK(row_max[3] == -5.0f);
}

#endif

#if defined(ENCORE_HAVE_NEONDOT_KERNEL)
TEST_CASE("qs8 attention scores: the sdot kernel equals exact integer math (where the CPU has it)") {
  if (!qs8_scores_supported(64)) {
    MESSAGE("no Armv8.2 dot product here");
    return;
  }
  check_all_scores(internal::qs8_scores_neondot, false);
}
#endif

#if defined(ENCORE_HAVE_X86_VNNI_KERNELS)
// Attention's P x V: fused multiply-adds over keys in order, bit for bit; guards untouched.
using PvFn = void (*)(size_t, size_t, size_t, const float*, size_t, const float*, size_t, float*, size_t);

void check_pv(size_t rows, size_t keys, size_t cols, PvFn pv) {
  INFO("rows " << rows << " keys " << keys << " cols " << cols);
  std::mt19937 rng(static_cast<uint32_t>(rows * 7 + keys * 131 + cols));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const size_t p_stride = keys + 2, v_stride = cols + 5, out_stride = cols + 3;
  std::vector<float> p(rows * p_stride), v(keys * v_stride);
  for (auto& x : p) x = u(rng);
  for (auto& x : v) x = u(rng);
  const float guard = -7777.0f;
  std::vector<float> out(4 * out_stride, guard);
  pv(rows, keys, cols, p.data(), p_stride, v.data(), v_stride, out.data(), out_stride);
  size_t differ = 0;
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < out_stride; ++c) {
      float want = guard;
      if (r < rows && c < cols) {
        want = 0.0f;
        for (size_t j = 0; j < keys; ++j) want = std::fma(p[r * p_stride + j], v[j * v_stride + c], want);
      }
      differ += std::memcmp(&want, &out[r * out_stride + c], sizeof want) != 0;
    }
  }
  CHECK(differ == 0);
}

void check_all_pv(PvFn pv) {
  for (size_t rows : {1, 2, 4}) {
    for (size_t keys : {1, 7, 64}) {
      for (size_t cols : {1, 13, 16, 32, 50, 64, 65, 100, 128}) check_pv(rows, keys, cols, pv);
    }
  }
}

TEST_CASE("attention P x V: the AVX-512 tile equals in-order fused multiply-adds (where the CPU has it)") {
  if (!__builtin_cpu_supports("avx512f")) {
    MESSAGE("no AVX-512 here: the tile runs on intrinsic stand-ins in the next test");
    return;
  }
  check_all_pv(internal::f32_pv_avx512);
}

TEST_CASE("attention P x V: the AVX-512 tile on intrinsic stand-ins (any x86 CPU)") {
  check_all_pv(internal::shim::f32_pv_avx512);
}

// Integer P x V: exact int64 sums plus the rounding mass at V's column means, times the row
// multiplier, bit for bit (in the order the contract states); guards untouched.
using Qs8PvFn = void (*)(const internal::Qs8PvTile&);

void check_qs8_pv(size_t rows, size_t keys, size_t cols, bool extreme, bool int8_out, bool with_mass, Qs8PvFn pv) {
  INFO("rows " << rows << " keys " << keys << " cols " << cols << " extreme " << extreme << " int8 " << int8_out
               << " mass " << with_mass);
  std::mt19937 rng(static_cast<uint32_t>(rows * 7 + keys * 131 + cols + extreme));
  const int32_t p_scale = qs8_pv_prob_scale(keys);
  std::uniform_int_distribution<int> code(0, p_scale), v8(-128, 127);
  std::uniform_real_distribution<float> mass_dist(-2.0f, 40.0f);
  const size_t p_stride = (keys + 3) / 4 * 4 + 8, v_stride = cols + 5, out_stride = cols + 3;
  std::vector<uint8_t> p(rows * p_stride, 0);
  std::vector<int8_t> v(keys * v_stride);
  // extreme: every product at the bound qs8_pv_prob_scale guards (p_scale * -128).
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < keys; ++j) p[r * p_stride + j] = static_cast<uint8_t>(extreme ? p_scale : code(rng));
  for (auto& x : v) x = static_cast<int8_t>(extreme ? -128 : v8(rng));
  std::vector<int8_t> packed(qs8_pv_packed_values(keys, cols));
  std::vector<float> means(cols);
  qs8_pv_pack_values(keys, cols, v.data(), v_stride, packed.data(), means.data());
  float mass[4];
  for (float& m : mass) m = mass_dist(rng);
  // int8: multipliers that put typical sums around tens of codes, and some past saturation.
  const float mult[4] = {1.5e-5f, -2.25e-4f, 3.0e-3f, 7.0e-6f};
  const float guard = -7777.0f;
  const int8_t guard_q = 99;
  const int32_t zp = -3;
  std::vector<float> out(4 * out_stride, guard);
  std::vector<int8_t> out_q(4 * out_stride, guard_q);
  pv({rows, (keys + 3) / 4, cols, p.data(), p_stride, packed.data(), mult, with_mass ? mass : nullptr,
      with_mass ? means.data() : nullptr, out.data(), int8_out ? out_q.data() : nullptr, out_stride, zp});
  size_t differ = 0;
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < out_stride; ++c) {
      float want = guard;
      int8_t want_q = guard_q;
      if (r < rows && c < cols) {
        int64_t acc = 0;
        for (size_t j = 0; j < keys; ++j) acc += int64_t{p[r * p_stride + j]} * v[j * v_stride + c];
        const float y = std::fma(with_mass ? mass[r] : 0.0f, with_mass ? means[c] : 0.0f, static_cast<float>(acc)) *
                        mult[r];
        if (int8_out) {
          want_q = internal::saturate_round_qs8(y, float(zp));
        } else {
          want = y;
        }
      }
      if (int8_out) {
        differ += out_q[r * out_stride + c] != want_q || out[r * out_stride + c] != guard;
      } else {
        differ += std::memcmp(&want, &out[r * out_stride + c], sizeof want) != 0 || out_q[r * out_stride + c] != guard_q;
      }
    }
  }
  CHECK(differ == 0);
}

void check_all_qs8_pv(Qs8PvFn pv) {
  for (size_t rows : {1, 3, 4}) {
    for (size_t keys : {1, 2, 3, 5, 7, 64, 129}) {
      for (size_t cols : {4, 13, 16, 32, 50, 64, 65, 100, 128}) {
        check_qs8_pv(rows, keys, cols, false, false, true, pv);
        check_qs8_pv(rows, keys, cols, false, true, true, pv);
        check_qs8_pv(rows, keys, cols, false, false, false, pv);
      }
    }
  }
  for (size_t keys : {511, 512, 1000, 4097, 65536}) check_qs8_pv(4, keys, 32, true, false, false, pv);
}

TEST_CASE("qs8 attention P x V: the prob scale keeps every sum within int32") {
  CHECK(qs8_pv_prob_scale(1) == 255);
  CHECK(qs8_pv_prob_scale(4096) == 255);
  for (size_t keys : {1, 2, 3, 511, 512, 513, 1000, 4097, 65536, 65793, 65800, 1000000}) {
    INFO("keys " << keys);
    const int64_t padded = static_cast<int64_t>((keys + 3) / 4 * 4);
    CHECK(qs8_pv_prob_scale(keys) >= 1);
    CHECK(padded * qs8_pv_prob_scale(keys) * 128 <= INT32_MAX);
  }
  CHECK(qs8_pv_prob_scale(70000) < 255);
}

TEST_CASE("qs8 attention P x V: the AVX-512 VNNI kernel equals exact integer math (where the CPU has it)") {
  if (!qs8_pv_supported()) {
    MESSAGE("no AVX-512 VNNI + BW here: the kernel runs on intrinsic stand-ins in the next test");
    return;
  }
  check_all_qs8_pv(internal::qs8_pv_avx512vnni);
}

TEST_CASE("qs8 attention P x V: the AVX-512 VNNI kernel on intrinsic stand-ins (any x86 CPU)") {
  check_all_qs8_pv(internal::shim::qs8_pv_avx512vnni);
}

// V packing: key quads with zero padding keys and the column means, equal to the plain loops
// (whose layout the P x V checks above rely on); nothing written past the packed size.
using PackValuesFn = void (*)(size_t, size_t, const int8_t*, size_t, int8_t*, float*);

void check_pack_values(PackValuesFn pack) {
  for (size_t keys : {1, 2, 3, 4, 5, 7, 64, 129}) {
    for (size_t cols : {4, 13, 16, 32, 50, 64, 65}) {
      INFO("keys " << keys << " cols " << cols);
      std::mt19937 rng(static_cast<uint32_t>(keys * 31 + cols));
      std::uniform_int_distribution<int> v8(-128, 127);
      const size_t v_stride = cols + 7;
      std::vector<int8_t> v(keys * v_stride);
      for (auto& x : v) x = static_cast<int8_t>(v8(rng));
      const size_t size = qs8_pv_packed_values(keys, cols);
      std::vector<int8_t> want(size + 64, 55), got(size + 64, 55);
      std::vector<float> want_means(cols + 1, -1.0f), got_means(cols + 1, -1.0f);
      internal::qs8_pv_pack_values_portable(keys, cols, v.data(), v_stride, want.data(), want_means.data());
      pack(keys, cols, v.data(), v_stride, got.data(), got_means.data());
      CHECK(got == want);
      CHECK(std::memcmp(got_means.data(), want_means.data(), got_means.size() * sizeof(float)) == 0);
      // The plain loops' layout: key j, column c at quad j / 4, byte 4 c + j % 4.
      size_t off = 0;
      for (size_t j = 0; j < (keys + 3) / 4 * 4; ++j)
        for (size_t c = 0; c < cols; ++c)
          off += want[(j / 4) * 4 * cols + 4 * c + j % 4] != (j < keys ? v[j * v_stride + c] : 0);
      CHECK(off == 0);
      CHECK(want[size] == 55);
      CHECK(want_means[cols] == -1.0f);
      int64_t sum0 = 0;
      for (size_t j = 0; j < keys; ++j) sum0 += v[j * v_stride];
      CHECK(want_means[0] == doctest::Approx(double(sum0) / double(keys)).epsilon(1e-6));
    }
  }
}

TEST_CASE("qs8 attention V packing: the AVX-512 kernel equals the plain loops (where the CPU has it)") {
  if (!qs8_pv_supported()) {
    MESSAGE("no AVX-512 VNNI + BW here: the packing runs on intrinsic stand-ins in the next test");
    return;
  }
  check_pack_values(internal::qs8_pv_pack_values_avx512vnni);
}

TEST_CASE("qs8 attention V packing: the AVX-512 kernel on intrinsic stand-ins (any x86 CPU)") {
  check_pack_values(internal::shim::qs8_pv_pack_values_avx512vnni);
}

// Softmax numerators as codes, for 1..4 rows at once (each its own scores): within one code of
// round(exp(s - max) * scale) in double; each sum within a relative 1e-5 of the numerators' sum
// and each mass exactly that sum less the codes'; masked keys 0, the pad up to a multiple of 4
// keys 0, nothing written past it or between rows.
using SoftmaxU8Fn = void (*)(size_t, size_t, const float*, size_t, float, uint8_t*, size_t, float*, float*,
                             const float*);

void check_softmax_u8(size_t rows, size_t keys, SoftmaxU8Fn softmax) {
  INFO("rows " << rows << ", keys " << keys);
  std::mt19937 rng(static_cast<uint32_t>(keys * 4 + rows));
  std::uniform_real_distribution<float> u(-12.0f, 12.0f);
  std::uniform_int_distribution<int> coin(0, 5);
  const size_t s_stride = keys + 3, p_stride = (keys + 3) / 4 * 4 + 6;
  std::vector<float> s(rows * s_stride, std::numeric_limits<float>::quiet_NaN());  // gaps NaN: must not be read
  for (size_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < keys; ++j) s[r * s_stride + j] = coin(rng) == 0 ? std::numeric_limits<float>::lowest() : u(rng);
  }
  const int32_t p_scale = qs8_pv_prob_scale(keys);
  const uint8_t guard = 0xA5;
  std::vector<uint8_t> p(rows * p_stride, guard);
  float sums[4], mass[4];
  softmax(rows, keys, s.data(), s_stride, static_cast<float>(p_scale), p.data(), p_stride, sums, mass, nullptr);
  // Given each row's maximum (as qs8_scores finds it), the same codes and sums.
  float row_max[4], sums_given[4], mass_given[4];
  for (size_t r = 0; r < rows; ++r) row_max[r] = *std::max_element(s.begin() + r * s_stride, s.begin() + r * s_stride + keys);
  std::vector<uint8_t> p_given(rows * p_stride, guard);
  softmax(rows, keys, s.data(), s_stride, static_cast<float>(p_scale), p_given.data(), p_stride, sums_given, mass_given,
          row_max);
  CHECK(p_given == p);
  CHECK(std::memcmp(sums_given, sums, rows * sizeof(float)) == 0);
  CHECK(std::memcmp(mass_given, mass, rows * sizeof(float)) == 0);
  for (size_t r = 0; r < rows; ++r) {
    const float* sr = s.data() + r * s_stride;
    const uint8_t* pr = p.data() + r * p_stride;
    double max = -std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < keys; ++j) max = std::max(max, double{sr[j]});
    int64_t code_sum = 0;
    double exact_sum = 0.0;
    size_t off = 0;
    for (size_t j = 0; j < keys; ++j) {
      const double e = std::exp(double{sr[j]} - max) * p_scale;
      // The contract: within one of the rounded value; the kernel's error budget: the
      // approximation stays within a hundredth of a code of exact (rounding adds the other half).
      off += std::abs(std::lround(e) - pr[j]) > 1;
      off += std::abs(e - pr[j]) > 0.51;
      code_sum += pr[j];
      exact_sum += e;
    }
    CHECK(off == 0);
    CHECK(sums[r] == doctest::Approx(exact_sum).epsilon(1e-5));
    CHECK(mass[r] == sums[r] - static_cast<float>(code_sum));
    const size_t end = (keys + 3) / 4 * 4;
    for (size_t j = keys; j < end; ++j) CHECK(pr[j] == 0);
    for (size_t j = end; j < p_stride; ++j) CHECK(pr[j] == guard);
  }
}

void check_all_softmax_u8(SoftmaxU8Fn softmax) {
  for (size_t rows = 1; rows <= 4; ++rows) {
    for (size_t keys : {1, 2, 3, 15, 16, 17, 31, 32, 33, 64, 100, 128, 513, 4097}) check_softmax_u8(rows, keys, softmax);
  }
  // The numerators' approximation, which the coarse codes hide: rows of one key at the maximum
  // and 63 at x below it, for x down to -16 in steps that visit every sixteenth of a power of
  // two; the sum, 255 (1 + 63 e^x), within 4e-6 (the polynomial's 1.7e-6, plus float sums).
  {
    constexpr size_t kKeys = 64;
    std::vector<float> row(4 * kKeys);
    std::vector<uint8_t> codes(4 * kKeys);
    float sums[4], mass[4];
    size_t off = 0;
    for (int i = 0; i < 320; i += 4) {
      for (size_t r = 0; r < 4; ++r) {
        const float x = -0.05f * static_cast<float>(i + static_cast<int>(r));
        row[r * kKeys] = 0.0f;
        for (size_t j = 1; j < kKeys; ++j) row[r * kKeys + j] = x;
      }
      softmax(4, kKeys, row.data(), kKeys, 255.0f, codes.data(), kKeys, sums, mass, nullptr);
      for (size_t r = 0; r < 4; ++r) {
        const double want = 255.0 * (1.0 + 63.0 * std::exp(double{row[r * kKeys + 1]}));
        off += std::fabs(sums[r] - want) > 4e-6 * want;
      }
    }
    CHECK(off == 0);
  }
  // Every key masked: a uniform row (as the float softmax gives), nothing lost to rounding.
  std::vector<float> masked(9, std::numeric_limits<float>::lowest());
  std::vector<uint8_t> p(16, 1);
  float sums[4], mass[4];
  softmax(1, 9, masked.data(), 9, 255.0f, p.data(), 12, sums, mass, nullptr);
  CHECK(sums[0] == 9.0f * 255.0f);
  CHECK(mass[0] == 0.0f);
  for (size_t j = 0; j < 9; ++j) CHECK(p[j] == 255);
  for (size_t j = 9; j < 12; ++j) CHECK(p[j] == 0);
  // A NaN score makes its row's sums NaN, so that its output is NaN, as in the float path; its
  // codes 0; the rows around it as without it.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> three_rows{0.5f, 0.0f, 1.0f, 0.5f, nan, 1.0f, 0.0f, 0.0f, 0.0f};
  softmax(3, 3, three_rows.data(), 3, 255.0f, p.data(), 4, sums, mass, nullptr);
  CHECK(std::isnan(sums[1]));
  CHECK(std::isnan(mass[1]));
  for (size_t j = 4; j < 8; ++j) CHECK(p[j] == 0);
  CHECK(p[2] == 255);
  CHECK(p[10] == 255);
  CHECK(sums[2] == 3.0f * 255.0f);
  CHECK(mass[0] == sums[0] - static_cast<float>(p[0] + p[1] + p[2]));
}

TEST_CASE("qs8 attention softmax codes: the AVX-512 kernel against double exp (where the CPU has it)") {
  if (!qs8_pv_supported()) {
    MESSAGE("no AVX-512 VNNI + BW here: the kernel runs on intrinsic stand-ins in the next test");
    return;
  }
  check_all_softmax_u8(internal::softmax_u8_avx512);
}

TEST_CASE("qs8 attention softmax codes: the AVX-512 kernel on intrinsic stand-ins (any x86 CPU)") {
  check_all_softmax_u8(internal::shim::softmax_u8_avx512);
}

TEST_CASE("residual_layer_norm: the AVX-512 kernel (where the CPU has it)") {
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))) {
    MESSAGE("no AVX-512 here: the kernel runs on intrinsic stand-ins in the next test");
    return;
  }
  test::check_residual_layer_norm(internal::residual_layer_norm_avx512);
}

TEST_CASE("residual_layer_norm: the AVX-512 kernel on intrinsic stand-ins (any x86 CPU)") {
  test::check_residual_layer_norm(internal::shim::residual_layer_norm_avx512);
}

// Key packing by gathers equals the plain loops byte for byte (panels, padding, sum terms).
using PackKeysFn = void (*)(size_t, size_t, const int8_t*, size_t, int8_t*);

void check_pack_keys(PackKeysFn pack) {
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> q8(-128, 127);
  for (size_t keys : {1, 5, 16, 17, 63, 64, 65, 130}) {
    for (size_t head_dim : {4, 12, 32, 64, 128}) {
      INFO("keys " << keys << " head_dim " << head_dim);
      const size_t stride = 3 * head_dim + 7;
      std::vector<int8_t> k(keys * stride);
      for (auto& v : k) v = static_cast<int8_t>(q8(rng));
      const size_t bytes = qs8_scores_packed_bytes(keys, head_dim);
      std::vector<int8_t> want(bytes + 64, 55), got(bytes + 64, 55);
      internal::qs8_scores_pack_keys_portable(keys, head_dim, k.data(), stride, want.data(), 128);
      pack(keys, head_dim, k.data(), stride, got.data());
      CHECK(want == got);
    }
  }
}

TEST_CASE("qs8 attention key packing: AVX-512 gathers equal the plain loops (where the CPU has it)") {
  if (!qs8_scores_supported(64)) {
    MESSAGE("no AVX-512 VNNI here: the packer runs on intrinsic stand-ins in the next test");
    return;
  }
  check_pack_keys(internal::qs8_scores_pack_keys_avx512vnni);
}

TEST_CASE("qs8 attention key packing: AVX-512 gathers on intrinsic stand-ins (any x86 CPU)") {
  check_pack_keys(internal::shim::qs8_scores_pack_keys_avx512vnni);
}

TEST_CASE("qs8 attention scores: the AVX-512 VNNI kernel equals exact integer math (where the CPU has it)") {
  if (!qs8_scores_supported(64)) {
    MESSAGE("no AVX-512 VNNI here: the kernel runs on intrinsic stand-ins in the next test");
    return;
  }
  check_all_scores(internal::qs8_scores_avx512vnni, true);
}

TEST_CASE("qs8 attention scores: the AVX-512 VNNI kernel on intrinsic stand-ins (any x86 CPU)") {
  check_all_scores(internal::shim::qs8_scores_avx512vnni, true);
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
TEST_CASE("qs8 gemm: the VNNI tiles on intrinsic stand-ins equal the reference (any x86 CPU)") {
  const std::pair<Qs8GemmKernel, TileFn> tiles[] = {{Qs8GemmKernel::kAvx512Vnni, internal::shim::qs8_tile_avx512vnni},
                                                    {Qs8GemmKernel::kAvxVnni, internal::shim::qs8_tile_avxvnni}};
  for (auto [kernel, tile] : tiles) {
    for (size_t rows : {1, 4, 6}) {
      for (size_t out : {1, 16, 17, 64, 65, 130}) {
        for (size_t in : {1, 5, 64, 67}) {
          for (auto [izp, ozp] : {std::pair{0, 0}, {-128, 7}, {127, -128}}) check(kernel, {rows, out, in, izp, ozp}, nullptr, tile);
        }
      }
    }
    check(kernel, {5, 70, 3072, -128, 0, 1}, nullptr, tile);
  }
}
#endif

}  // namespace
}  // namespace encore
