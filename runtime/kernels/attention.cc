#include "kernels/attention.h"

#include <cmath>
#include <limits>

#include "core/unreachable.h"
#include "kernels/attention_tiles.h"
#include "kernels/kernel_table.h"
#include "kernels/loop_kernels.h"
#include "kernels/math_approx.h"

namespace encore {
namespace {

size_t round_up16(size_t n) { return (n + 15) / 16 * 16; }
size_t round_up4(size_t n) { return (n + 3) / 4 * 4; }

// The int8 attention steps on the kernels of table `t` (the public qs8_scores*, qs8_pv* run
// them on kernel_table()).

bool scores_supported(const internal::KernelTable& t, size_t head_dim) {
  return t.scores && head_dim > 0 && head_dim % 4 == 0;
}

void pack_keys(const internal::KernelTable& t, size_t keys, size_t head_dim, const int8_t* k, size_t k_stride,
               int8_t* packed) {
  // The table's packer where it has one (x86 gathers: their offsets are int32), the loops otherwise.
  if (t.scores_pack_keys && k_stride <= static_cast<size_t>(INT32_MAX) / 16) {
    t.scores_pack_keys(keys, head_dim, k, k_stride, packed);
    return;
  }
  internal::qs8_scores_pack_keys_portable(keys, head_dim, k, k_stride, packed, t.scores_input_offset);
}

void scores_rows(const internal::KernelTable& t, size_t rows, size_t keys, size_t head_dim, const int8_t* q,
                 size_t q_stride, const int8_t* packed, float mult, const float* key_bias, float* scores,
                 size_t scores_stride, float* row_max) {
  if (!t.scores) {
    ENCORE_UNREACHABLE("qs8_scores without a score kernel (qs8_scores_supported is false)");
    return;  // release: nothing written
  }
  const internal::Qs8ScoreTile tile{rows,   keys,     head_dim, q,      q_stride, packed,
                                    reinterpret_cast<const int32_t*>(packed + round_up16(keys) * head_dim),
                                    mult,   key_bias, scores,   scores_stride, row_max};
  t.scores(tile);
  if (t.scores_sets_row_max) return;
  for (size_t r = 0; row_max && r < rows; ++r) {
    const float* sr = scores + r * scores_stride;
    float m = sr[0];
    for (size_t j = 1; j < keys; ++j) m = sr[j] > m ? sr[j] : m;
    row_max[r] = m;
  }
}

void pack_values(const internal::KernelTable& t, size_t keys, size_t cols, const int8_t* v, size_t v_stride,
                 int8_t* packed, float* means) {
  if (t.pv_pack_values) {
    t.pv_pack_values(keys, cols, v, v_stride, packed, means);
    return;
  }
  internal::qs8_pv_pack_values_portable(keys, cols, v, v_stride, packed, means);
}

void softmax_codes(const internal::KernelTable& t, size_t rows, size_t keys, const float* scores,
                   size_t scores_stride, int32_t p_scale, uint8_t* p, size_t p_stride, float* sums, float* mass,
                   const float* row_max) {
  if (!t.softmax_codes) {
    ENCORE_UNREACHABLE("qs8_pv_softmax_rows without the kernel (qs8_pv_supported is false)");
    return;  // release: nothing written
  }
  t.softmax_codes(rows, keys, scores, scores_stride, static_cast<float>(p_scale), p, p_stride, sums, mass, row_max);
}

void pv_rows(const internal::KernelTable& t, size_t rows, size_t keys, size_t cols, const uint8_t* p,
             size_t p_stride, const int8_t* packed, const float* mult, const float* mass, const float* means,
             float* out, size_t out_stride, int8_t* out_q, int32_t out_zero_point) {
  if (!t.pv) {
    ENCORE_UNREACHABLE("qs8_pv without the kernel (qs8_pv_supported is false)");
    return;  // release: nothing written
  }
  t.pv({rows, round_up4(keys) / 4, cols, p, p_stride, packed, mult, mass, means, out, out_q, out_stride,
        out_zero_point});
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

// K is stored transposed (k_t[c * seq_len + j]) so that the score loop runs over keys,
// contiguous, and vectorises without a horizontal reduction per key.
ENCORE_INLINE void transpose_keys(size_t seq_len, size_t head_dim, const float* k, size_t k_stride, float* k_t) {
  for (size_t j = 0; j < seq_len; ++j)
    for (size_t c = 0; c < head_dim; ++c) k_t[c * seq_len + j] = k[j * k_stride + c];
}

// Scores of `rows` (1..4) query rows against every key, into scores[r * seq_len + j]; q rows
// already carry the score scale. Register tiles of 4 rows x kKeyTile keys accumulate over the
// head dimension and are stored once: accumulating in the score rows instead costs a store
// per multiply-add, which caps the loop at a quarter of the FMA rate on cores with one store
// port. Four rows share each load of K.
constexpr size_t kKeyTile = 16;

ENCORE_INLINE void score_rows(size_t rows, size_t seq_len, size_t head_dim, const float* __restrict q,
                              size_t q_stride, const float* __restrict k_t, const float* __restrict key_bias,
                              float* __restrict scores) {
  size_t j0 = 0;
  if (rows == 4) {
    for (; j0 + kKeyTile <= seq_len; j0 += kKeyTile) {
      float a0[kKeyTile] = {}, a1[kKeyTile] = {}, a2[kKeyTile] = {}, a3[kKeyTile] = {};
      for (size_t c = 0; c < head_dim; ++c) {
        const float q0 = q[c], q1 = q[q_stride + c], q2 = q[2 * q_stride + c], q3 = q[3 * q_stride + c];
        const float* kc = k_t + c * seq_len + j0;
        for (size_t t = 0; t < kKeyTile; ++t) {
          a0[t] += q0 * kc[t];
          a1[t] += q1 * kc[t];
          a2[t] += q2 * kc[t];
          a3[t] += q3 * kc[t];
        }
      }
      for (size_t t = 0; t < kKeyTile; ++t) {
        const float bias = key_bias ? key_bias[j0 + t] : 0.0f;
        scores[j0 + t] = a0[t] + bias;
        scores[seq_len + j0 + t] = a1[t] + bias;
        scores[2 * seq_len + j0 + t] = a2[t] + bias;
        scores[3 * seq_len + j0 + t] = a3[t] + bias;
      }
    }
  }
  // Leftover keys (and fewer than 4 rows): one row at a time, accumulating in place.
  for (size_t r = 0; r < rows; ++r) {
    float* sr = scores + r * seq_len;
    for (size_t j = j0; j < seq_len; ++j) sr[j] = key_bias ? key_bias[j] : 0.0f;
    for (size_t c = 0; c < head_dim; ++c) {
      const float qc = q[r * q_stride + c];
      const float* kc = k_t + c * seq_len;
      for (size_t j = j0; j < seq_len; ++j) sr[j] += qc * kc[j];
    }
  }
}

// Softmax of one score row in place, scaled so the probabilities also carry v_scale; the
// plain probabilities also go to `probs` when it is not null.
ENCORE_INLINE void softmax_row(size_t seq_len, float* __restrict scores, float v_scale, float* __restrict probs) {
  // A running max or float sum is a serial chain the compiler may not reorder by itself
  // (each measured 13-15% of the attention time at seq 512); `omp simd reduction` lets it keep
  // vector partial results (-fopenmp-simd: the pragma only, no OpenMP runtime). The maximum is
  // the same in any order; the sum differs from a serial one by rounding only.
  float max_score = std::numeric_limits<float>::lowest();
#pragma omp simd reduction(max : max_score)
  for (size_t j = 0; j < seq_len; ++j) max_score = scores[j] > max_score ? scores[j] : max_score;
  float total = 0.0f;
#pragma omp simd reduction(+ : total)
  for (size_t j = 0; j < seq_len; ++j) {
    const float e = internal::exp_approx(scores[j] - max_score);
    scores[j] = e;
    total += e;
  }
  // total >= 1: the maximum contributes exp(0).
  if (probs) {
    for (size_t j = 0; j < seq_len; ++j) probs[j] = scores[j] / total;
  }
  const float norm = v_scale / total;
  for (size_t j = 0; j < seq_len; ++j) scores[j] *= norm;
}

// out rows = P rows x V for `rows` (1..4) probability rows. Register tiles of 4 rows x
// kValueTile columns accumulate over all keys and are stored once; four rows share each V load.
constexpr size_t kValueTile = 16;

ENCORE_INLINE void probs_times_v(internal::F32PvFn f32_pv, size_t rows, size_t seq_len, size_t head_dim,
                                 const float* __restrict p, const float* __restrict v, size_t v_stride,
                                 float* __restrict out, size_t out_stride) {
  // The table's explicit tile (AVX-512: 4 rows x 64 columns) where the CPU has one: the
  // vectorised loop below keeps only 4 accumulators and measured about half of the FMA rate.
  if (f32_pv) {
    f32_pv(rows, seq_len, head_dim, p, seq_len, v, v_stride, out, out_stride);
    return;
  }
  size_t c0 = 0;
  if (rows == 4) {
    const float* p0 = p;
    const float* p1 = p0 + seq_len;
    const float* p2 = p1 + seq_len;
    const float* p3 = p2 + seq_len;
    for (; c0 + kValueTile <= head_dim; c0 += kValueTile) {
      float a0[kValueTile] = {}, a1[kValueTile] = {}, a2[kValueTile] = {}, a3[kValueTile] = {};
      for (size_t j = 0; j < seq_len; ++j) {
        // No test for masked keys (zero weights): sequences run on their own length, so they
        // are rare, and the test cost more than the multiply-adds it skipped.
        const float w0 = p0[j], w1 = p1[j], w2 = p2[j], w3 = p3[j];
        const float* vr = v + j * v_stride + c0;
        for (size_t t = 0; t < kValueTile; ++t) {
          a0[t] += w0 * vr[t];
          a1[t] += w1 * vr[t];
          a2[t] += w2 * vr[t];
          a3[t] += w3 * vr[t];
        }
      }
      for (size_t t = 0; t < kValueTile; ++t) {
        out[c0 + t] = a0[t];
        out[out_stride + c0 + t] = a1[t];
        out[2 * out_stride + c0 + t] = a2[t];
        out[3 * out_stride + c0 + t] = a3[t];
      }
    }
  }
  // Leftover columns (and fewer than 4 rows): one row at a time.
  for (size_t r = 0; r < rows; ++r) {
    float* o = out + r * out_stride;
    for (size_t c = c0; c < head_dim; ++c) o[c] = 0.0f;
    if (c0 == head_dim) continue;
    for (size_t j = 0; j < seq_len; ++j) {
      const float pj = p[r * seq_len + j];
      if (pj == 0.0f) continue;
      const float* vr = v + j * v_stride;
      for (size_t c = c0; c < head_dim; ++c) o[c] += pj * vr[c];
    }
  }
}

// All query rows, four at a time: q_rows holds [4, head_dim] scaled queries filled by
// `load_q(i, dst)`. probs (may be null): seq_len rows of probabilities, probs_stride apart.
template <typename LoadQ>
ENCORE_INLINE void attend_all(internal::F32PvFn f32_pv, size_t seq_len, size_t head_dim, const LoadQ& load_q, const float* k_t, const float* v,
                              size_t v_stride, float v_scale, const float* key_bias, float* q_rows, float* scores,
                              float* out, size_t out_stride, float* probs, size_t probs_stride) {
  for (size_t i = 0; i < seq_len; i += 4) {
    const size_t rows = seq_len - i < 4 ? seq_len - i : 4;
    for (size_t r = 0; r < rows; ++r) load_q(i + r, q_rows + r * head_dim);
    score_rows(rows, seq_len, head_dim, q_rows, head_dim, k_t, key_bias, scores);
    for (size_t r = 0; r < rows; ++r) {
      softmax_row(seq_len, scores + r * seq_len, v_scale, probs ? probs + (i + r) * probs_stride : nullptr);
    }
    probs_times_v(f32_pv, rows, seq_len, head_dim, scores, v, v_stride, out + i * out_stride, out_stride);
  }
}

// Where a path without an int8 epilogue keeps its float context before quantizing it (int8
// path with ContextQs8 only; a region of its own at the end of the scratch).
size_t float_context_floats(size_t seq_len, size_t head_dim) { return seq_len * head_dim; }

void quantize_context(size_t seq_len, size_t head_dim, const float* context, const ContextQs8& q, size_t stride) {
  const float inv_scale = 1.0f / q.scale, zp = static_cast<float>(q.zero_point);
  for (size_t i = 0; i < seq_len; ++i) {
    for (size_t c = 0; c < head_dim; ++c) {
      q.out[i * stride + c] = internal::saturate_round_qs8(context[i * head_dim + c] * inv_scale, zp);
    }
  }
}

// The bodies of attention_head_f32 / _qs8, compiled once per x86-64 level (loop_kernels.h).
ENCORE_INLINE void attention_head_f32_body(const internal::KernelTable& t, size_t seq_len, size_t head_dim, const float* q, const float* k, const float* v,
                        size_t row_stride, const float* key_bias, float scale, float* scratch, float* out,
                        size_t out_stride, float* probs, size_t probs_stride) {
  float* scores = scratch;
  float* q_rows = scratch + 4 * seq_len;
  float* k_t = q_rows + 4 * head_dim;
  transpose_keys(seq_len, head_dim, k, row_stride, k_t);
  auto load_q = [&](size_t i, float* dst) {
    for (size_t c = 0; c < head_dim; ++c) dst[c] = q[i * row_stride + c] * scale;
  };
  attend_all(t.f32_pv, seq_len, head_dim, load_q, k_t, v, row_stride, 1.0f, key_bias, q_rows, scores, out, out_stride, probs,
             probs_stride ? probs_stride : seq_len);
}

ENCORE_INLINE void attention_head_qs8_body(const internal::KernelTable& t, size_t seq_len, size_t head_dim, const int8_t* q, float q_scale, const int8_t* k,
                        float k_scale, const int8_t* v, float v_scale, size_t row_stride, const float* key_bias,
                        float scale, float* scratch, float* out, size_t out_stride, float* probs,
                        size_t probs_stride, const ContextQs8* quantized_out) {
  float* scores = scratch;
  float* q_rows = scratch + 4 * seq_len;
  float* k_t = q_rows + 4 * head_dim;
  float* v_f = k_t + seq_len * head_dim;
  const float q_mult = q_scale * k_scale * scale;
  const size_t probs_step = probs_stride ? probs_stride : seq_len;
  if (scores_supported(t, head_dim) && t.pv) {
    // Scores and P x V in integers: uint8 softmax numerator codes times int8 V on vpdpbusd,
    // plus what rounding the codes dropped credited at V's column means, scaled by v_scale / (sum
    // of the numerators) (and the context's quantization) in the epilogue. The probabilities
    // output, when asked for, comes from the float softmax of the same scores; the context is the
    // same either way.
    int8_t* k_packed = reinterpret_cast<int8_t*>(v_f + seq_len * head_dim);
    pack_keys(t, seq_len, head_dim, k, row_stride, k_packed);
    const size_t p_stride = (seq_len + 3) / 4 * 4;
    uint8_t* p8 = reinterpret_cast<uint8_t*>(q_rows);
    int8_t* v_packed = reinterpret_cast<int8_t*>(v_f);
    float* v_means = scratch + (attention_scratch_floats(seq_len, head_dim) - float_context_floats(seq_len, head_dim));
    pack_values(t, seq_len, head_dim, v, row_stride, v_packed, v_means);
    const int32_t p_scale = qs8_pv_prob_scale(seq_len);
    const float out_mult = v_scale / (quantized_out ? quantized_out->scale : 1.0f);
    // Scores are exact integers times a finite multiplier plus a finite bias: never NaN, so the
    // score kernel's row maxima stand in for the softmax's own pass over the rows. Otherwise
    // (a non-finite scale or mask value) the softmax finds both itself.
    bool finite = std::isfinite(q_mult);
    for (size_t j = 0; finite && key_bias && j < seq_len; ++j) finite = std::isfinite(key_bias[j]);
    float row_max[4];
    float* maxima = finite ? row_max : nullptr;
    for (size_t i = 0; i < seq_len; i += 4) {
      const size_t rows = seq_len - i < 4 ? seq_len - i : 4;
      scores_rows(t, rows, seq_len, head_dim, q + i * row_stride, row_stride, k_packed, q_mult, key_bias, scores,
                  seq_len, maxima);
      float sums[4], mass[4], mult[4];
      softmax_codes(t, rows, seq_len, scores, seq_len, p_scale, p8, p_stride, sums, mass, maxima);
      for (size_t r = 0; r < rows; ++r) {
        mult[r] = out_mult / sums[r];
        if (probs) softmax_row(seq_len, scores + r * seq_len, 1.0f, probs + (i + r) * probs_step);
      }
      if (quantized_out) {
        pv_rows(t, rows, seq_len, head_dim, p8, p_stride, v_packed, mult, mass, v_means, nullptr, out_stride,
                quantized_out->out + i * out_stride, quantized_out->zero_point);
      } else {
        pv_rows(t, rows, seq_len, head_dim, p8, p_stride, v_packed, mult, mass, v_means, out + i * out_stride,
                out_stride, nullptr, 0);
      }
    }
    return;
  }
  // The paths below compute the context in float; asked for int8, they write it to the end
  // of the scratch and quantize it there.
  float* context = out;
  size_t context_stride = out_stride;
  if (quantized_out) {
    context = scratch + (attention_scratch_floats(seq_len, head_dim) - float_context_floats(seq_len, head_dim));
    context_stride = head_dim;
  }
  if (scores_supported(t, head_dim)) {
    // Scores in exact integer arithmetic on the CPU's int8 dot product (encore's GEMM tile
    // shape), then softmax and P x V in float as below.
    int8_t* k_packed = reinterpret_cast<int8_t*>(v_f + seq_len * head_dim);
    pack_keys(t, seq_len, head_dim, k, row_stride, k_packed);
    for (size_t j = 0; j < seq_len; ++j) {
      for (size_t c = 0; c < head_dim; ++c) v_f[j * head_dim + c] = static_cast<float>(v[j * row_stride + c]);
    }
    for (size_t i = 0; i < seq_len; i += 4) {
      const size_t rows = seq_len - i < 4 ? seq_len - i : 4;
      scores_rows(t, rows, seq_len, head_dim, q + i * row_stride, row_stride, k_packed, q_mult, key_bias, scores,
                  seq_len, nullptr);
      for (size_t r = 0; r < rows; ++r) {
        softmax_row(seq_len, scores + r * seq_len, v_scale, probs ? probs + (i + r) * probs_step : nullptr);
      }
      probs_times_v(t.f32_pv, rows, seq_len, head_dim, scores, v_f, head_dim, context + i * context_stride,
                    context_stride);
    }
    if (quantized_out) quantize_context(seq_len, head_dim, context, *quantized_out, out_stride);
    return;
  }
  // Dequantize K (transposed) and V once per head; the K and V scales are folded into the
  // query scale and the softmax normaliser.
  for (size_t j = 0; j < seq_len; ++j) {
    const int8_t* kj = k + j * row_stride;
    const int8_t* vj = v + j * row_stride;
    for (size_t c = 0; c < head_dim; ++c) {
      k_t[c * seq_len + j] = static_cast<float>(kj[c]);
      v_f[j * head_dim + c] = static_cast<float>(vj[c]);
    }
  }
  auto load_q = [&](size_t i, float* dst) {
    for (size_t c = 0; c < head_dim; ++c) dst[c] = static_cast<float>(q[i * row_stride + c]) * q_mult;
  };
  attend_all(t.f32_pv, seq_len, head_dim, load_q, k_t, v_f, head_dim, v_scale, key_bias, q_rows, scores, context,
             context_stride, probs, probs_step);
  if (quantized_out) quantize_context(seq_len, head_dim, context, *quantized_out, out_stride);
}

// ---- Sliding-window attention ------------------------------------------------------------------
// Query rows in tiles of kWindowTile; a tile's rows see keys [key0, key1) between them, the
// tile's own rows plus half_window on each side. Each group of 4 rows scores all of the tile's
// keys (at most kWindowTile + 2 half_window: 1.12x the keys a row sees at ModernBERT's window
// of 128), then the keys outside a row's own window get the lowest score, which the softmax
// turns into an exact 0 (exp_approx is 0 below -87). Tiles of 4 rows instead would transpose
// or pack the tile's keys four times as often for 3 / (window + 1) less scoring.

struct WindowTile {
  size_t i0, i1, key0, n;  // query rows [i0, i1), keys [key0, key0 + n)
};

ENCORE_INLINE WindowTile window_tile(size_t i0, size_t seq_len, size_t half_window) {
  const size_t i1 = i0 + kWindowTile < seq_len ? i0 + kWindowTile : seq_len;
  const size_t key0 = i0 > half_window ? i0 - half_window : 0;
  const size_t key1 = seq_len - (i1 - 1) > half_window ? i1 + half_window : seq_len;
  return {i0, i1, key0, key1 - key0};
}

// Scores of query rows first_row.. (absolute) against keys key0.. outside |i - j| <= half
// become the lowest float.
ENCORE_INLINE void mask_outside_window(size_t rows, size_t first_row, size_t key0, size_t keys, size_t half,
                                       float* scores) {
  const float lowest = std::numeric_limits<float>::lowest();
  for (size_t r = 0; r < rows; ++r) {
    const size_t i = first_row + r;
    const size_t lo = i > half ? i - half : 0;  // first key the row sees
    const size_t hi = i + half + 1;             // one past the last
    float* sr = scores + r * keys;
    for (size_t j = 0; j < keys && key0 + j < lo; ++j) sr[j] = lowest;
    for (size_t j = hi > key0 ? hi - key0 : 0; j < keys; ++j) sr[j] = lowest;
  }
}

ENCORE_INLINE void attention_window_f32_body(const internal::KernelTable& t, size_t seq_len, size_t head_dim,
                                             size_t half_window, const float* q, const float* k, const float* v,
                                             size_t row_stride, const float* key_bias, float scale, float* scratch,
                                             float* out, size_t out_stride) {
  for (size_t i0 = 0; i0 < seq_len; i0 += kWindowTile) {
    const WindowTile w = window_tile(i0, seq_len, half_window);
    float* scores = scratch;
    float* q_rows = scores + 4 * w.n;
    float* k_t = q_rows + 4 * head_dim;
    transpose_keys(w.n, head_dim, k + w.key0 * row_stride, row_stride, k_t);
    const float* bias = key_bias ? key_bias + w.key0 : nullptr;
    for (size_t i = w.i0; i < w.i1; i += 4) {
      const size_t rows = w.i1 - i < 4 ? w.i1 - i : 4;
      for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < head_dim; ++c) q_rows[r * head_dim + c] = q[(i + r) * row_stride + c] * scale;
      }
      score_rows(rows, w.n, head_dim, q_rows, head_dim, k_t, bias, scores);
      mask_outside_window(rows, i, w.key0, w.n, half_window, scores);
      for (size_t r = 0; r < rows; ++r) softmax_row(w.n, scores + r * w.n, 1.0f, nullptr);
      probs_times_v(t.f32_pv, rows, w.n, head_dim, scores, v + w.key0 * row_stride, row_stride, out + i * out_stride,
                    out_stride);
    }
  }
}

ENCORE_INLINE void attention_window_qs8_body(const internal::KernelTable& t, size_t seq_len, size_t head_dim,
                                             size_t half_window, const int8_t* q, float q_scale, const int8_t* k,
                                             float k_scale, const int8_t* v, float v_scale, size_t row_stride,
                                             const float* key_bias, float scale, float* scratch, float* out,
                                             size_t out_stride, const ContextQs8* quantized_out) {
  const float q_mult = q_scale * k_scale * scale;
  const bool integer = scores_supported(t, head_dim) && t.pv;
  for (size_t i0 = 0; i0 < seq_len; i0 += kWindowTile) {
    const WindowTile w = window_tile(i0, seq_len, half_window);
    const float* bias = key_bias ? key_bias + w.key0 : nullptr;
    float* scores = scratch;
    if (integer) {
      // As attention_head_qs8's integer path, on the tile's keys; the row maxima are found
      // after the window mask (a masked key's score must not set the scale of the codes).
      const size_t p_stride = round_up4(w.n);
      uint8_t* p8 = reinterpret_cast<uint8_t*>(scores + 4 * w.n);
      int8_t* k_packed = reinterpret_cast<int8_t*>(scores + 4 * w.n + p_stride);
      int8_t* v_packed = k_packed + round_up16(qs8_scores_packed_bytes(w.n, head_dim));
      float* v_means = reinterpret_cast<float*>(v_packed + round_up16(qs8_pv_packed_values(w.n, head_dim)));
      pack_keys(t, w.n, head_dim, k + w.key0 * row_stride, row_stride, k_packed);
      pack_values(t, w.n, head_dim, v + w.key0 * row_stride, row_stride, v_packed, v_means);
      const int32_t p_scale = qs8_pv_prob_scale(w.n);
      const float out_mult = v_scale / (quantized_out ? quantized_out->scale : 1.0f);
      for (size_t i = w.i0; i < w.i1; i += 4) {
        const size_t rows = w.i1 - i < 4 ? w.i1 - i : 4;
        scores_rows(t, rows, w.n, head_dim, q + i * row_stride, row_stride, k_packed, q_mult, bias, scores, w.n,
                    nullptr);
        mask_outside_window(rows, i, w.key0, w.n, half_window, scores);
        float sums[4], mass[4], mult[4];
        softmax_codes(t, rows, w.n, scores, w.n, p_scale, p8, p_stride, sums, mass, nullptr);
        for (size_t r = 0; r < rows; ++r) mult[r] = out_mult / sums[r];
        if (quantized_out) {
          pv_rows(t, rows, w.n, head_dim, p8, p_stride, v_packed, mult, mass, v_means, nullptr, out_stride,
                  quantized_out->out + i * out_stride, quantized_out->zero_point);
        } else {
          pv_rows(t, rows, w.n, head_dim, p8, p_stride, v_packed, mult, mass, v_means, out + i * out_stride,
                  out_stride, nullptr, 0);
        }
      }
      continue;
    }
    // Without the integer kernels: K (transposed) and V of the tile dequantized, the scales
    // folded into the query multiplier and the softmax normaliser, as attention_head_qs8 does.
    float* q_rows = scores + 4 * w.n;
    float* k_t = q_rows + 4 * head_dim;
    float* v_f = k_t + w.n * head_dim;
    float* context = v_f + w.n * head_dim;  // [4, head_dim] when the output is int8
    for (size_t j = 0; j < w.n; ++j) {
      const int8_t* kj = k + (w.key0 + j) * row_stride;
      const int8_t* vj = v + (w.key0 + j) * row_stride;
      for (size_t c = 0; c < head_dim; ++c) {
        k_t[c * w.n + j] = static_cast<float>(kj[c]);
        v_f[j * head_dim + c] = static_cast<float>(vj[c]);
      }
    }
    for (size_t i = w.i0; i < w.i1; i += 4) {
      const size_t rows = w.i1 - i < 4 ? w.i1 - i : 4;
      for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < head_dim; ++c) {
          q_rows[r * head_dim + c] = static_cast<float>(q[(i + r) * row_stride + c]) * q_mult;
        }
      }
      score_rows(rows, w.n, head_dim, q_rows, head_dim, k_t, bias, scores);
      mask_outside_window(rows, i, w.key0, w.n, half_window, scores);
      for (size_t r = 0; r < rows; ++r) softmax_row(w.n, scores + r * w.n, v_scale, nullptr);
      if (quantized_out) {
        probs_times_v(t.f32_pv, rows, w.n, head_dim, scores, v_f, head_dim, context, head_dim);
        const ContextQs8 dst{quantized_out->out + i * out_stride, quantized_out->scale, quantized_out->zero_point};
        quantize_context(rows, head_dim, context, dst, out_stride);
      } else {
        probs_times_v(t.f32_pv, rows, w.n, head_dim, scores, v_f, head_dim, out + i * out_stride, out_stride);
      }
    }
  }
}

}  // namespace

