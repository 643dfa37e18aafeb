// What each kind of step does, with the operands its plan entry binds. Row-wise steps split
// their rows over the pool in tiles of 16 (large enough to amortise a dispatch).
#include <algorithm>
#include <cmath>
#include <limits>

#include "encoder/encoder.h"
#include "encoder/inputs.h"
#include "encoder/parallel.h"
#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "kernels/rotary.h"
#include "model/format.h"

namespace encore::internal {
namespace fmt = format;

namespace {
constexpr size_t kRowTile = 16;

// f(first element, element count) over tiles of whole rows of `cols` elements.
template <typename F>
void rows_parallel(const RunShape& r, size_t cols, const F& f) {
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) { f(r0 * cols, (r1 - r0) * cols); });
}
}  // namespace

void* buffer_data(const ActivationBuffers& b, Buffer id) {
  switch (id) {
    case Buffer::kHidden: return b.hidden;
    case Buffer::kContext: return b.context;
    case Buffer::kQkvF32: return b.qkv_f32;
    case Buffer::kProjF32: return b.proj_f32;
    case Buffer::kFfnF32: return b.ffn_f32;
    case Buffer::kHiddenQ: return b.hidden_q;
    case Buffer::kQkvQ: return b.qkv_q;
    case Buffer::kProjQ: return b.proj_q;
    case Buffer::kFfnQ: return b.ffn_q;
    case Buffer::kSentenceA: return b.sentence_a;
    case Buffer::kSentenceB: return b.sentence_b;
  }
  return nullptr;
}

// x = LN(word[id] + position[p] + token_type[t]) per packed row (no token-type term in a model
// without them), and each row's key bias (0 for a real token, lowest float for padding). The
// rows are the stream itself, or, where the embeddings are narrower than the stream (ELECTRA),
// a staging buffer that a projection then widens. In int8 models the stream's rows are also
// quantized as the first QKV input.
Status step_embeddings(const Encoder& e, const Step& s, const RunShape& r) {
  const EncoderConfig& c = *e.config;
  const ModelWeights& w = *e.weights;
  const ActivationBuffers& b = *r.b;
  const Inputs& in = *r.in;
  fill_positions(in, c, b);
  const size_t H = static_cast<size_t>(c.hidden_size), E = static_cast<size_t>(c.embedding_width());
  float* rows = b.embed ? b.embed : b.hidden;
  const bool quantize_here = s.quantize_next && !b.embed;
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      float* x = rows + t * E;
      const size_t src = static_cast<size_t>(b.token_source[t]);
      const size_t id = static_cast<size_t>(in.input_ids[src]);
      if (w.quantized) {
        f16_to_f32(E, w.word_f16 + id * E, x);
      } else {
        for (size_t i = 0; i < E; ++i) x[i] = w.word_f32[id * E + i];
      }
      b.key_bias[t] = (!in.attention_mask || in.attention_mask[src]) ? 0.0f : std::numeric_limits<float>::lowest();
      if (!w.position) continue;  // ModernBERT: rotary positions, in the layers
      const float* pos = w.position + static_cast<size_t>(b.positions[t]) * E;
      if (w.token_type) {
        const size_t type = in.token_type_ids ? static_cast<size_t>(in.token_type_ids[src]) : 0;
        const float* tt = w.token_type + type * E;
        for (size_t i = 0; i < E; ++i) x[i] += pos[i] + tt[i];
      } else {
        for (size_t i = 0; i < E; ++i) x[i] += pos[i];
      }
    }
    ResidualNormQs8 io;
    if (quantize_here) {
      io.q = b.hidden_q + begin * H;
      io.q_scale = s.next_quant.scale;
      io.q_zero_point = s.next_quant.zero_point;
    }
    residual_layer_norm(end - begin, E, rows + begin * E, s.norm->gamma, s.norm->beta, c.layer_norm_eps, io);
  });
  if (!b.embed) return Status::Ok();
  // The projection to the stream's width, f32 in every model; then the first QKV input.
  ENCORE_RETURN_IF_ERROR(s.linear->run(r.rows, b.embed, b.hidden, r.pool));
  if (s.quantize_next) {
    rows_parallel(r, H, [&](size_t at, size_t n) {
      quantize_f32_qs8(n, b.hidden + at, s.next_quant.scale, s.next_quant.zero_point, b.hidden_q + at);
    });
  }
  return Status::Ok();
}

