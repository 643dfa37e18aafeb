#include "encoder/plan.h"

#include <mutex>
#include <set>
#include <string>

#include "core/str.h"
#include "encoder/encoder.h"
#include "encoder/inputs.h"
#include "kernels/kernel_table.h"
#include "model/format.h"

namespace encore::internal {
namespace fmt = format;

namespace {

// The buffers of one dtype's layer: where each projection reads and writes.
struct LayerBuffers {
  Buffer hidden_in;  // QKV / FFN-up input: the stream (f32) or its int8 copy
  Buffer qkv, context, proj, ffn;
};
constexpr LayerBuffers kF32Buffers{Buffer::kHidden, Buffer::kQkvF32, Buffer::kContext, Buffer::kProjF32,
                                   Buffer::kFfnF32};
constexpr LayerBuffers kQs8Buffers{Buffer::kHiddenQ, Buffer::kQkvQ, Buffer::kHiddenQ, Buffer::kProjQ,
                                   Buffer::kFfnQ};

Observation observation(size_t point, Buffer buffer, uint64_t col_offset, uint64_t cols, uint64_t stride) {
  return Observation{static_cast<uint8_t>(point), buffer, static_cast<uint32_t>(col_offset),
                     static_cast<uint32_t>(cols), static_cast<uint32_t>(stride)};
}

// A projection y[rows, out] = x[rows, k] W^T + b: 2 operations per multiply-add; reads the
// weights once and each row's input, writes each row's output.
Step linear_step(int layer, ProfileStep profile, LinearOp* op, Buffer in, Buffer out, uint64_t n_out,
                 uint64_t k, uint64_t elem_bytes) {
  Step s;
  s.layer = layer;
  s.profile = profile;
  s.kernel = op->kernel_name();
  s.run = step_linear;
  s.linear = op;
  s.in = in;
  s.out = out;
  s.ops.per_row = 2 * n_out * k;
  s.bytes.fixed = n_out * k * elem_bytes;
  s.bytes.per_row = (k + n_out) * elem_bytes;
  return s;
}

// What the steps of one layer share: its operators, weights, widths and buffers.
struct LayerContext {
  const KernelTable* table;
  LayerOps* ops;
  const LayerWeights* lw;
  int layer;
  bool q8;
  const LayerBuffers* buf;
  uint64_t H, A, I;  // hidden, attention columns (kept heads x head_dim), FFN neurons
  uint64_t elem;     // bytes per weight and activation element of the projections
};

// A kernel name that lives as long as the process, as ProfileRecord::kernel promises: composed
// names are interned once (a few per CPU: one per kernel combination and head size).
const char* keep(std::string name) {
  static std::mutex mutex;
  static std::set<std::string> names;
  std::lock_guard<std::mutex> lock(mutex);
  return names.insert(std::move(name)).first->c_str();
}

// The context of one block of layer l: int8 in int8 models, unless the block is kept in f32.
LayerContext layer_context(Encoder& e, size_t l, bool block_f32) {
  const LayerWeights& lw = e.weights->layers[l];
  const bool q8 = e.weights->quantized && !block_f32;
  return LayerContext{&kernel_table(), &e.layers[l], &lw, static_cast<int>(l), q8, q8 ? &kQs8Buffers : &kF32Buffers,
                      static_cast<uint64_t>(e.config->hidden_size), static_cast<uint64_t>(lw.attn_out.in),
                      static_cast<uint64_t>(lw.ffn_up.out), q8 ? uint64_t{1} : uint64_t{4}};
}

// qkv = Linear(x); ctx = softmax(Q K^T / sqrt(d) + mask) V per head; Linear(ctx).
void add_attention_block(const EncoderConfig& c, const LayerContext& x, std::vector<Step>* steps) {
  const uint64_t H = x.H, A = x.A;
  Step qkv = linear_step(x.layer, ProfileStep::kQkvProjection, &x.ops->qkv, x.buf->hidden_in, x.buf->qkv, 3 * A, H,
                         x.elem);
  if (!x.q8) {
    qkv.observe[0] = observation(fmt::kQkvInput, Buffer::kHidden, 0, H, H);
    qkv.observe[1] = observation(fmt::kQOutput, Buffer::kQkvF32, 0, A, 3 * A);
    qkv.observe[2] = observation(fmt::kKOutput, Buffer::kQkvF32, A, A, 3 * A);
    qkv.observe[3] = observation(fmt::kVOutput, Buffer::kQkvF32, 2 * A, A, 3 * A);
    qkv.observe_before = 1;
    qkv.observe_after = 3;
  }
  steps->push_back(qkv);

  Step attention;
  attention.layer = x.layer;
  attention.profile = ProfileStep::kAttention;
  attention.kernel =
      keep(attention_kernel_name(*x.table, x.q8, static_cast<size_t>(c.head_dim())));
  attention.run = step_attention;
  attention.ops.per_score =
      static_cast<uint64_t>(c.heads_in_layer(x.layer)) * (4 * static_cast<uint64_t>(c.head_dim()) + 5);
  attention.bytes.per_row = A * (x.q8 ? 4 : 16);
  if (!x.q8) {
    attention.observe[0] = observation(fmt::kAttnOutInput, Buffer::kContext, 0, A, A);
    attention.observe_after = 1;
  }
  steps->push_back(attention);

  Step attn_out =
      linear_step(x.layer, ProfileStep::kOutputProjection, &x.ops->attn_out, x.buf->context, x.buf->proj, H, A, x.elem);
  if (!x.q8) {
    attn_out.observe[0] = observation(fmt::kAttnOutOutput, Buffer::kProjF32, 0, H, H);
    attn_out.observe_after = 1;
  }
  steps->push_back(attn_out);
}

// x = LN(x + y) for y the attention's or the FFN's output (int8 blocks: dequantized from its
// codes), x the block's context. In int8 models the LayerNorm output is also quantized for the
// next projection when that one is int8 (see below; `quantize_next` says whether).
Step residual_norm_step(const LayerContext& x, ProfileStep profile, const NormWeights* norm, bool from_ffn,
                        bool quantize_next) {
  Step s;
  s.layer = x.layer;
  s.profile = profile;
  s.run = x.q8 ? step_residual_norm_qs8 : step_residual_norm_f32;
  s.kernel = x.q8 ? x.table->residual_layer_norm_name
                  : keep(std::string("encore f32 add + layer norm ") + x.table->level +
                         (quantize_next ? " + int8 quantize" : ""));
  s.ops.per_row = (x.q8 ? 12 : 11) * x.H;
  s.bytes.per_row = (x.q8 ? 14 : 16) * x.H;
  s.norm = norm;
  s.in = x.buf->proj;
  s.residual = true;
  s.residual_from_ffn = from_ffn;
  if (x.q8) s.residual_quant = x.lw->act[from_ffn ? fmt::kFfnDownOutput : fmt::kAttnOutOutput];
  return s;
}

// Linear(act(Linear(x))); the activation is a table over int8 codes in int8 models.
void add_ffn_block(const EncoderConfig& c, const LayerContext& x, std::vector<Step>* steps) {
  const uint64_t H = x.H, I = x.I;
  Step ffn_up = linear_step(x.layer, ProfileStep::kFfnUp, &x.ops->ffn_up, x.buf->hidden_in, x.buf->ffn, I, H, x.elem);
  ffn_up.ffn = true;
  if (!x.q8) {
    ffn_up.observe[0] = observation(fmt::kFfnUpInput, Buffer::kHidden, 0, H, H);
    ffn_up.observe[1] = observation(fmt::kFfnUpOutput, Buffer::kFfnF32, 0, I, I);
    ffn_up.observe_before = 1;
    ffn_up.observe_after = 1;
  }
  steps->push_back(ffn_up);

  Step act;
  act.layer = x.layer;
  act.profile = ProfileStep::kActivation;
  act.ffn = true;
  act.in = x.buf->ffn;
  act.width = I;
  if (x.q8) {
    act.run = step_activation_lut_qs8;
    act.kernel = x.table->lut_name;
    act.ops.per_row = I;
    act.bytes.per_row = 2 * I;
  } else {
    act.run = step_activation_f32;
    act.kernel = c.activation == Activation::kRelu ? "encore relu f32" : "encore gelu f32";
    act.ops.per_row = 20 * I;
    act.bytes.per_row = 8 * I;
    act.observe[0] = observation(fmt::kFfnDownInput, Buffer::kFfnF32, 0, I, I);
    act.observe_after = 1;
  }
  steps->push_back(act);

  Step ffn_down = linear_step(x.layer, ProfileStep::kFfnDown, &x.ops->ffn_down, x.buf->ffn, x.buf->proj, H, I, x.elem);
  ffn_down.ffn = true;
  if (!x.q8) {
    ffn_down.observe[0] = observation(fmt::kFfnDownOutput, Buffer::kProjF32, 0, H, H);
    ffn_down.observe_after = 1;
  }
  steps->push_back(ffn_down);
}

// The post-LayerNorm layer of the BERT family:
//   x = LN(x + attention block(x)); x = LN(x + FFN block(x))
// In int8 models each norm also writes the next projection's int8 input: the FFN's, then the
// next layer's QKV (none after the last layer).
// An int8 model's blocks kept in f32 (LayerWeights::attention_f32 / ffn_f32) read the f32
// stream and write f32 outputs; their norms then add an f32 residual, and a norm quantizes its
// output only for an int8 block after it.
void add_post_norm_layer(Encoder& e, size_t l, Plan* plan) {
  std::vector<Step>* steps = &plan->steps;
  const LayerWeights& lw = e.weights->layers[l];
  const LayerContext xa = layer_context(e, l, lw.attention_f32), xf = layer_context(e, l, lw.ffn_f32);
  add_attention_block(*e.config, xa, steps);
  Step attn_norm = residual_norm_step(xa, ProfileStep::kAttnResidualNorm, &lw.attn_norm, false, xf.q8);
  if (xf.q8) {
    attn_norm.quantize_next = true;
    attn_norm.next_is_ffn = true;
    attn_norm.next_quant = lw.act[fmt::kFfnUpInput];
  }
  steps->push_back(attn_norm);
  add_ffn_block(*e.config, xf, steps);
  const bool next_q8 = l + 1 < e.weights->layers.size() && e.weights->quantized &&
                       !e.weights->layers[l + 1].attention_f32;
  Step ffn_norm = residual_norm_step(xf, ProfileStep::kFfnResidualNorm, &lw.ffn_norm, true, next_q8);
  if (next_q8) {
    ffn_norm.quantize_next = true;
    ffn_norm.next_quant = e.weights->layers[l + 1].act[fmt::kQkvInput];
  }
  steps->push_back(ffn_norm);
}

// ---- ModernBERT: the pre-LayerNorm layer -------------------------------------------------------
//   h = attn_norm(x) (layer 0: x itself) ; qkv = Wqkv(h) ; rotary on Q, K ; attention (local or
//   global) ; x += Wo(ctx) ; h = mlp_norm(x) ; x += Wo(act(input) * gate), [input | gate] = Wi(h)
// The norm of each sublayer is applied by the step that ends the sublayer before it (the
// residual add), into the context buffer (f32 models; int8 models also quantize it there for
// the next projection); the stream itself stays un-normalized. The last layer's last step
// applies final_norm to the stream in place.

// x += y (the sublayer's output), then the next norm: into the context buffer (and its int8
// copy when the projection after it is int8), or in place when it is the final norm. The
// block before it decides the residual's dtype (int8 codes or f32), the block after it whether
// the norm is also quantized (an int8 model's blocks kept in f32 read the f32 context).
Step pre_norm_step(const LayerContext& x, ProfileStep profile, const NormWeights* norm, bool from_ffn, bool last,
                   bool quantize_next) {
  Step s = residual_norm_step(x, profile, norm, from_ffn, false);  // its kernel name is set below
  s.run = x.q8 ? step_pre_norm_qs8 : step_pre_norm_f32;
  s.kernel = x.q8 ? keep(std::string("encore add + f32 layer norm") + (quantize_next ? " + quantize " : " ") +
                         x.table->level)
                  : keep(std::string("encore f32 add + layer norm ") + x.table->level +
                         (quantize_next ? " + int8 quantize" : ""));
  s.out = last ? Buffer::kHidden : Buffer::kContext;
  return s;
}

void add_modernbert_attention(const EncoderConfig& c, const LayerContext& x, std::vector<Step>* steps) {
  const uint64_t H = x.H, A = x.A;
  const Buffer in = x.q8 ? Buffer::kHiddenQ : (x.layer == 0 ? Buffer::kHidden : Buffer::kContext);
  Step qkv = linear_step(x.layer, ProfileStep::kQkvProjection, &x.ops->qkv, in, x.buf->qkv, 3 * A, H, x.elem);
  if (!x.q8) {
    // Q and K are observed before and after the rotation: their int8 scale must cover both.
    qkv.observe[0] = observation(fmt::kQkvInput, in, 0, H, H);
    qkv.observe[1] = observation(fmt::kQOutput, Buffer::kQkvF32, 0, A, 3 * A);
    qkv.observe[2] = observation(fmt::kKOutput, Buffer::kQkvF32, A, A, 3 * A);
    qkv.observe[3] = observation(fmt::kVOutput, Buffer::kQkvF32, 2 * A, A, 3 * A);
    qkv.observe_before = 1;
    qkv.observe_after = 3;
  }
  steps->push_back(qkv);

  Step rotary;
  rotary.layer = x.layer;
  rotary.profile = ProfileStep::kRotary;
  rotary.kernel = x.q8 ? "encore rotary qs8" : "encore rotary f32";
  rotary.run = x.q8 ? step_rotary_qs8 : step_rotary_f32;
  rotary.in = x.buf->qkv;
  rotary.ops.per_row = 6 * A;
  rotary.bytes.per_row = 2 * 2 * A * x.elem + 4 * A;
  if (!x.q8) {
    rotary.observe[0] = observation(fmt::kQOutput, Buffer::kQkvF32, 0, A, 3 * A);
    rotary.observe[1] = observation(fmt::kKOutput, Buffer::kQkvF32, A, A, 3 * A);
    rotary.observe_after = 2;
  }
  steps->push_back(rotary);

  const bool global = c.layer_is_global(x.layer);
  Step attention;
  attention.layer = x.layer;
  attention.profile = global ? ProfileStep::kAttention : ProfileStep::kLocalAttention;
  attention.kernel = keep(attention_kernel_name(*x.table, x.q8, static_cast<size_t>(c.head_dim())) +
                          (global ? "" : cat(", window ", c.local_attention)));
  attention.run = step_attention;
  const uint64_t per_pair = static_cast<uint64_t>(c.heads_in_layer(x.layer)) * (4 * static_cast<uint64_t>(c.head_dim()) + 5);
  if (global) {
    attention.ops.per_score = per_pair;
  } else {  // about local_attention + 1 keys per query (fewer at the ends, more per tile)
    attention.ops.per_row = per_pair * (static_cast<uint64_t>(c.local_attention) + 1);
  }
  attention.bytes.per_row = A * (x.q8 ? 4 : 16);
  if (!x.q8) {
    attention.observe[0] = observation(fmt::kAttnOutInput, Buffer::kContext, 0, A, A);
    attention.observe_after = 1;
  }
  steps->push_back(attention);

  Step attn_out =
      linear_step(x.layer, ProfileStep::kOutputProjection, &x.ops->attn_out, x.buf->context, x.buf->proj, H, A, x.elem);
  if (!x.q8) {
    attn_out.observe[0] = observation(fmt::kAttnOutOutput, Buffer::kProjF32, 0, H, H);
    attn_out.observe_after = 1;
  }
  steps->push_back(attn_out);
}

void add_modernbert_ffn(const EncoderConfig& c, const LayerContext& x, bool row_scales, std::vector<Step>* steps) {
  const uint64_t H = x.H, I = x.I / 2;  // x.I is Wi's width, both halves
  const Buffer in = x.q8 ? Buffer::kHiddenQ : Buffer::kContext;
  const Buffer gated = x.q8 ? Buffer::kHiddenQ : Buffer::kQkvF32;
  Step ffn_up = linear_step(x.layer, ProfileStep::kFfnUp, &x.ops->ffn_up, in, x.buf->ffn, 2 * I, H, x.elem);
  ffn_up.ffn = true;
  if (!x.q8) {
    ffn_up.observe[0] = observation(fmt::kFfnUpInput, Buffer::kContext, 0, H, H);
    ffn_up.observe[1] = observation(fmt::kFfnUpOutput, Buffer::kFfnF32, 0, 2 * I, 2 * I);
    ffn_up.observe_before = 1;
    ffn_up.observe_after = 1;
  }
  steps->push_back(ffn_up);

  Step act;
  act.layer = x.layer;
  act.profile = ProfileStep::kActivation;
  act.ffn = true;
  act.in = x.buf->ffn;
  act.out = gated;
  act.width = I;
  if (x.q8 && row_scales) {  // the products, the row's largest, then its codes
    act.run = step_geglu_rows_qs8;
    act.kernel = "encore qs8 geglu table + per-token quantize";
    act.ops.per_row = 6 * I;
    act.bytes.per_row = 5 * I;
  } else if (x.q8) {
    act.run = step_geglu_qs8;
    act.kernel = "encore qs8 geglu table + requantize";
    act.ops.per_row = 3 * I;
    act.bytes.per_row = 3 * I;
  } else {
    act.run = step_geglu_f32;
    act.kernel = c.activation == Activation::kRelu ? "encore relu-glu f32" : "encore geglu f32";
    act.ops.per_row = 21 * I;
    act.bytes.per_row = 12 * I;
    act.observe[0] = observation(fmt::kFfnDownInput, gated, 0, I, I);
    act.observe_after = 1;
  }
  steps->push_back(act);

  Step ffn_down = linear_step(x.layer, ProfileStep::kFfnDown, &x.ops->ffn_down, gated, x.buf->proj, H, I, x.elem);
  ffn_down.ffn = true;
  if (!x.q8) {
    ffn_down.observe[0] = observation(fmt::kFfnDownOutput, Buffer::kProjF32, 0, H, H);
    ffn_down.observe_after = 1;
  }
  steps->push_back(ffn_down);
}

// An int8 model's blocks kept in f32 (the quality gate's LayerWeights::attention_f32 /
// ffn_f32) run the f32 steps on the f32 context the norm before them writes (layer 0's
// attention: the stream itself); the norm after them adds their f32 output.
void add_pre_norm_layer(Encoder& e, size_t l, Plan* plan) {
  std::vector<Step>* steps = &plan->steps;
  const LayerWeights& lw = e.weights->layers[l];
  const LayerContext xa = layer_context(e, l, lw.attention_f32), xf = layer_context(e, l, lw.ffn_f32);
  const bool last = l + 1 == e.weights->layers.size();
  add_modernbert_attention(*e.config, xa, steps);
  Step attn_add = pre_norm_step(xa, ProfileStep::kAttnResidualNorm, &lw.ffn_norm, false, false, xf.q8);
  if (xf.q8) {
    attn_add.quantize_next = true;
    attn_add.next_is_ffn = true;
    attn_add.next_quant = lw.act[fmt::kFfnUpInput];
  }
  steps->push_back(attn_add);
  add_modernbert_ffn(*e.config, xf, e.weights->ffn_down_row_scales, steps);
  const bool next_q8 = !last && e.weights->quantized && !e.weights->layers[l + 1].attention_f32;
  Step ffn_add = pre_norm_step(xf, ProfileStep::kFfnResidualNorm,
                               last ? &e.weights->final_norm : &e.weights->layers[l + 1].attn_norm, true, last,
                               next_q8);
  if (xf.q8 && e.weights->ffn_down_row_scales) {
    ffn_add.row_scaled = true;
    ffn_add.bias = lw.ffn_down.bias_f32;
  }
  if (next_q8) {
    ffn_add.quantize_next = true;
    ffn_add.next_quant = e.weights->layers[l + 1].act[fmt::kQkvInput];
  }
  steps->push_back(ffn_add);
}

// ModernBERT's heads (ModernBertPredictionHead = dense, classifier_activation, LayerNorm):
// the sequence classifier pools (cls / mean) and runs the head on one row per sequence, the
// token classifier runs it on every packed row (as the fill-mask transform) before its
// classifier.
void add_modernbert_token_head(Encoder& e, std::vector<Step>* steps) {
  const EncoderConfig& c = *e.config;
  if (c.head != HeadKind::kTokenClassification) return;
  const uint64_t H = static_cast<uint64_t>(c.hidden_size), W = static_cast<uint64_t>(c.token_logit_width());
  Step transform = linear_step(-1, ProfileStep::kClassifier, &e.head.mlm_transform, Buffer::kHidden, Buffer::kHidden,
                               H, H, 4);
  transform.run = step_mlm_transform;
  transform.kernel = keep(std::string(transform.kernel) + " + activation + layer norm");
  transform.width = H;
  transform.norm = &e.weights->head_norm;
  transform.ops.per_row += 30 * H;
  steps->push_back(transform);
  Step head = linear_step(-1, ProfileStep::kClassifier, &e.head.token_head, Buffer::kHidden, Buffer::kHidden, W, H, 4);
  head.run = step_token_head_transformed;
  steps->push_back(head);
}

void add_modernbert_pooled_head(Encoder& e, std::vector<Step>* steps) {
  const EncoderConfig& c = *e.config;
  if (!c.has_classifier()) return;
  const uint64_t H = static_cast<uint64_t>(c.hidden_size), L = c.labels.size();
  Step pooler;
  pooler.profile = ProfileStep::kPooler;
  pooler.kernel = c.classifier_pooling == ClassifierPooling::kMean
                      ? "encore f32 masked mean + xnnpack f32 fully-connected + activation + layer norm"
                      : "xnnpack f32 fully-connected + activation + layer norm";
  pooler.run = step_pooled_head;
  pooler.linear = &e.head.pooler;
  pooler.norm = &e.weights->head_norm;
  pooler.ops.per_sequence = 2 * H * H + 30 * H;
  pooler.ops.per_row = c.classifier_pooling == ClassifierPooling::kMean ? H : 0;
  pooler.bytes.fixed = H * H * 4;
  pooler.bytes.per_sequence = 12 * H;
  steps->push_back(pooler);
  Step classifier;
  classifier.profile = ProfileStep::kClassifier;
  classifier.kernel = "xnnpack f32 fully-connected";
  classifier.run = step_classifier;
  classifier.linear = &e.head.classifier;
  classifier.ops.per_sequence = 2 * L * H;
  classifier.bytes.fixed = L * H * 4;
  classifier.bytes.per_sequence = 4 * (H + L);
  steps->push_back(classifier);
}

// The embeddings of every family: lookups, their sum and LayerNorm; ELECTRA's also the f32
// projection to the hidden width.
Step embeddings_step(Encoder& e) {
  const ModelWeights& w = *e.weights;
  const uint64_t H = static_cast<uint64_t>(e.config->hidden_size);
  const uint64_t E = static_cast<uint64_t>(e.config->embedding_width());
  Step s;
  s.profile = ProfileStep::kEmbeddings;
  std::string kernel = std::string("encore embeddings + ") + kernel_table().residual_layer_norm_name;
  s.run = step_embeddings;
  s.ops.per_row = 12 * E;
  s.bytes.per_row = 16 * E;
  if (E != H) {
    s.linear = &e.head.embed_project;
    kernel += std::string(" + ") + s.linear->kernel_name() + " projection";
    s.ops.per_row += 2 * E * H;
    s.bytes.fixed += E * H * 4;
    s.bytes.per_row += 4 * (E + H);
  }
  s.kernel = keep(kernel);
  s.norm = &w.embed_norm;
  if (w.quantized && !w.layers.empty() && !w.layers[0].attention_f32) {
    s.quantize_next = true;
    s.next_quant = w.layers[0].act[fmt::kQkvInput];
  }
  return s;
}

// The head: a dense layer + activation on the first token (BERT's pooler; RoBERTa's, ELECTRA's
// and DistilBERT's classification heads), and the classifier on it.
void add_head(Encoder& e, std::vector<Step>* steps) {
  const EncoderConfig& c = *e.config;
  const uint64_t H = static_cast<uint64_t>(c.hidden_size);
  if (!c.has_pooler) return;
  Step pooler;
  pooler.profile = ProfileStep::kPooler;
  static const char* const kPoolerKernel[] = {"xnnpack f32 fully-connected + tanh",
                                              "xnnpack f32 fully-connected + relu",
                                              "xnnpack f32 fully-connected + gelu"};
  pooler.kernel = kPoolerKernel[static_cast<int>(c.pooler_activation)];
  pooler.run = step_pooler;
  pooler.linear = &e.head.pooler;
  pooler.ops.per_sequence = 2 * H * H + 20 * H;
  pooler.bytes.fixed = H * H * 4;
  pooler.bytes.per_sequence = 12 * H;
  steps->push_back(pooler);
  if (!c.has_classifier()) return;
  const uint64_t L = c.labels.size();
  Step classifier;
  classifier.profile = ProfileStep::kClassifier;
  classifier.kernel = "xnnpack f32 fully-connected";
  classifier.run = step_classifier;
  classifier.linear = &e.head.classifier;
  classifier.ops.per_sequence = 2 * L * H;
  classifier.bytes.fixed = L * H * 4;
  classifier.bytes.per_sequence = 4 * (H + L);
  steps->push_back(classifier);
}

// The per-token heads, on the packed rows (f32 in every model): one linear layer for token
// classification and QA; the masked LM's transform (linear, activation, LayerNorm) and decoder.
void add_token_head(Encoder& e, std::vector<Step>* steps) {
  const EncoderConfig& c = *e.config;
  const uint64_t H = static_cast<uint64_t>(c.hidden_size), W = static_cast<uint64_t>(c.token_logit_width());
  if (c.head == HeadKind::kTokenClassification || c.head == HeadKind::kQuestionAnswering) {
    Step head = linear_step(-1, ProfileStep::kClassifier, &e.head.token_head, Buffer::kHidden, Buffer::kHidden, W, H, 4);
    head.run = step_token_head;
    steps->push_back(head);
    return;
  }
  if (c.head != HeadKind::kMaskedLm) return;
  const uint64_t T = static_cast<uint64_t>(c.mlm_width());
  Step transform = linear_step(-1, ProfileStep::kClassifier, &e.head.mlm_transform, Buffer::kHidden, Buffer::kHidden,
                               T, H, 4);
  transform.run = step_mlm_transform;
  transform.kernel = keep(std::string(transform.kernel) + " + activation + layer norm");
  transform.width = T;
  transform.norm = &e.weights->mlm_norm;
  transform.ops.per_row += 30 * T;
  steps->push_back(transform);
  Step decoder = linear_step(-1, ProfileStep::kClassifier, &e.head.mlm_decoder, Buffer::kHidden, Buffer::kHidden, W,
                             T, 4);
  decoder.run = step_mlm_decoder;
  steps->push_back(decoder);
}

// sentence-transformers modules on the unpacked last hidden state (EncoderConfig::sentence):
// pooling over the attention mask into a [batch, pooled width] vector, each Dense module (f32
// linear layer + Identity or Tanh) from one buffer into the other, Normalize in place.
void add_sentence_steps(Encoder& e, Plan* plan) {
  const EncoderConfig& c = *e.config;
  if (!c.has_sentence_embedding()) return;
  const SentenceEmbeddingConfig& st = c.sentence;
  const uint64_t H = static_cast<uint64_t>(c.hidden_size);
  uint64_t width = static_cast<uint64_t>(st.pooled_width(c.hidden_size));
  Step pooling;
  pooling.profile = ProfileStep::kSentencePooling;
  pooling.kernel = "encore f32 masked pooling";
  pooling.run = step_sentence_pooling;
  pooling.out = Buffer::kSentenceA;
  pooling.width = width;
  pooling.ops.per_row = 2 * width;  // over the packed real tokens, a multiply-add per column and mode
  pooling.bytes.per_row = 4 * H;
  pooling.bytes.per_sequence = 4 * width;
  plan->steps.push_back(pooling);
  Buffer at = Buffer::kSentenceA;
  for (size_t i = 0; i < st.dense.size(); ++i) {
    const SentenceDense& d = st.dense[i];
    const uint64_t out = static_cast<uint64_t>(d.out_features);
    Step dense;
    dense.profile = ProfileStep::kSentenceDense;
    dense.kernel = d.activation == DenseActivation::kTanh ? "xnnpack f32 fully-connected + tanh"
                                                          : "xnnpack f32 fully-connected";
    dense.run = step_sentence_dense;
    dense.linear = &e.head.sentence_dense[i];
    dense.in = at;
    dense.out = at == Buffer::kSentenceA ? Buffer::kSentenceB : Buffer::kSentenceA;
    dense.width = out;
    dense.ops.per_sequence = 2 * out * width + (d.activation == DenseActivation::kTanh ? 20 * out : 0);
    dense.bytes.fixed = out * width * 4;
    dense.bytes.per_sequence = 4 * (width + out);
    plan->steps.push_back(dense);
    at = dense.out;
    width = out;
  }
  if (st.normalize) {
    Step normalize;
    normalize.profile = ProfileStep::kSentenceNormalize;
    normalize.kernel = "encore f32 l2 normalize";
    normalize.run = step_sentence_normalize;
    normalize.in = at;
    normalize.width = width;
    normalize.ops.per_sequence = 3 * width;
    normalize.bytes.per_sequence = 8 * width;
    plan->steps.push_back(normalize);
  }
  plan->sentence_output = at;
}

// "layer 3 attn_out", "pooler": the context of a step's errors.
std::string step_label(const Step& s) {
  if (s.layer < 0) return profile_step_name(s.profile);
  return cat("layer ", s.layer, " ", profile_step_name(s.profile));
}

void observe(const Encoder& e, const Step& s, const RunShape& r, size_t first, size_t count) {
  for (size_t i = first; i < first + count; ++i) {
    const Observation& o = s.observe[i];
    const float* data = static_cast<const float*>(buffer_data(*r.b, o.buffer)) + o.col_offset;
    e.options.observer->observe(e.observe_names[static_cast<size_t>(s.layer) * fmt::kActivationPointCount + o.point],
                                data, r.rows, o.cols, o.stride);
  }
}

// Runs steps [first, last): every step profiled, observed and named in its errors here.
Status run_steps(Encoder& e, size_t first, size_t last, const RunShape& r) {
  const bool observing = e.options.observer != nullptr;
  for (size_t i = first; i < last; ++i) {
    const Step& s = e.plan.steps[i];
    if (s.ffn && e.ablation.ffn_bypassed[static_cast<size_t>(s.layer)]) continue;
    if (observing) observe(e, s, r, 0, s.observe_before);
    Status st;
    {
      auto t = e.profiler.step(s.layer, s.profile, s.kernel, s.ops.at(r), s.bytes.at(r));
      st = s.run(e, s, r);
    }
    if (!st.ok()) return st.with_context(step_label(s));
    if (observing) observe(e, s, r, s.observe_before, s.observe_after);
  }
  return Status::Ok();
}

}  // namespace

// Every family but ModernBERT is a post-LayerNorm encoder; they differ in the embeddings step
// and the head's activation, which read the config. ModernBERT has its own layer and heads.
Status build_plan(Encoder& e, Plan* plan) {
  plan->family = e.config->family;
  plan->steps.clear();
  plan->steps.push_back(embeddings_step(e));
  if (e.config->is_modernbert()) {
    for (size_t l = 0; l < e.weights->layers.size(); ++l) add_pre_norm_layer(e, l, plan);
    if (e.config->head == HeadKind::kMaskedLm) add_token_head(e, &plan->steps);
    add_modernbert_token_head(e, &plan->steps);
    plan->head_begin = plan->steps.size();
    add_modernbert_pooled_head(e, &plan->steps);
    add_sentence_steps(e, plan);
    return Status::Ok();
  }
  for (size_t l = 0; l < e.weights->layers.size(); ++l) add_post_norm_layer(e, l, plan);
  add_token_head(e, &plan->steps);
  plan->head_begin = plan->steps.size();
  add_head(e, &plan->steps);
  add_sentence_steps(e, plan);
  return Status::Ok();
}

Status run_plan(Encoder& e, const Inputs& in) {
  const ActivationBuffers& b = e.arena.buffers();
  RunShape r;
  r.in = &in;
  r.b = &b;
  r.rows = pack_rows(in, b);
  r.scores = packed_score_count(in, b);
  r.sequences = static_cast<uint64_t>(in.batch);
  r.pool = e.threads();
  e.profiler.begin_run();
  ENCORE_RETURN_IF_ERROR(run_steps(e, 0, e.plan.head_begin, r));
  const uint64_t H = static_cast<uint64_t>(e.config->hidden_size);
  if (r.rows < r.sequences * static_cast<uint64_t>(in.seq_len)) {
    unpack_hidden(in, H, b);
    if (b.token_logits) unpack_rows(in, static_cast<size_t>(e.config->token_logit_width()), b.token_logits, b);
  }
  return run_steps(e, e.plan.head_begin, e.plan.steps.size(), r);
}

}  // namespace encore::internal