size_t attention_scratch_floats(size_t seq_len, size_t head_dim) {
  // 4 score rows + 4 scaled query rows + transposed K + dequantized V (int8 path only) + K
  // packed for the int8 score kernel (int8 path on CPUs that have one) + the float context
  // that int8 paths without an int8 epilogue quantize from. The integer P x V path keeps its
  // uint8 probability rows where the query rows and transposed K go, its packed V where the
  // dequantized V goes (both fit: head_dim >= 4, seq_len >= 1) and V's column means where the
  // float context goes.
  return 4 * seq_len + 4 * head_dim + 2 * seq_len * head_dim +
         (qs8_scores_packed_bytes(seq_len, head_dim) + sizeof(float) - 1) / sizeof(float) +
         float_context_floats(seq_len, head_dim);
}

#define ENCORE_ATTENTION_VARIANTS(suffix, attr)                                                                     \
  attr void internal::attention_head_f32_##suffix(                                                                  \
      const KernelTable& t, size_t seq_len, size_t head_dim, const float* q, const float* k, const float* v,        \
      size_t row_stride, const float* key_bias, float scale, float* scratch, float* out, size_t out_stride,         \
      float* probs, size_t probs_stride) {                                                                          \
    attention_head_f32_body(t, seq_len, head_dim, q, k, v, row_stride, key_bias, scale, scratch, out, out_stride,   \
                            probs, probs_stride);                                                                   \
  }                                                                                                                 \
  attr void internal::attention_head_qs8_##suffix(                                                                  \
      const KernelTable& t, size_t seq_len, size_t head_dim, const int8_t* q, float q_scale, const int8_t* k,       \
      float k_scale, const int8_t* v, float v_scale, size_t row_stride, const float* key_bias, float scale,         \
      float* scratch, float* out, size_t out_stride, float* probs, size_t probs_stride,                             \
      const ContextQs8* quantized_out) {                                                                            \
    attention_head_qs8_body(t, seq_len, head_dim, q, q_scale, k, k_scale, v, v_scale, row_stride, key_bias, scale,  \
                            scratch, out, out_stride, probs, probs_stride, quantized_out);                          \
  }