Status step_linear(const Encoder&, const Step& s, const RunShape& r) {
  return s.linear->run(r.rows, buffer_data(*r.b, s.in), buffer_data(*r.b, s.out), r.pool);
}

Status step_attention(const Encoder& e, const Step& s, const RunShape& r) {
  run_attention(e, static_cast<size_t>(s.layer), *r.in, *r.b);
  return Status::Ok();
}

// Residual add, LayerNorm and the quantization of the next projection's input in one pass per
// row. A bypassed FFN adds nothing (only the LayerNorm runs) and has no input to quantize.
Status step_residual_norm_qs8(const Encoder& e, const Step& s, const RunShape& r) {
  const bool ffn = !e.ablation.ffn_bypassed[static_cast<size_t>(s.layer)];
  const ActivationBuffers& b = *r.b;
  const size_t H = static_cast<size_t>(e.config->hidden_size);
  ResidualNormQs8 io;
  if (s.residual && (ffn || !s.residual_from_ffn)) {
    io.residual = static_cast<const int8_t*>(buffer_data(b, s.in));
    io.residual_scale = s.residual_quant.scale;
    io.residual_zero_point = s.residual_quant.zero_point;
  }
  if (s.quantize_next && (ffn || !s.next_is_ffn)) {
    io.q = b.hidden_q;
    io.q_scale = s.next_quant.scale;
    io.q_zero_point = s.next_quant.zero_point;
  }
  const float eps = e.config->layer_norm_eps;
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) {
    ResidualNormQs8 rows = io;
    if (rows.residual) rows.residual += r0 * H;
    if (rows.q) rows.q += r0 * H;
    residual_layer_norm(r1 - r0, H, b.hidden + r0 * H, s.norm->gamma, s.norm->beta, eps, rows);
  });
  return Status::Ok();
}

Status step_residual_norm_f32(const Encoder& e, const Step& s, const RunShape& r) {
  const bool ffn = !e.ablation.ffn_bypassed[static_cast<size_t>(s.layer)];
  const ActivationBuffers& b = *r.b;
  const size_t H = static_cast<size_t>(e.config->hidden_size);
  if (s.residual && (ffn || !s.residual_from_ffn)) {
    const float* y = static_cast<const float*>(buffer_data(b, s.in));
    rows_parallel(r, H, [&](size_t at, size_t k) { add_f32(k, y + at, b.hidden + at); });
  }
  const float eps = e.config->layer_norm_eps;
  // After an f32 block of an int8 model: the next projection's int8 input as well.
  const bool quantize = s.quantize_next && (ffn || !s.next_is_ffn);
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t begin, size_t end) {
    float* x = b.hidden + begin * H;
    layer_norm_f32(end - begin, H, x, s.norm->gamma, s.norm->beta, eps, x);
    if (quantize) quantize_f32_qs8((end - begin) * H, x, s.next_quant.scale, s.next_quant.zero_point, b.hidden_q + begin * H);
  });
  return Status::Ok();
}

Status step_activation_lut_qs8(const Encoder& e, const Step& s, const RunShape& r) {
  int8_t* x = static_cast<int8_t*>(buffer_data(*r.b, s.in));
  const int8_t* lut = e.layers[static_cast<size_t>(s.layer)].activation_lut;
  rows_parallel(r, s.width, [&](size_t at, size_t n) { apply_lut_qs8(n, x + at, lut, x + at); });
  return Status::Ok();
}

Status step_activation_f32(const Encoder& e, const Step& s, const RunShape& r) {
  float* x = static_cast<float*>(buffer_data(*r.b, s.in));
  const Activation act = e.config->activation;
  rows_parallel(r, s.width, [&](size_t at, size_t n) { activation_f32(act, n, x + at, x + at); });
  return Status::Ok();
}

