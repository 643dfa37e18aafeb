// The attention core for one (sequence, head): softmax(Q K^T * scale + key_bias) V.
//
// Q, K and V are rows of `head_dim` values with a row stride of `row_stride` elements (they
// usually point into one fused [tokens, 3 * hidden] QKV buffer). key_bias holds one additive
// value per key position (0 for a real token, lowest float for padding, as Hugging Face's
// extended attention mask); null means no mask. A row whose keys are all masked therefore
// averages V uniformly, exactly as PyTorch does.
// The output is `seq_len` rows of `head_dim` floats with stride `out_stride`.
// `scratch` must hold attention_scratch_floats(seq_len, head_dim) floats; it is per call
// (per thread), never shared between concurrent calls.
// `probs`, when not null, receives the softmax probabilities: seq_len rows (queries) of
// seq_len floats (keys), `probs_stride` floats apart (0: seq_len). Null (inference) costs one
// test per query row.
#pragma once

#include <cstddef>
#include <cstdint>

namespace encore {

size_t attention_scratch_floats(size_t seq_len, size_t head_dim);

void attention_head_f32(size_t seq_len, size_t head_dim, const float* q, const float* k,
                        const float* v, size_t row_stride, const float* key_bias, float scale,
                        float* scratch, float* out, size_t out_stride, float* probs = nullptr,
                        size_t probs_stride = 0);

// The int8 kernel's context as int8 for the output projection, instead of floats:
// code = saturate(round_half_even(context * (1 / scale)) + zero_point), rows out_stride apart.
struct ContextQs8 {
  int8_t* out;
  float scale;
  int32_t zero_point;
};

// int8 Q/K/V with zero point 0 (symmetric) and one scale each; real = scale * q. With
// `quantized_out`, the context goes there as int8 and `out` is not written (may be null).
void attention_head_qs8(size_t seq_len, size_t head_dim, const int8_t* q, float q_scale,
                        const int8_t* k, float k_scale, const int8_t* v, float v_scale,
                        size_t row_stride, const float* key_bias, float scale, float* scratch,
                        float* out, size_t out_stride, float* probs = nullptr, size_t probs_stride = 0,
                        const ContextQs8* quantized_out = nullptr);

}  // namespace encore