#define ENCORE_WINDOW_VARIANTS(suffix, attr)                                                                        \
  attr void internal::attention_window_f32_##suffix(                                                                \
      const KernelTable& t, size_t seq_len, size_t head_dim, size_t half_window, const float* q, const float* k,    \
      const float* v, size_t row_stride, const float* key_bias, float scale, float* scratch, float* out,            \
      size_t out_stride) {                                                                                          \
    attention_window_f32_body(t, seq_len, head_dim, half_window, q, k, v, row_stride, key_bias, scale, scratch,     \
                              out, out_stride);                                                                     \
  }                                                                                                                 \
  attr void internal::attention_window_qs8_##suffix(                                                                \
      const KernelTable& t, size_t seq_len, size_t head_dim, size_t half_window, const int8_t* q, float q_scale,    \
      const int8_t* k, float k_scale, const int8_t* v, float v_scale, size_t row_stride, const float* key_bias,     \
      float scale, float* scratch, float* out, size_t out_stride, const ContextQs8* quantized_out) {                \
    attention_window_qs8_body(t, seq_len, head_dim, half_window, q, q_scale, k, k_scale, v, v_scale, row_stride,    \
                              key_bias, scale, scratch, out, out_stride, quantized_out);                            \
  }

ENCORE_WINDOW_VARIANTS(default, )
#ifdef ENCORE_X86_LEVELS
ENCORE_WINDOW_VARIANTS(x86_64_v3, ENCORE_X86_V3)
ENCORE_WINDOW_VARIANTS(x86_64_v4, ENCORE_X86_V4)
#endif
#undef ENCORE_WINDOW_VARIANTS

