// Attention: the heads (f32 and int8 Q/K/V) against the double-precision scalar reference,
// and its int8 kernels (scores, key packing, P x V in float and integers, V packing, softmax
// codes) against exact integer math / the plain loops, on every path this CPU has and on the
// x86 intrinsic stand-ins.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernel_paths.h"
#include "kernels/attention.h"
#include "kernels/attention_tiles.h"
#include "kernels/kernel_table.h"
#include "kernels/x86_kernels.h"
#include "kernels/math_approx.h"
#include "kernels/reference/reference.h"

namespace encore {
namespace {

// attention_head_f32 / _qs8 on the kernels of table t.
void run_f32(const internal::KernelTable& t, size_t seq_len, size_t head_dim, const float* q, const float* k,
             const float* v, size_t row_stride, const float* key_bias, float scale, float* scratch, float* out,
             size_t out_stride, float* probs = nullptr, size_t probs_stride = 0) {
  t.attention_f32(t, seq_len, head_dim, q, k, v, row_stride, key_bias, scale, scratch, out, out_stride, probs,
                  probs_stride);
}

void run_qs8(const internal::KernelTable& t, size_t seq_len, size_t head_dim, const int8_t* q, float q_scale,
             const int8_t* k, float k_scale, const int8_t* v, float v_scale, size_t row_stride, const float* key_bias,
             float scale, float* scratch, float* out, size_t out_stride, float* probs = nullptr,
             size_t probs_stride = 0, const ContextQs8* quantized_out = nullptr) {
  t.attention_qs8(t, seq_len, head_dim, q, q_scale, k, k_scale, v, v_scale, row_stride, key_bias, scale, scratch, out,
                  out_stride, probs, probs_stride, quantized_out);
}

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
  // On every path this CPU has.
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& kt = path.table;
    INFO(path.name);
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
      run_f32(kt, c.seq_len, c.head_dim, q, k, v, c.stride(), bias.data(), scale, scratch.data(),
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
  // On every path this CPU has.
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& kt = path.table;
    INFO(path.name);
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
      run_qs8(kt, c.seq_len, c.head_dim, q, q_scale, q + c.hidden(), k_scale, q + 2 * c.hidden(), v_scale,
                         c.stride(), bias.data(), scale, scratch.data(), out.data(), c.head_dim);

      const std::vector<double> want = dequantized_reference(c, qkv, q_scale, k_scale, v_scale, bias, scale);
      const bool integer_pv = kt.pv && kt.scores && c.head_dim % 4 == 0;
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
}

// One key far above the rest: each of the other 127 keys' numerators is 0.3 of a code, which
// rounds to 0, yet together they hold 13% of the weight. Crediting the rounded-away mass at V's
// mean keeps the context within 1% here (V's keys all alike in distribution); dropping it would
// give 0 (key 0's values) instead of the ~6.5 codes the reference has.
TEST_CASE("attention_head_qs8: probabilities that round to zero keep their weight") {
  // On every path this CPU has.
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& kt = path.table;
    INFO(path.name);
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
    run_qs8(kt, S, D, qkv.data(), q_scale, qkv.data() + D, k_scale, qkv.data() + 2 * D, v_scale, stride,
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
}

// Masks of -inf instead of the lowest float send the int8 path down its route for non-finite
// scores (the softmax finds row maxima and NaNs itself); the context is the same bit for bit,
// and a NaN scale gives a NaN context, as in float.
TEST_CASE("attention_head_qs8: non-finite masks take the checked route to the same context") {
  // On every path this CPU has.
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& kt = path.table;
    INFO(path.name);
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
        run_qs8(kt, S, D, qkv.data(), q_scale, qkv.data() + D, 0.02f, qkv.data() + 2 * D, 0.03f, stride,
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
}

// The int8 context output: within one code of quantizing the reference context (the float
// error is far below a code step here), and of quantizing the same call's float context; the
// other head's columns untouched.
TEST_CASE("attention_head_qs8 with an int8 context: the reference, quantized") {
  // On every path this CPU has.
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& kt = path.table;
    INFO(path.name);
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
      run_qs8(kt, c.seq_len, c.head_dim, q, q_scale, q + c.hidden(), k_scale, q + 2 * c.hidden(), v_scale,
                         c.stride(), bias.data(), scale, scratch.data(), out.data(), c.head_dim);
      const ContextQs8 ctx{out_q.data() + c.head * c.head_dim, ctx_scale, ctx_zp};
      run_qs8(kt, c.seq_len, c.head_dim, q, q_scale, q + c.hidden(), k_scale, q + 2 * c.hidden(), v_scale,
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
}

// The optional probabilities output: the reference's softmax, the same context with and
// without it, and every row summing to 1 (padded keys 0).
TEST_CASE("attention probabilities out: both kernels match the reference softmax") {
  // On every path this CPU has.
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& kt = path.table;
    INFO(path.name);
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
            run_qs8(kt, c.seq_len, c.head_dim, q, q_scale, q + H, k_scale, q + 2 * H, v_scale, c.stride(),
                               bias.data(), scale, scratch.data(), out, c.head_dim, p);
          } else {
            const float* q = qkv_f.data() + off;
            run_f32(kt, c.seq_len, c.head_dim, q, q + H, q + 2 * H, c.stride(), bias.data(), scale,
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
}

// Attention scores: exact integer dot products, then one fused multiply-add with the bias; with
// sets_row_max, each row's maximum too (rows past `rows` untouched).
using ScoreFn = void (*)(const internal::Qs8ScoreTile&);

void check_scores(size_t rows, size_t keys, size_t head_dim, bool with_bias, ScoreFn tile, bool sets_row_max,
                  int32_t input_offset) {
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
  internal::qs8_scores_pack_keys_portable(keys, head_dim, k.data(), k_stride, packed.data(), input_offset);
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

// Builder over check_scores: ScoresTester{}.rows(3).keys(130).head_dim(260).check(kernel).
class ScoresTester {
 public:
  ScoresTester& rows(size_t v) { rows_ = v; return *this; }
  ScoresTester& keys(size_t v) { keys_ = v; return *this; }
  ScoresTester& head_dim(size_t v) { head_dim_ = v; return *this; }
  ScoresTester& key_bias(bool v) { bias_ = v; return *this; }
  // The kernel sets row_max (it is then asked for and checked); else it is not asked for.
  ScoresTester& sets_row_max(bool v) { sets_row_max_ = v; return *this; }
  ScoresTester& input_offset(int32_t v) { input_offset_ = v; return *this; }
  void check(ScoreFn fn) const { check_scores(rows_, keys_, head_dim_, bias_, fn, sets_row_max_, input_offset_); }

 private:
  size_t rows_ = 1, keys_ = 1, head_dim_ = 4;
  bool bias_ = false, sets_row_max_ = false;
  int32_t input_offset_ = 0;
};

void check_all_scores(ScoreFn tile, bool sets_row_max, int32_t input_offset) {
  const ScoresTester base = ScoresTester{}.sets_row_max(sets_row_max).input_offset(input_offset);
  for (size_t rows : {1, 3, 4}) {
    for (size_t keys : {1, 5, 16, 17, 48, 63, 64, 65, 130}) {
      for (size_t head_dim : {4, 12, 32, 64}) {
        for (bool with_bias : {false, true}) {
          ScoresTester(base).rows(rows).keys(keys).head_dim(head_dim).key_bias(with_bias).check(tile);
        }
      }
    }
  }
  ScoresTester(base).rows(4).keys(512).head_dim(128).key_bias(true).check(tile);
  // Past the x86 kernel's flipped-row buffer (256 columns): its unflipped path.
  ScoresTester(base).rows(3).keys(130).head_dim(260).key_bias(true).check(tile);
  // No maximum asked: none written.
  if (sets_row_max) ScoresTester(base).rows(2).keys(100).head_dim(32).key_bias(true).sets_row_max(false).check(tile);
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

// Builder over check_pv: F32PvTester{}.rows(4).keys(7).cols(65).check(kernel).
class F32PvTester {
 public:
  F32PvTester& rows(size_t v) { rows_ = v; return *this; }
  F32PvTester& keys(size_t v) { keys_ = v; return *this; }
  F32PvTester& cols(size_t v) { cols_ = v; return *this; }
  void check(PvFn fn) const { check_pv(rows_, keys_, cols_, fn); }

 private:
  size_t rows_ = 1, keys_ = 1, cols_ = 1;
};

void check_all_pv(PvFn pv) {
  for (size_t rows : {1, 2, 4}) {
    for (size_t keys : {1, 7, 64}) {
      for (size_t cols : {1, 13, 16, 32, 50, 64, 65, 100, 128}) F32PvTester{}.rows(rows).keys(keys).cols(cols).check(pv);
    }
  }
}



// Integer P x V: exact int64 sums plus the rounding mass at V's column means, times the row
// multiplier, bit for bit (in the order the contract states); guards untouched.
using internal::Qs8PvFn;

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

// Builder over check_qs8_pv: Qs8PvTester{}.rows(3).keys(129).cols(65).int8_out(true).check(kernel).
class Qs8PvTester {
 public:
  Qs8PvTester& rows(size_t v) { rows_ = v; return *this; }
  Qs8PvTester& keys(size_t v) { keys_ = v; return *this; }
  Qs8PvTester& cols(size_t v) { cols_ = v; return *this; }
  // Every product at the bound qs8_pv_prob_scale guards.
  Qs8PvTester& extreme(bool v) { extreme_ = v; return *this; }
  Qs8PvTester& int8_out(bool v) { int8_out_ = v; return *this; }
  Qs8PvTester& with_mass(bool v) { with_mass_ = v; return *this; }
  void check(Qs8PvFn fn) const { check_qs8_pv(rows_, keys_, cols_, extreme_, int8_out_, with_mass_, fn); }

 private:
  size_t rows_ = 1, keys_ = 1, cols_ = 4;
  bool extreme_ = false, int8_out_ = false, with_mass_ = true;
};

void check_all_qs8_pv(Qs8PvFn pv) {
  for (size_t rows : {1, 3, 4}) {
    for (size_t keys : {1, 2, 3, 5, 7, 64, 129}) {
      for (size_t cols : {4, 13, 16, 32, 50, 64, 65, 100, 128}) {
        const Qs8PvTester t = Qs8PvTester{}.rows(rows).keys(keys).cols(cols);
        Qs8PvTester(t).check(pv);
        Qs8PvTester(t).int8_out(true).check(pv);
        Qs8PvTester(t).with_mass(false).check(pv);
      }
    }
  }
  for (size_t keys : {511, 512, 1000, 4097, 65536}) {
    Qs8PvTester{}.rows(4).keys(keys).cols(32).extreme(true).with_mass(false).check(pv);
  }
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

// Builder over check_softmax_u8: SoftmaxCodesTester{}.rows(3).keys(513).check(kernel).
class SoftmaxCodesTester {
 public:
  SoftmaxCodesTester& rows(size_t v) { rows_ = v; return *this; }
  SoftmaxCodesTester& keys(size_t v) { keys_ = v; return *this; }
  void check(SoftmaxU8Fn fn) const { check_softmax_u8(rows_, keys_, fn); }

 private:
  size_t rows_ = 1, keys_ = 1;
};

void check_all_softmax_u8(SoftmaxU8Fn softmax) {
  for (size_t rows = 1; rows <= 4; ++rows) {
    for (size_t keys : {1, 2, 3, 15, 16, 17, 31, 32, 33, 64, 100, 128, 513, 4097}) {
      SoftmaxCodesTester{}.rows(rows).keys(keys).check(softmax);
    }
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



// Key packing by gathers equals the plain loops byte for byte (panels, padding, sum terms).
using PackKeysFn = void (*)(size_t, size_t, const int8_t*, size_t, int8_t*);

void check_pack_keys(PackKeysFn pack, int32_t input_offset) {
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
      internal::qs8_scores_pack_keys_portable(keys, head_dim, k.data(), stride, want.data(), input_offset);
      pack(keys, head_dim, k.data(), stride, got.data());
      CHECK(want == got);
    }
  }
}

// ---- Every path this CPU has (kernel tables over feature subsets) -------------------------

TEST_CASE("qs8 attention kernels: every path's kernels against exact math and the plain loops") {
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& t = path.table;
    INFO(path.name << ": " << t.scores_name << ", " << t.pv_name << ", " << t.f32_pv_name);
    if (t.scores) check_all_scores(t.scores, t.scores_sets_row_max, t.scores_input_offset);
    if (t.scores_pack_keys) check_pack_keys(t.scores_pack_keys, t.scores_input_offset);
    if (t.f32_pv) check_all_pv(t.f32_pv);
    if (t.pv) check_all_qs8_pv(t.pv);
    if (t.pv_pack_values) check_pack_values(t.pv_pack_values);
    if (t.softmax_codes) check_all_softmax_u8(t.softmax_codes);
    // The table's promises: P x V comes with its packer and softmax, and needs the scores.
    CHECK((t.pv != nullptr) == (t.pv_pack_values != nullptr));
    CHECK((t.pv != nullptr) == (t.softmax_codes != nullptr));
    if (t.pv) CHECK((t.scores != nullptr));
  }
}

#ifdef ENCORE_X86_KERNELS
// ---- The x86 kernels on intrinsic stand-ins (any x86 CPU) ----------------------------------

TEST_CASE("attention P x V: the AVX-512 tile on intrinsic stand-ins (any x86 CPU)") {
  check_all_pv(internal::shim::f32_pv_avx512);
}

TEST_CASE("qs8 attention P x V: the AVX-512 VNNI kernel on intrinsic stand-ins (any x86 CPU)") {
  check_all_qs8_pv(internal::shim::qs8_pv_avx512vnni);
}

TEST_CASE("qs8 attention V packing: the AVX-512 kernel on intrinsic stand-ins (any x86 CPU)") {
  check_pack_values(internal::shim::qs8_pv_pack_values_avx512vnni);
}

TEST_CASE("qs8 attention softmax codes: the AVX-512 kernel on intrinsic stand-ins (any x86 CPU)") {
  check_all_softmax_u8(internal::shim::softmax_u8_avx512);
}

TEST_CASE("qs8 attention key packing: AVX-512 gathers on intrinsic stand-ins (any x86 CPU)") {
  check_pack_keys(internal::shim::qs8_scores_pack_keys_avx512vnni, 128);
}

TEST_CASE("qs8 attention scores: the AVX-512 VNNI kernel on intrinsic stand-ins (any x86 CPU)") {
  check_all_scores(internal::shim::qs8_scores_avx512vnni, true, 128);
}
#endif

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
