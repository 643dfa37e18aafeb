// The attention core (f32 and int8 Q/K/V) against the double-precision scalar reference.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/gemm_qs8.h"
#include "kernels/math_approx.h"
#include "kernels/reference/reference.h"

namespace encore {
namespace {

// Fused [S, 3*H] QKV layout as the session uses it; we test head `head` of `heads`.
struct AttentionCase {
  size_t seq_len, head_dim, heads, head;
  size_t valid;  // keys [valid, seq_len) are padding; valid == 0 masks everything

  size_t hidden() const { return head_dim * heads; }
  size_t stride() const { return 3 * hidden(); }
  std::vector<float> mask() const {
    std::vector<float> bias(seq_len, 0.0f);
    for (size_t j = valid; j < seq_len; ++j) bias[j] = std::numeric_limits<float>::lowest();
    return bias;
  }
  std::string name() const {
    return "S=" + std::to_string(seq_len) + " d=" + std::to_string(head_dim) + " valid=" + std::to_string(valid);
  }
};

std::vector<AttentionCase> cases() {
  std::vector<AttentionCase> out;
  for (size_t s : {1, 2, 5, 16, 33}) {
    for (size_t d : {1, 8, 13, 64}) {
      out.push_back({s, d, 2, 1, s});
      if (s > 1) out.push_back({s, d, 3, 0, (s + 1) / 2});
    }
  }
  out.push_back({7, 16, 1, 0, 0});  // every key masked: uniform average, like PyTorch
  return out;
}

TEST_CASE("attention_head_f32 matches the reference") {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (const AttentionCase& c : cases()) {
    std::vector<float> qkv(c.seq_len * c.stride());
    for (float& v : qkv) v = 2.0f * d(rng);
    const float* q = qkv.data() + c.head * c.head_dim;
    const float* k = q + c.hidden();
    const float* v = k + c.hidden();
    std::vector<float> bias = c.mask(), scratch(attention_scratch_floats(c.seq_len, c.head_dim));
    // Output rows interleave with a second head's, as in the session's [S, H] context.
    const size_t out_stride = c.hidden();
    std::vector<float> out(c.seq_len * out_stride, -7.0f);
    const float scale = 1.0f / std::sqrt(float(c.head_dim));
    attention_head_f32(c.seq_len, c.head_dim, q, k, v, c.stride(), bias.data(), scale, scratch.data(),
                       out.data() + c.head * c.head_dim, out_stride);

    std::vector<double> qd(qkv.begin(), qkv.end()), want;
    const double* qdp = qd.data() + c.head * c.head_dim;
    reference::attention(c.seq_len, c.head_dim, qdp, qdp + c.hidden(), qdp + 2 * c.hidden(), c.stride(),
                         bias.data(), scale, &want);
    double err = 0.0;
    bool others_untouched = true;
    for (size_t i = 0; i < c.seq_len; ++i) {
      for (size_t col = 0; col < out_stride; ++col) {
        const bool mine = col >= c.head * c.head_dim && col < (c.head + 1) * c.head_dim;
        const float got = out[i * out_stride + col];
        if (!mine) {
          others_untouched &= got == -7.0f;
          continue;
        }
        err = std::max(err, std::fabs(got - want[i * c.head_dim + col - c.head * c.head_dim]));
      }
    }
    INFO(c.name());
    CHECK(err <= 2e-5);
    CHECK(others_untouched);
  }
}

TEST_CASE("attention_head_f32 without a mask equals an all-zero mask") {
  std::mt19937 rng(2);
  std::normal_distribution<float> d(0.0f, 1.0f);
  const size_t S = 9, D = 12;
  std::vector<float> qkv(S * 3 * D), zero(S, 0.0f), scratch(attention_scratch_floats(S, D)), a(S * D), b(S * D);
  for (float& v : qkv) v = d(rng);
  attention_head_f32(S, D, qkv.data(), qkv.data() + D, qkv.data() + 2 * D, 3 * D, nullptr, 0.3f, scratch.data(),
                     a.data(), D);
  attention_head_f32(S, D, qkv.data(), qkv.data() + D, qkv.data() + 2 * D, 3 * D, zero.data(), 0.3f,
                     scratch.data(), b.data(), D);
  CHECK(a == b);
}

// The reference context of head c.head for int8 Q/K/V rows, on their dequantized values: each
// third of a fused QKV row has its own scale.
std::vector<double> dequantized_reference(const AttentionCase& c, const std::vector<int8_t>& qkv, float q_scale,
                                          float k_scale, float v_scale, const std::vector<float>& bias, float scale) {
  std::vector<double> deq(qkv.size()), want;
  for (size_t i = 0; i < qkv.size(); ++i) {
    const size_t part = (i % c.stride()) / c.hidden();
    deq[i] = qkv[i] * double(part == 0 ? q_scale : part == 1 ? k_scale : v_scale);
  }
  const double* qd = deq.data() + c.head * c.head_dim;
  reference::attention(c.seq_len, c.head_dim, qd, qd + c.hidden(), qd + 2 * c.hidden(), c.stride(), bias.data(),
                       scale, &want);
  return want;
}

// Where P x V runs in integers, each softmax numerator e_k (in codes, p_scale e^(s_k - max)) is
// rounded to a code, and the rounding's total is credited at V's column means: the context moves
// by sum_k r_k (v_k - mean v) / sum_k e_k, with |r_k| <= min(1/2, e_k) (plus a hundredth of a
// code for the exponential's approximation). This is that bound per output, from the scores in
// double.
std::vector<double> probability_code_bound(const AttentionCase& c, const std::vector<int8_t>& qkv, double q_mult,
                                           float v_scale, const std::vector<float>& bias) {
  const size_t S = c.seq_len, D = c.head_dim;
  const int8_t* q = qkv.data() + c.head * D;
  const int8_t* k = q + c.hidden();
  const int8_t* v = k + c.hidden();
  const double p_scale = qs8_pv_prob_scale(S);
  std::vector<double> mean(D, 0.0), bound(S * D, 0.0), e(S);
  for (size_t j = 0; j < S; ++j)
    for (size_t d = 0; d < D; ++d) mean[d] += v[j * c.stride() + d] / double(S);
  for (size_t i = 0; i < S; ++i) {
    double max = -std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < S; ++j) {
      int64_t dot = 0;
      for (size_t d = 0; d < D; ++d) dot += int64_t{q[i * c.stride() + d]} * k[j * c.stride() + d];
      e[j] = double(dot) * q_mult + bias[j];
      max = std::max(max, e[j]);
    }
    double sum = 0.0;
    for (size_t j = 0; j < S; ++j) sum += e[j] = p_scale * std::exp(e[j] - max);
    for (size_t d = 0; d < D; ++d) {
      double moved = 0.0;
      for (size_t j = 0; j < S; ++j) moved += (std::min(0.5, e[j]) + 0.01) * std::fabs(v[j * c.stride() + d] - mean[d]);
      bound[i * D + d] = moved / sum * v_scale;
    }
  }
  return bound;
}

TEST_CASE("attention_head_qs8 matches the reference on the dequantized values") {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> code(-128, 127);
  const float q_scale = 0.031f, k_scale = 0.027f, v_scale = 0.019f;
  for (const AttentionCase& c : cases()) {
    std::vector<int8_t> qkv(c.seq_len * c.stride());
    for (int8_t& v : qkv) v = static_cast<int8_t>(code(rng));
    const int8_t* q = qkv.data() + c.head * c.head_dim;
    std::vector<float> bias = c.mask(), scratch(attention_scratch_floats(c.seq_len, c.head_dim));
    std::vector<float> out(c.seq_len * c.head_dim);
    const float scale = 1.0f / std::sqrt(float(c.head_dim));
    attention_head_qs8(c.seq_len, c.head_dim, q, q_scale, q + c.hidden(), k_scale, q + 2 * c.hidden(), v_scale,
                       c.stride(), bias.data(), scale, scratch.data(), out.data(), c.head_dim);

    const std::vector<double> want = dequantized_reference(c, qkv, q_scale, k_scale, v_scale, bias, scale);
    const bool integer_pv = qs8_pv_supported() && qs8_scores_supported(c.head_dim);
    const std::vector<double> codes_bound =
        integer_pv ? probability_code_bound(c, qkv, q_scale * k_scale * scale, v_scale, bias)
                   : std::vector<double>(out.size(), 0.0);
    size_t off = 0;
    double worst = 0.0;
    for (size_t i = 0; i < out.size(); ++i) {
      const double err = std::fabs(out[i] - want[i]);
      off += err > 4e-5 + codes_bound[i];
      worst = std::max(worst, err / (4e-5 + codes_bound[i]));
    }
    INFO(c.name() << ": worst error " << worst << " of its bound");
    CHECK(off == 0);
  }
}

// One key far above the rest: each of the other 127 keys' numerators is 0.3 of a code, which
// rounds to 0, yet together they hold 13% of the weight. Crediting the rounded-away mass at V's
// mean keeps the context within 1% here (V's keys all alike in distribution); dropping it would
// give 0 (key 0's values) instead of the ~6.5 codes the reference has.
TEST_CASE("attention_head_qs8: probabilities that round to zero keep their weight") {
  const size_t S = 128, D = 32, stride = 3 * D;
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> code(0, 100);
  std::vector<int8_t> qkv(S * stride, 0);
  for (size_t i = 0; i < S; ++i) {
    qkv[i * stride] = 127;                                                // q_i = (127, 0, ...)
    for (size_t d = 0; i > 0 && d < D; ++d) qkv[i * stride + 2 * D + d] = static_cast<int8_t>(code(rng));
  }
  qkv[D] = 127;  // k_0 = (127, 0, ...): score 6.75 against 0 for every other key
  const float q_scale = 0.02f, k_scale = 0.02f, v_scale = 0.019f;
  const float scale = 6.75f / (127.0f * 127.0f * q_scale * k_scale);
  std::vector<float> bias(S, 0.0f), scratch(attention_scratch_floats(S, D)), out(S * D);
  attention_head_qs8(S, D, qkv.data(), q_scale, qkv.data() + D, k_scale, qkv.data() + 2 * D, v_scale, stride,
                     bias.data(), scale, scratch.data(), out.data(), D);
  AttentionCase c{S, D, 1, 0, S};
  const std::vector<double> want = dequantized_reference(c, qkv, q_scale, k_scale, v_scale, bias, scale);
  size_t off = 0;
  double smallest = 1e9;
  for (size_t i = 0; i < out.size(); ++i) {
    smallest = std::min(smallest, want[i]);
    off += std::fabs(out[i] - want[i]) > 0.01 * want[i];
  }
  CHECK(smallest > 3.0 * v_scale);  // the case is what it claims: far from key 0's zeros
  CHECK(off == 0);
}

// Masks of -inf instead of the lowest float send the int8 path down its route for non-finite
// scores (the softmax finds row maxima and NaNs itself); the context is the same bit for bit,
// and a NaN scale gives a NaN context, as in float.
TEST_CASE("attention_head_qs8: non-finite masks take the checked route to the same context") {
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> code(-128, 127);
  for (size_t S : {5, 33, 130}) {
    const size_t D = 32, stride = 3 * D;
    std::vector<int8_t> qkv(S * stride);
    for (int8_t& v : qkv) v = static_cast<int8_t>(code(rng));
    std::vector<float> lowest(S, 0.0f), inf(S, 0.0f);
    for (size_t j = 0; j < S; j += 3) {
      lowest[j] = std::numeric_limits<float>::lowest();
      inf[j] = -std::numeric_limits<float>::infinity();
    }
    std::vector<float> scratch(attention_scratch_floats(S, D)), a(S * D), b(S * D), n(S * D);
    const auto run = [&](const std::vector<float>& bias, float q_scale, std::vector<float>& out) {
      attention_head_qs8(S, D, qkv.data(), q_scale, qkv.data() + D, 0.02f, qkv.data() + 2 * D, 0.03f, stride,
                         bias.data(), 0.17f, scratch.data(), out.data(), D);
    };
    run(lowest, 0.01f, a);
    run(inf, 0.01f, b);
    INFO("S=" << S);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    run(lowest, std::numeric_limits<float>::quiet_NaN(), n);
    CHECK(std::all_of(n.begin(), n.end(), [](float x) { return std::isnan(x); }));
  }
}

// The int8 context output: within one code of quantizing the reference context (the float
// error is far below a code step here), and of quantizing the same call's float context; the
// other head's columns untouched.
TEST_CASE("attention_head_qs8 with an int8 context: the reference, quantized") {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> code(-128, 127);
  const float q_scale = 0.031f, k_scale = 0.027f, v_scale = 0.019f;
  const float ctx_scale = 0.013f;
  const int32_t ctx_zp = 4;
  for (const AttentionCase& c : cases()) {
    std::vector<int8_t> qkv(c.seq_len * c.stride());
    for (int8_t& v : qkv) v = static_cast<int8_t>(code(rng));
    const int8_t* q = qkv.data() + c.head * c.head_dim;
    std::vector<float> bias = c.mask(), scratch(attention_scratch_floats(c.seq_len, c.head_dim));
    const size_t out_stride = c.hidden();
    std::vector<float> out(c.seq_len * c.head_dim);
    std::vector<int8_t> out_q(c.seq_len * out_stride, 99);
    const float scale = 1.0f / std::sqrt(float(c.head_dim));
    attention_head_qs8(c.seq_len, c.head_dim, q, q_scale, q + c.hidden(), k_scale, q + 2 * c.hidden(), v_scale,
                       c.stride(), bias.data(), scale, scratch.data(), out.data(), c.head_dim);
    const ContextQs8 ctx{out_q.data() + c.head * c.head_dim, ctx_scale, ctx_zp};
    attention_head_qs8(c.seq_len, c.head_dim, q, q_scale, q + c.hidden(), k_scale, q + 2 * c.hidden(), v_scale,
                       c.stride(), bias.data(), scale, scratch.data(), nullptr, out_stride, nullptr, 0, &ctx);

    const std::vector<double> want = dequantized_reference(c, qkv, q_scale, k_scale, v_scale, bias, scale);
    size_t off_reference = 0, off_float = 0, touched = 0;
    for (size_t i = 0; i < c.seq_len; ++i) {
      for (size_t col = 0; col < out_stride; ++col) {
        const int8_t got = out_q[i * out_stride + col];
        if (col < c.head * c.head_dim || col >= (c.head + 1) * c.head_dim) {
          touched += got != 99;
          continue;
        }
        const size_t e = i * c.head_dim + col - c.head * c.head_dim;
        const double ref = std::min(127.0, std::max(-128.0, std::nearbyint(want[e] / ctx_scale) + ctx_zp));
        off_reference += std::fabs(got - ref) > 1;
        off_float += std::abs(got - internal::saturate_round_qs8(out[e] / ctx_scale, float(ctx_zp))) > 1;
      }
    }
    INFO(c.name());
    CHECK(off_reference == 0);
    CHECK(off_float == 0);
    CHECK(touched == 0);
  }
}

// The optional probabilities output: the reference's softmax, the same context with and
// without it, and every row summing to 1 (padded keys 0).
TEST_CASE("attention probabilities out: both kernels match the reference softmax") {
  std::mt19937 rng(6);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::uniform_int_distribution<int> code(-128, 127);
  const float q_scale = 0.031f, k_scale = 0.027f, v_scale = 0.019f;
  for (const AttentionCase& c : cases()) {
    for (bool int8 : {false, true}) {
      std::vector<float> qkv_f(c.seq_len * c.stride());
      std::vector<int8_t> qkv_q(qkv_f.size());
      std::vector<double> deq(qkv_f.size());
      for (size_t i = 0; i < qkv_f.size(); ++i) {
        qkv_f[i] = 2.0f * d(rng);
        qkv_q[i] = static_cast<int8_t>(code(rng));
        const size_t part = (i % c.stride()) / c.hidden();
        deq[i] = int8 ? qkv_q[i] * double(part == 0 ? q_scale : part == 1 ? k_scale : v_scale) : qkv_f[i];
      }
      std::vector<float> bias = c.mask(), scratch(attention_scratch_floats(c.seq_len, c.head_dim));
      std::vector<float> plain(c.seq_len * c.head_dim), with(plain.size()), probs(c.seq_len * c.seq_len, -1.0f);
      const float scale = 1.0f / std::sqrt(float(c.head_dim));
      const size_t off = c.head * c.head_dim, H = c.hidden();
      for (float* p : {static_cast<float*>(nullptr), probs.data()}) {
        float* out = p ? with.data() : plain.data();
        if (int8) {
          const int8_t* q = qkv_q.data() + off;
          attention_head_qs8(c.seq_len, c.head_dim, q, q_scale, q + H, k_scale, q + 2 * H, v_scale, c.stride(),
                             bias.data(), scale, scratch.data(), out, c.head_dim, p);
        } else {
          const float* q = qkv_f.data() + off;
          attention_head_f32(c.seq_len, c.head_dim, q, q + H, q + 2 * H, c.stride(), bias.data(), scale,
                             scratch.data(), out, c.head_dim, p);
        }
      }
      std::vector<double> want_out, want_probs;
      const double* qd = deq.data() + off;
      reference::attention(c.seq_len, c.head_dim, qd, qd + H, qd + 2 * H, c.stride(), bias.data(), scale, &want_out,
                           &want_probs);
      double err = 0.0, worst_sum = 0.0;
      for (size_t i = 0; i < probs.size(); ++i) err = std::max(err, std::fabs(probs[i] - want_probs[i]));
      for (size_t i = 0; i < c.seq_len; ++i) {
        double sum = 0.0;
        for (size_t j = 0; j < c.seq_len; ++j) sum += probs[i * c.seq_len + j];
        worst_sum = std::max(worst_sum, std::fabs(sum - 1.0));
      }
      INFO(c.name() << (int8 ? " int8" : " f32"));
      CHECK(err <= 2e-6);
      CHECK(worst_sum <= 1e-5);
      CHECK(plain == with);
      if (c.valid > 0) {
        for (size_t i = 0; i < c.seq_len; ++i) {
          for (size_t j = c.valid; j < c.seq_len; ++j) REQUIRE(probs[i * c.seq_len + j] == 0.0f);
        }
      }
    }
  }
}

}  // namespace
}  // namespace encore

// exp_approx (softmax's exponential): relative error against libm, the ends of its range,
// and NaN, which must come back as NaN rather than reach an undefined float -> int conversion
// (found by the model_loader fuzzer on a model whose activations overflowed).
TEST_CASE("exp_approx: accuracy over the softmax range, limits, NaN") {
  double worst = 0.0;
  for (int i = -80000; i <= 80000; ++i) {
    const float x = float(i) * 1e-3f;
    const double want = std::exp(double(x));
    worst = std::max(worst, std::fabs(double(encore::internal::exp_approx(x)) - want) / want);
  }
  CHECK(worst < 4e-7);
  CHECK(encore::internal::exp_approx(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(encore::internal::exp_approx(-1000.0f) == 0.0f);
  CHECK(std::isfinite(encore::internal::exp_approx(1000.0f)));
  CHECK(std::isnan(encore::internal::exp_approx(std::numeric_limits<float>::quiet_NaN())));
}