ENCORE_ATTENTION_VARIANTS(default, )
#ifdef ENCORE_X86_LEVELS
ENCORE_ATTENTION_VARIANTS(x86_64_v3, ENCORE_X86_V3)
ENCORE_ATTENTION_VARIANTS(x86_64_v4, ENCORE_X86_V4)
#endif
#undef ENCORE_ATTENTION_VARIANTS

void attention_head_f32(size_t seq_len, size_t head_dim, const float* q, const float* k, const float* v,
                        size_t row_stride, const float* key_bias, float scale, float* scratch, float* out,
                        size_t out_stride, float* probs, size_t probs_stride) {
  const internal::KernelTable& t = internal::kernel_table();
  t.attention_f32(t, seq_len, head_dim, q, k, v, row_stride, key_bias, scale, scratch, out, out_stride, probs,
                  probs_stride);
}

void attention_head_qs8(size_t seq_len, size_t head_dim, const int8_t* q, float q_scale, const int8_t* k,
                        float k_scale, const int8_t* v, float v_scale, size_t row_stride, const float* key_bias,
                        float scale, float* scratch, float* out, size_t out_stride, float* probs,
                        size_t probs_stride, const ContextQs8* quantized_out) {
  const internal::KernelTable& t = internal::kernel_table();
  t.attention_qs8(t, seq_len, head_dim, q, q_scale, k, k_scale, v, v_scale, row_stride, key_bias, scale, scratch, out,
                  out_stride, probs, probs_stride, quantized_out);
}