// pooled = act(Linear(first token of each sequence)), on the unpacked [batch, seq] rows: tanh
// (BERT's pooler, RoBERTa's head), ReLU (DistilBERT's pre_classifier) or GELU (ELECTRA's head).
Status step_pooler(const Encoder& e, const Step& s, const RunShape& r) {
  const ActivationBuffers& b = *r.b;
  const size_t H = static_cast<size_t>(e.config->hidden_size), S = static_cast<size_t>(r.in->seq_len);
  const size_t B = static_cast<size_t>(r.sequences);
  for (size_t q = 0; q < B; ++q) {
    for (size_t i = 0; i < H; ++i) b.cls[q * H + i] = b.hidden[q * S * H + i];
  }
  ENCORE_RETURN_IF_ERROR(s.linear->run(B, b.cls, b.pooled, r.pool));
  switch (e.config->pooler_activation) {
    case PoolerActivation::kTanh: tanh_f32(B * H, b.pooled, b.pooled); break;
    case PoolerActivation::kRelu: activation_f32(Activation::kRelu, B * H, b.pooled, b.pooled); break;
    case PoolerActivation::kGelu: activation_f32(Activation::kGeluErf, B * H, b.pooled, b.pooled); break;
  }
  return Status::Ok();
}

Status step_classifier(const Encoder&, const Step& s, const RunShape& r) {
  return s.linear->run(static_cast<size_t>(r.sequences), r.b->pooled, r.b->logits, r.pool);
}

// Token classification / QA: logits = Linear(x) on every packed row (modeling_*.py:
// *ForTokenClassification's classifier, *ForQuestionAnswering's qa_outputs, on the sequence output).
Status step_token_head(const Encoder&, const Step& s, const RunShape& r) {
  return s.linear->run(r.rows, r.b->hidden, r.b->token_logits, r.pool);
}

// The masked LM's transform on every packed row: LayerNorm(act(Linear(x))), as BERT's
// BertPredictionHeadTransform, RoBERTa's RobertaLMHead (dense, gelu, layer_norm), DistilBERT's
// vocab_transform / activation / vocab_layer_norm and ELECTRA's ElectraGeneratorPredictions
// (dense to embedding_size, gelu, LayerNorm) compute it.
Status step_mlm_transform(const Encoder& e, const Step& s, const RunShape& r) {
  const ActivationBuffers& b = *r.b;
  ENCORE_RETURN_IF_ERROR(s.linear->run(r.rows, b.hidden, b.mlm, r.pool));
  const size_t T = s.width;
  const Activation act = e.config->head_activation;
  const float eps = e.config->layer_norm_eps;
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) {
    activation_f32(act, (r1 - r0) * T, b.mlm + r0 * T, b.mlm + r0 * T);
    layer_norm_f32(r1 - r0, T, b.mlm + r0 * T, s.norm->gamma, s.norm->beta, eps, b.mlm + r0 * T);
  });
  return Status::Ok();
}

namespace {

// One sequence's pooled vector: the modes of `pooling` one after another, in
// sentence-transformers' order (Pooling.forward: cls, max, mean, mean_sqrt_len_tokens,
// weightedmean, lasttoken). x: its [seq, hidden] rows (zero after the last unmasked one); mask:
// its [seq] attention mask, null for all ones.
void pool_sequence(uint32_t pooling, const float* x, const int32_t* mask, size_t S, size_t H, float* out) {
  auto kept = [&](size_t p) { return !mask || mask[p] != 0; };
  if (pooling & kPoolCls) {  // the first token, masked or not
    for (size_t i = 0; i < H; ++i) out[i] = x[i];
    out += H;
  }
  if (pooling & kPoolMax) {  // masked positions are -1e9 before the max, as in Pooling.forward
    for (size_t i = 0; i < H; ++i) out[i] = -std::numeric_limits<float>::infinity();
    for (size_t p = 0; p < S; ++p) {
      const float* row = x + p * H;
      if (kept(p)) {
        for (size_t i = 0; i < H; ++i) out[i] = std::max(out[i], row[i]);
      } else {
        for (size_t i = 0; i < H; ++i) out[i] = std::max(out[i], -1e9f);
      }
    }
    out += H;
  }
  // Sums over the unmasked tokens; the divisors are clamped to 1e-9 (zero sums stay zero).
  const uint32_t sums = kPoolMean | kPoolMeanSqrtLen | kPoolWeightedMean;
  if (pooling & sums) {
    float count = 0.0f;
    for (size_t p = 0; p < S; ++p) count += kept(p) ? 1.0f : 0.0f;
    const float clamped = std::max(count, 1e-9f);
    for (uint32_t mode : {kPoolMean, kPoolMeanSqrtLen}) {
      if (!(pooling & mode)) continue;
      for (size_t i = 0; i < H; ++i) out[i] = 0.0f;
      for (size_t p = 0; p < S; ++p) {
        if (!kept(p)) continue;
        for (size_t i = 0; i < H; ++i) out[i] += x[p * H + i];
      }
      const float divisor = mode == kPoolMean ? clamped : std::sqrt(clamped);
      for (size_t i = 0; i < H; ++i) out[i] /= divisor;
      out += H;
    }
    if (pooling & kPoolWeightedMean) {  // weights 1..S by position, 0 where masked
      float total = 0.0f;
      for (size_t i = 0; i < H; ++i) out[i] = 0.0f;
      for (size_t p = 0; p < S; ++p) {
        if (!kept(p)) continue;
        const float w = static_cast<float>(p + 1);
        total += w;
        for (size_t i = 0; i < H; ++i) out[i] += x[p * H + i] * w;
      }
      const float divisor = std::max(total, 1e-9f);
      for (size_t i = 0; i < H; ++i) out[i] /= divisor;
      out += H;
    }
  }
  if (pooling & kPoolLastToken) {  // the last unmasked token; zeros when there is none
    size_t last = S;
    for (size_t p = S; p-- > 0;) {
      if (kept(p)) {
        last = p;
        break;
      }
    }
    for (size_t i = 0; i < H; ++i) out[i] = last < S ? x[last * H + i] : 0.0f;
  }
}

}  // namespace

