#include "kernels/attention.h"

#include <limits>

#include "kernels/math_approx.h"

namespace encore {
namespace {

constexpr size_t kLanes = 8;

float dot(size_t n, const float* a, const float* b) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  for (; i < n; ++i) acc[i % kLanes] += a[i] * b[i];
  float s = 0.0f;
  for (float v : acc) s += v;
  return s;
}

// One query row against all keys: scores, softmax, then the weighted sum of V rows.
// `q` is already multiplied by the score scale.
void attend_row(size_t seq_len, size_t head_dim, const float* q, const float* k, size_t k_stride, const float* v,
                size_t v_stride, float v_scale, const float* key_bias, float* scores, float* out) {
  float max_score = std::numeric_limits<float>::lowest();
  for (size_t j = 0; j < seq_len; ++j) {
    float s = dot(head_dim, q, k + j * k_stride);
    if (key_bias) s += key_bias[j];
    scores[j] = s;
    max_score = s > max_score ? s : max_score;
  }
  float total = 0.0f;
  for (size_t j = 0; j < seq_len; ++j) {
    const float e = internal::exp_approx(scores[j] - max_score);
    scores[j] = e;
    total += e;
  }
  // total >= 1: the maximum contributes exp(0).
  const float norm = v_scale / total;
  for (size_t c = 0; c < head_dim; ++c) out[c] = 0.0f;
  for (size_t j = 0; j < seq_len; ++j) {
    const float p = scores[j] * norm;
    if (p == 0.0f) continue;  // masked keys
    const float* vr = v + j * v_stride;
    for (size_t c = 0; c < head_dim; ++c) out[c] += p * vr[c];
  }
}

}  // namespace

size_t attention_scratch_floats(size_t seq_len, size_t head_dim) {
  // scores row + scaled query row + dequantized K and V (int8 path only, but one size).
  return seq_len + head_dim + 2 * seq_len * head_dim;
}

void attention_head_f32(size_t seq_len, size_t head_dim, const float* q, const float* k, const float* v,
                        size_t row_stride, const float* key_bias, float scale, float* scratch, float* out,
                        size_t out_stride) {
  float* scores = scratch;
  float* q_row = scratch + seq_len;
  for (size_t i = 0; i < seq_len; ++i) {
    const float* qi = q + i * row_stride;
    for (size_t c = 0; c < head_dim; ++c) q_row[c] = qi[c] * scale;
    attend_row(seq_len, head_dim, q_row, k, row_stride, v, row_stride, 1.0f, key_bias, scores,
               out + i * out_stride);
  }
}

void attention_head_qs8(size_t seq_len, size_t head_dim, const int8_t* q, float q_scale, const int8_t* k,
                        float k_scale, const int8_t* v, float v_scale, size_t row_stride, const float* key_bias,
                        float scale, float* scratch, float* out, size_t out_stride) {
  float* scores = scratch;
  float* q_row = scratch + seq_len;
  float* k_f = q_row + head_dim;
  float* v_f = k_f + seq_len * head_dim;
  // Dequantize K and V once per head (contiguous, so the row loops run on packed floats);
  // the K and V scales are folded into the query scale and the softmax normaliser.
  for (size_t j = 0; j < seq_len; ++j) {
    const int8_t* kj = k + j * row_stride;
    const int8_t* vj = v + j * row_stride;
    for (size_t c = 0; c < head_dim; ++c) {
      k_f[j * head_dim + c] = static_cast<float>(kj[c]);
      v_f[j * head_dim + c] = static_cast<float>(vj[c]);
    }
  }
  const float q_mult = q_scale * k_scale * scale;
  for (size_t i = 0; i < seq_len; ++i) {
    const int8_t* qi = q + i * row_stride;
    for (size_t c = 0; c < head_dim; ++c) q_row[c] = static_cast<float>(qi[c]) * q_mult;
    attend_row(seq_len, head_dim, q_row, k_f, head_dim, v_f, head_dim, v_scale, key_bias, scores,
               out + i * out_stride);
  }
}

}  // namespace encore