void attention_window_f32(size_t seq_len, size_t head_dim, size_t half_window, const float* q, const float* k,
                          const float* v, size_t row_stride, const float* key_bias, float scale, float* scratch,
                          float* out, size_t out_stride) {
  const internal::KernelTable& t = internal::kernel_table();
  t.attention_window_f32(t, seq_len, head_dim, half_window, q, k, v, row_stride, key_bias, scale, scratch, out,
                         out_stride);
}

void attention_window_qs8(size_t seq_len, size_t head_dim, size_t half_window, const int8_t* q, float q_scale,
                          const int8_t* k, float k_scale, const int8_t* v, float v_scale, size_t row_stride,
                          const float* key_bias, float scale, float* scratch, float* out, size_t out_stride,
                          const ContextQs8* quantized_out) {
  const internal::KernelTable& t = internal::kernel_table();
  t.attention_window_qs8(t, seq_len, head_dim, half_window, q, q_scale, k, k_scale, v, v_scale, row_stride, key_bias,
                         scale, scratch, out, out_stride, quantized_out);
}

// ---- Attention scores ----------------------------------------------------------------------

bool qs8_scores_supported(size_t head_dim) { return scores_supported(internal::kernel_table(), head_dim); }

size_t qs8_scores_packed_bytes(size_t keys, size_t head_dim) {
  return round_up16(keys) * (head_dim + sizeof(int32_t));
}