// sentence-transformers' Pooling over the unpacked [batch, seq, hidden] rows and the run's
// attention mask, one sequence per job.
Status step_sentence_pooling(const Encoder& e, const Step& s, const RunShape& r) {
  const ActivationBuffers& b = *r.b;
  const size_t H = static_cast<size_t>(e.config->hidden_size), S = static_cast<size_t>(r.in->seq_len);
  const uint32_t pooling = e.config->sentence.pooling;
  float* out = static_cast<float*>(buffer_data(b, s.out));
  const int32_t* mask = r.in->attention_mask;
  parallel_for(r.pool, static_cast<size_t>(r.sequences), 1, [&](size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) {
      pool_sequence(pooling, b.hidden + q * S * H, mask ? mask + q * S : nullptr, S, H, out + q * s.width);
    }
  });
  return Status::Ok();
}

// logits = transform(x) E^T + bias, E the word embeddings (the tied decoder).
Status step_mlm_decoder(const Encoder&, const Step& s, const RunShape& r) {
  return s.linear->run(r.rows, r.b->mlm, r.b->token_logits, r.pool);
}

// A Dense module: activation(Linear(x)) on one row per sequence, f32.
Status step_sentence_dense(const Encoder& e, const Step& s, const RunShape& r) {
  const size_t B = static_cast<size_t>(r.sequences);
  float* y = static_cast<float*>(buffer_data(*r.b, s.out));
  ENCORE_RETURN_IF_ERROR(s.linear->run(B, buffer_data(*r.b, s.in), y, r.pool));
  const size_t index = static_cast<size_t>(s.linear - e.head.sentence_dense.data());
  if (e.config->sentence.dense[index].activation == DenseActivation::kTanh) tanh_f32(B * s.width, y, y);
  return Status::Ok();
}

// Normalize: each row divided by max(its L2 norm, 1e-12), as torch.nn.functional.normalize.
Status step_sentence_normalize(const Encoder&, const Step& s, const RunShape& r) {
  float* x = static_cast<float*>(buffer_data(*r.b, s.in));
  for (size_t q = 0; q < static_cast<size_t>(r.sequences); ++q) {
    float* row = x + q * s.width;
    double squares = 0.0;
    for (size_t i = 0; i < s.width; ++i) squares += double(row[i]) * row[i];
    const float norm = static_cast<float>(std::max(std::sqrt(squares), 1e-12));
    for (size_t i = 0; i < s.width; ++i) row[i] /= norm;
  }
  return Status::Ok();
}

// ---- ModernBERT ------------------------------------------------------------------------------

namespace {
const float* rope_cos(const Encoder& e, int layer) {
  return (e.config->layer_is_global(layer) ? e.rope_cos_global : e.rope_cos_local).data();
}
const float* rope_sin(const Encoder& e, int layer) {
  return (e.config->layer_is_global(layer) ? e.rope_sin_global : e.rope_sin_local).data();
}
}  // namespace

