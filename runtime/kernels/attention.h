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

// Sliding-window attention (ModernBERT's local layers): query i attends only the keys j with
// |i - j| <= half_window (and, as above, key_bias on them). Work and scratch grow with
// seq_len x window, not seq_len^2: query rows run in tiles of kWindowTile, each against the
// keys its rows can see, and the keys a row cannot see get probability exactly 0 (f32; int8:
// below 2e-6 of the row's mass). Scratch: attention_scratch_floats(seq_len, head_dim) floats,
// as for a whole head. No probabilities output. Otherwise as attention_head_f32 / _qs8.
constexpr size_t kWindowTile = 16;
void attention_window_f32(size_t seq_len, size_t head_dim, size_t half_window, const float* q, const float* k,
                          const float* v, size_t row_stride, const float* key_bias, float scale, float* scratch,
                          float* out, size_t out_stride);
void attention_window_qs8(size_t seq_len, size_t head_dim, size_t half_window, const int8_t* q, float q_scale,
                          const int8_t* k, float k_scale, const int8_t* v, float v_scale, size_t row_stride,
                          const float* key_bias, float scale, float* scratch, float* out, size_t out_stride,
                          const ContextQs8* quantized_out = nullptr);

// ---- The int8 attention steps attention_head_qs8 runs (chosen by the kernel table) ----------

// Attention scores on the int8 GEMM's dot-product instructions: scores[r][j] = float(sum_c q[r][c] * k[j][c]) *
// mult + key_bias[j] (key_bias may be null) for int8 Q and K with zero point 0, exact in the
// integer part. K is packed once per head (per sequence) into `packed`, which needs
// qs8_scores_packed_bytes(keys, head_dim) bytes: 16-key panels [keys/16][head_dim/4][16][4],
// then per key -128 * sum_c k[j][c] (vpdpbusd reads the query as q + 128).
// qs8_scores_supported: this CPU has such a kernel (AVX-512 VNNI, aarch64 dot product) and
// head_dim % 4 == 0, which packing and scores require.
bool qs8_scores_supported(size_t head_dim);
size_t qs8_scores_packed_bytes(size_t keys, size_t head_dim);
void qs8_scores_pack_keys(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride, int8_t* packed);
// Rows 1..4 of queries against every key; no allocation. With row_max not null, row_max[r]
// is also set to the largest of row r's scores (what the softmax needs first).
void qs8_scores(size_t rows, size_t keys, size_t head_dim, const int8_t* q, size_t q_stride, const int8_t* packed,
                float mult, const float* key_bias, float* scores, size_t scores_stride, float* row_max = nullptr);

// Attention's P x V in integers: out[r][c] = (float(sum_j p[r][j] * v[j][c]) + mass[r] * mean[c])
// * mult[r] for uint8 probability codes p (softmax numerators times qs8_pv_prob_scale(keys), rows
// padded with zeros to a multiple of 4 keys) and int8 V with zero point 0, exact in the integer
// part. vpdpbusd multiplies 4 keys per instruction (twice vpdpwssd's 2 with 15-bit codes, and
// as accurate on the reference models, see README).
// mass[r] is the part of row r's softmax numerators that rounding to codes dropped (or added),
// credited at V's column means, mean[c]: a row with many small probabilities keeps its total
// weight instead of losing what rounds to zero (both may be null: no such term).
// V is packed once per head into qs8_pv_packed_values(keys, cols) bytes: key quads
// [keys/4][cols][4], padding keys zero; `means`, when not null, receives V's column means.
// qs8_pv_supported: this CPU has the kernel (AVX-512 VNNI + BW).
bool qs8_pv_supported();
// The largest probability code (at most 255) whose sums cannot overflow int32 for this many keys.
int32_t qs8_pv_prob_scale(size_t keys);
size_t qs8_pv_packed_values(size_t keys, size_t cols);
void qs8_pv_pack_values(size_t keys, size_t cols, const int8_t* v, size_t v_stride, int8_t* packed, float* means);
// The code rows for qs8_pv from rows 1..4 of scores (row r at scores + r * scores_stride, at
// p + r * p_stride): e[j] = exp(scores[j] - max) * p_scale and p[j] = round(e[j]) (within one),
// then zeros up to a multiple of 4 keys. sums[r] is the sum of row r's e[j] (within a relative
// 1e-5; the softmax denominator in code units) and mass[r] = sums[r] - (sum of its codes). A row
// holding a NaN score gets zero codes and NaN sums (its context comes out NaN, as in the float
// path). p_scale is qs8_pv_prob_scale(keys). No allocation. row_max, when not null, holds each
// row's maximum score (from qs8_scores) and promises that no score is NaN: the pass that finds
// both is skipped.
void qs8_pv_softmax_rows(size_t rows, size_t keys, const float* scores, size_t scores_stride, int32_t p_scale,
                         uint8_t* p, size_t p_stride, float* sums, float* mass, const float* row_max = nullptr);
// Rows 1..4; p_stride in bytes; no allocation. With out_q not null the rows go there as int8
// instead: saturate(round_half_even(y) + out_zero_point) for y as above (NaN: the zero point),
// and out is not written.
void qs8_pv(size_t rows, size_t keys, size_t cols, const uint8_t* p, size_t p_stride, const int8_t* packed,
            const float* mult, const float* mass, const float* means, float* out, size_t out_stride,
            int8_t* out_q = nullptr, int32_t out_zero_point = 0);

}  // namespace encore