void qs8_scores_pack_keys(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride, int8_t* packed) {
  pack_keys(internal::kernel_table(), keys, head_dim, k, k_stride, packed);
}

void internal::qs8_scores_pack_keys_portable(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride,
                                             int8_t* packed, int32_t input_offset) {
  const size_t padded = round_up16(keys);
  // Panels are head_dim * 16 bytes, a multiple of 64: the terms after them are aligned.
  int32_t* comp = reinterpret_cast<int32_t*>(packed + padded * head_dim);
  // Per key: 4-byte groups (head_dim % 4 == 0) copied as one word each, the sum in its own
  // loop (it vectorises); padding keys are zero.
  for (size_t j = 0; j < padded; ++j) {
    int8_t* dst = packed + (j / 16) * head_dim * 16 + (j % 16) * 4;
    if (j >= keys) {
      for (size_t c = 0; c < head_dim; c += 4) std::memset(dst + (c / 4) * 64, 0, 4);
      comp[j] = 0;
      continue;
    }
    const int8_t* row = k + j * k_stride;
    for (size_t c = 0; c < head_dim; c += 4) std::memcpy(dst + (c / 4) * 64, row + c, 4);
    int32_t sum = 0;
    for (size_t c = 0; c < head_dim; ++c) sum += row[c];
    comp[j] = -input_offset * sum;
  }
}