// Q and K columns of the fused QKV rows, each row at its position in its sequence.
Status step_rotary_f32(const Encoder& e, const Step& s, const RunShape& r) {
  const size_t A = static_cast<size_t>(e.weights->layers[static_cast<size_t>(s.layer)].attn_out.in);
  const size_t d = static_cast<size_t>(e.config->head_dim());
  float* qkv = static_cast<float*>(buffer_data(*r.b, s.in));
  const float* cos = rope_cos(e, s.layer);
  const float* sin = rope_sin(e, s.layer);
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) {
    rotary_f32(r1 - r0, 2 * A / d, d, qkv + r0 * 3 * A, 3 * A, r.b->positions + r0, cos, sin);
  });
  return Status::Ok();
}

Status step_rotary_qs8(const Encoder& e, const Step& s, const RunShape& r) {
  const size_t A = static_cast<size_t>(e.weights->layers[static_cast<size_t>(s.layer)].attn_out.in);
  const size_t d = static_cast<size_t>(e.config->head_dim());
  int8_t* qkv = static_cast<int8_t*>(buffer_data(*r.b, s.in));
  const float* cos = rope_cos(e, s.layer);
  const float* sin = rope_sin(e, s.layer);
  // Q and K have their own scales, so each is rotated on its own (the rotation is per head).
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) {
    rotary_qs8(r1 - r0, 2 * A / d, d, qkv + r0 * 3 * A, 3 * A, r.b->positions + r0, cos, sin);
  });
  return Status::Ok();
}

// x += y; then the next norm of x into the context buffer, or x = final_norm(x) in place.
Status step_pre_norm_f32(const Encoder& e, const Step& s, const RunShape& r) {
  const bool ffn = !e.ablation.ffn_bypassed[static_cast<size_t>(s.layer)];
  const ActivationBuffers& b = *r.b;
  const size_t H = static_cast<size_t>(e.config->hidden_size);
  const float* y = static_cast<const float*>(buffer_data(b, s.in));
  float* out = static_cast<float*>(buffer_data(b, s.out));
  const bool add = ffn || !s.residual_from_ffn;
  const float eps = e.config->layer_norm_eps;
  // After an f32 block of an int8 model: the next projection's int8 input as well.
  const bool quantize = s.quantize_next && (ffn || !s.next_is_ffn);
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) {
    if (add) add_f32((r1 - r0) * H, y + r0 * H, b.hidden + r0 * H);
    layer_norm_f32(r1 - r0, H, b.hidden + r0 * H, s.norm->gamma, s.norm->beta, eps, out + r0 * H);
    if (quantize) {
      quantize_f32_qs8((r1 - r0) * H, out + r0 * H, s.next_quant.scale, s.next_quant.zero_point, b.hidden_q + r0 * H);
    }
  });
  return Status::Ok();
}

// The int8 model's: x += dequantize(y); the next norm into the f32 context buffer and its int8
// codes into the next projection's input; or the final norm in place.
Status step_pre_norm_qs8(const Encoder& e, const Step& s, const RunShape& r) {
  const bool ffn = !e.ablation.ffn_bypassed[static_cast<size_t>(s.layer)];
  const ActivationBuffers& b = *r.b;
  const size_t H = static_cast<size_t>(e.config->hidden_size);
  const int8_t* y = static_cast<const int8_t*>(buffer_data(b, s.in));
  const bool add = ffn || !s.residual_from_ffn;
  const bool quantize = s.quantize_next && (ffn || !s.next_is_ffn);
  const bool in_place = s.out == Buffer::kHidden;
  const float eps = e.config->layer_norm_eps;
  const float scale = s.residual_quant.scale, zp = static_cast<float>(s.residual_quant.zero_point);
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) {
    float* x = b.hidden + r0 * H;
    const size_t n = (r1 - r0) * H;
    if (add && s.row_scaled) {  // the FFN-down output of a model with per-token scales, and its bias
      for (size_t row = r0; row < r1; ++row) {
        const int8_t* yr = y + row * H;
        float* xr = b.hidden + row * H;
        const float rs = b.row_scales[row] * scale;
        for (size_t i = 0; i < H; ++i) xr[i] += rs * (static_cast<float>(yr[i]) - zp) + s.bias[i];
      }
    } else if (add) {
      const int8_t* yr = y + r0 * H;
      for (size_t i = 0; i < n; ++i) x[i] += scale * (static_cast<float>(yr[i]) - zp);
    }
    float* normed = in_place ? x : b.context + r0 * H;
    if (!in_place) std::copy(x, x + n, normed);
    ResidualNormQs8 io;
    if (quantize) {
      io.q = b.hidden_q + r0 * H;
      io.q_scale = s.next_quant.scale;
      io.q_zero_point = s.next_quant.zero_point;
    }
    residual_layer_norm(r1 - r0, H, normed, s.norm->gamma, s.norm->beta, eps, io);
  });
  return Status::Ok();
}

Status step_geglu_f32(const Encoder& e, const Step& s, const RunShape& r) {
  const float* x = static_cast<const float*>(buffer_data(*r.b, s.in));
  float* y = static_cast<float*>(buffer_data(*r.b, s.out));
  const Activation act = e.config->activation;
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) {
    geglu_f32(act, r1 - r0, s.width, x + r0 * 2 * s.width, y + r0 * s.width);
  });
  return Status::Ok();
}

// Per-token scales: the product's codes and each row's scale (the residual step reads it).
Status step_geglu_rows_qs8(const Encoder& e, const Step& s, const RunShape& r) {
  const int8_t* x = static_cast<const int8_t*>(buffer_data(*r.b, s.in));
  int8_t* y = static_cast<int8_t*>(buffer_data(*r.b, s.out));
  const size_t l = static_cast<size_t>(s.layer);
  const int32_t x_zp = e.weights->layers[l].act[fmt::kFfnUpOutput].zero_point;
  const float* table = e.layers[l].geglu_table;
  float* row_scales = r.b->row_scales;
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) {
    geglu_rows_qs8(r1 - r0, s.width, x + r0 * 2 * s.width, x_zp, table, y + r0 * s.width, row_scales + r0);
  });
  return Status::Ok();
}

Status step_geglu_qs8(const Encoder& e, const Step& s, const RunShape& r) {
  const int8_t* x = static_cast<const int8_t*>(buffer_data(*r.b, s.in));
  int8_t* y = static_cast<int8_t*>(buffer_data(*r.b, s.out));
  const size_t l = static_cast<size_t>(s.layer);
  const auto& act = e.weights->layers[l].act;
  const int32_t x_zp = act[fmt::kFfnUpOutput].zero_point, y_zp = act[fmt::kFfnDownInput].zero_point;
  const float* table = e.layers[l].geglu_table;
  parallel_for(r.pool, r.rows, kRowTile, [&](size_t r0, size_t r1) {
    geglu_qs8(r1 - r0, s.width, x + r0 * 2 * s.width, x_zp, table, y_zp, y + r0 * s.width);
  });
  return Status::Ok();
}

// ModernBertForSequenceClassification on the unpacked [batch, seq] rows: the first token
// (classifier_pooling cls) or the mean over the attention mask's tokens (mean:
// (x * mask).sum(1) / mask.sum(1)), then dense, classifier_activation and LayerNorm.
Status step_pooled_head(const Encoder& e, const Step& s, const RunShape& r) {
  const EncoderConfig& c = *e.config;
  const ActivationBuffers& b = *r.b;
  const size_t H = static_cast<size_t>(c.hidden_size), S = static_cast<size_t>(r.in->seq_len);
  const size_t B = static_cast<size_t>(r.sequences);
  const int32_t* mask = r.in->attention_mask;
  for (size_t q = 0; q < B; ++q) {
    float* out = b.cls + q * H;
    const float* x = b.hidden + q * S * H;
    if (c.classifier_pooling == ClassifierPooling::kCls) {
      std::copy(x, x + H, out);
      continue;
    }
    std::fill(out, out + H, 0.0f);
    float count = 0.0f;
    for (size_t p = 0; p < S; ++p) {
      if (mask && mask[q * S + p] == 0) continue;
      count += 1.0f;
      for (size_t i = 0; i < H; ++i) out[i] += x[p * H + i];
    }
    for (size_t i = 0; i < H; ++i) out[i] /= count;
  }
  ENCORE_RETURN_IF_ERROR(s.linear->run(B, b.cls, b.pooled, r.pool));
  activation_f32(c.head_activation, B * H, b.pooled, b.pooled);
  layer_norm_f32(B, H, b.pooled, s.norm->gamma, s.norm->beta, c.layer_norm_eps, b.pooled);
  return Status::Ok();
}

// ModernBertForTokenClassification's classifier on the head's output (step_mlm_transform's).
Status step_token_head_transformed(const Encoder&, const Step& s, const RunShape& r) {
  return s.linear->run(r.rows, r.b->mlm, r.b->token_logits, r.pool);
}

}  // namespace encore::internal