void qs8_scores(size_t rows, size_t keys, size_t head_dim, const int8_t* q, size_t q_stride, const int8_t* packed,
                float mult, const float* key_bias, float* scores, size_t scores_stride, float* row_max) {
  scores_rows(internal::kernel_table(), rows, keys, head_dim, q, q_stride, packed, mult, key_bias, scores,
              scores_stride, row_max);
}

// ---- Attention P x V -----------------------------------------------------------------------

bool qs8_pv_supported() { return internal::kernel_table().pv != nullptr; }

int32_t qs8_pv_prob_scale(size_t keys) {
  // |sum| <= padded keys * scale * 128 must stay within int32.
  const uint64_t padded = round_up4(keys ? keys : 1);
  const uint64_t limit = static_cast<uint64_t>(INT32_MAX) / (128 * padded);
  return static_cast<int32_t>(limit < 255 ? limit : 255);
}

size_t qs8_pv_packed_values(size_t keys, size_t cols) { return round_up4(keys) * cols; }

void internal::qs8_pv_pack_values_portable(size_t keys, size_t cols, const int8_t* v, size_t v_stride,
                                           int8_t* packed, float* means) {
  for (size_t j = 0; j < round_up4(keys); ++j) {
    int8_t* dst = packed + (j / 4) * 4 * cols + j % 4;
    for (size_t c = 0; c < cols; ++c) dst[4 * c] = j < keys ? v[j * v_stride + c] : int8_t{0};
  }
  for (size_t c = 0; means && c < cols; ++c) {
    int64_t sum = 0;
    for (size_t j = 0; j < keys; ++j) sum += v[j * v_stride + c];
    means[c] = static_cast<float>(sum) / static_cast<float>(keys);
  }
}

void qs8_pv_pack_values(size_t keys, size_t cols, const int8_t* v, size_t v_stride, int8_t* packed, float* means) {
  pack_values(internal::kernel_table(), keys, cols, v, v_stride, packed, means);
}

void qs8_pv_softmax_rows(size_t rows, size_t keys, const float* scores, size_t scores_stride, int32_t p_scale,
                         uint8_t* p, size_t p_stride, float* sums, float* mass, const float* row_max) {
  softmax_codes(internal::kernel_table(), rows, keys, scores, scores_stride, p_scale, p, p_stride, sums, mass, row_max);
}

void qs8_pv(size_t rows, size_t keys, size_t cols, const uint8_t* p, size_t p_stride, const int8_t* packed,
            const float* mult, const float* mass, const float* means, float* out, size_t out_stride, int8_t* out_q,
            int32_t out_zero_point) {
  pv_rows(internal::kernel_table(), rows, keys, cols, p, p_stride, packed, mult, mass, means, out, out_stride, out_q,
          out_zero_point);
}

}  // namespace encore
