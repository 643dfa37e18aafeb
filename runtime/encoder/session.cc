// The encoder forward pass.
//
// The residual stream stays f32 in every model. In an int8 model each linear layer reads an
// int8 copy of its input (quantized with the calibrated scale of that point) and writes int8
// requantized output; the attention core, LayerNorm and residual adds work in f32; the FFN
// activation maps int8 to int8 through a 256-entry table, which is exact for int8 codes.
//
//   x = LN(word[id] + position[s] + token_type[t])
//   per layer:  qkv = Linear(x) ; ctx = softmax(QK^T/sqrt(d) + mask) V per head
//               x = LN(x + Linear(ctx)) ; x = LN(x + Linear(act(Linear(x))))
//   pooler = tanh(Linear(x[:, 0])) ; logits = Linear(pooler)
//
// No work on padding: the rows of a batch are packed to each sequence's tokens up to its last
// unmasked one, so the linear layers, LayerNorm and activations run on real tokens only and
// attention runs per sequence on its own length; the final rows are put back in place.
// Layers may differ in width (a pruned model): layer l has A_l = heads_l x head_dim attention
// columns (its QKV rows are 3 A_l wide, its context A_l) and I_l FFN neurons.
// Ablation switches (set_head_masked, set_ffn_bypassed) are read per (sequence, head) job and
// per layer: a masked head's context columns are written as zeros and its work skipped; a
// bypassed FFN contributes zero to the residual and is not computed.
#include "encore/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/str.h"
#include "encoder/activation_arena.h"
#include "encoder/parallel.h"
#include "encoder/step_profiler.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/layer_norm.h"
#include "model/model_weights.h"
#include "xnnpack/xnn_linear.h"

namespace encore {

using internal::ActivationQuant;
using internal::LinearOp;
using internal::parallel_for;
using internal::parallel_tasks;
namespace fmt = format;

namespace {
struct LayerOps {
  LinearOp qkv, attn_out, ffn_up, ffn_down;
  int8_t activation_lut[256];
};

struct PoolDeleter {
  void operator()(pthreadpool_t p) const {
    if (p) pthreadpool_destroy(p);
  }
};
}  // namespace

struct Session::Impl {
  std::shared_ptr<const Model> model;
  SessionOptions options;
  std::unique_ptr<std::remove_pointer_t<pthreadpool_t>, PoolDeleter> pool;
  size_t scratch_slots = 1;
  std::vector<LayerOps> layers;
  LinearOp pooler, classifier;
  internal::ActivationArena arena;
  // Observer names, built once (only when an observer is set).
  std::vector<std::string> observe_names;
  internal::StepProfiler profiler;
  // Ablation state, sized at creation: head_masked[head_offset[l] + h], ffn_bypassed[l].
  std::vector<uint8_t> head_masked, ffn_bypassed;
  std::vector<size_t> head_offset;
  // Attention probabilities of the last run (SessionOptions::attention_probabilities).
  int64_t last_batch = 0, last_seq = 0;

  pthreadpool_t threads() const { return pool.get(); }
  Status forward(const Inputs& in);
  size_t pack_rows(const Inputs& in, const internal::ActivationBuffers& b) const;
  void unpack_hidden(const Inputs& in, const internal::ActivationBuffers& b) const;
  void embed(const Inputs& in, size_t rows, const internal::ActivationBuffers& b);
  void attention(size_t layer, const Inputs& in, const internal::ActivationBuffers& b);
  // Start of layer `layer`'s probabilities for a run of (batch, seq), or null when not kept.
  float* attention_probs(size_t layer, int64_t batch, int64_t seq) const {
    float* base = arena.buffers().attention_probs;
    if (!base) return nullptr;
    return base + head_offset[layer] * static_cast<size_t>(batch * seq * seq);
  }
  void layer_norm(size_t rows, float* x, const internal::NormWeights& n);
  // residual_layer_norm's quantized output for the int8 model: layer `layer`'s input `point`
  // into q (none for the float model or past the last layer).
  ResidualNormQs8 quantized_for(size_t layer, size_t point, int8_t* q) const {
    ResidualNormQs8 io;
    const auto& w = model->weights();
    if (!w.quantized || layer >= w.layers.size()) return io;
    io.q = q;
    io.q_scale = w.layers[layer].act[point].scale;
    io.q_zero_point = w.layers[layer].act[point].zero_point;
    return io;
  }
  void observe(size_t layer, size_t point, const float* data, size_t rows, size_t cols, size_t stride) {
    if (!options.observer) return;
    options.observer->observe(observe_names[layer * fmt::kActivationPointCount + point], data, rows, cols, stride);
  }
};

namespace {
Status create_layer_ops(const internal::LayerWeights& w, const EncoderConfig& c, bool quantized, size_t l,
                        const Qs8GemmKernel* own_gemm, LayerOps* ops) {
  static const char* kWhat[] = {"qkv", "attn_out", "ffn_up", "ffn_down"};
  (void)l;
  if (!quantized) {
    ENCORE_ASSIGN_OR_RETURN(ops->qkv, LinearOp::create_f32(w.qkv.out, w.qkv.in, w.qkv.weight_f32, w.qkv.bias_f32, kWhat[0]));
    ENCORE_ASSIGN_OR_RETURN(ops->attn_out, LinearOp::create_f32(w.attn_out.out, w.attn_out.in, w.attn_out.weight_f32,
                                                                w.attn_out.bias_f32, kWhat[1]));
    ENCORE_ASSIGN_OR_RETURN(ops->ffn_up, LinearOp::create_f32(w.ffn_up.out, w.ffn_up.in, w.ffn_up.weight_f32,
                                                              w.ffn_up.bias_f32, kWhat[2]));
    ENCORE_ASSIGN_OR_RETURN(ops->ffn_down, LinearOp::create_f32(w.ffn_down.out, w.ffn_down.in, w.ffn_down.weight_f32,
                                                                w.ffn_down.bias_f32, kWhat[3]));
    return Status::Ok();
  }
  const size_t H = static_cast<size_t>(c.hidden_size), I = static_cast<size_t>(w.ffn_up.out);
  const size_t A = static_cast<size_t>(w.attn_out.in);  // kept heads x head_dim
  const auto& a = w.act;
  std::vector<float> scales(3 * A);
  for (size_t i = 0; i < A; ++i) {
    scales[i] = a[fmt::kQOutput].scale;
    scales[A + i] = a[fmt::kKOutput].scale;
    scales[2 * A + i] = a[fmt::kVOutput].scale;
  }
  ENCORE_ASSIGN_OR_RETURN(ops->qkv, LinearOp::create_qc8(w.qkv, a[fmt::kQkvInput], scales.data(), 0, kWhat[0], own_gemm));
  auto uniform = [&](size_t n, ActivationQuant q) { return std::vector<float>(n, q.scale); };
  auto s1 = uniform(H, a[fmt::kAttnOutOutput]);
  ENCORE_ASSIGN_OR_RETURN(ops->attn_out, LinearOp::create_qc8(w.attn_out, a[fmt::kAttnOutInput], s1.data(),
                                                              a[fmt::kAttnOutOutput].zero_point, kWhat[1], own_gemm));
  auto s2 = uniform(I, a[fmt::kFfnUpOutput]);
  ENCORE_ASSIGN_OR_RETURN(ops->ffn_up, LinearOp::create_qc8(w.ffn_up, a[fmt::kFfnUpInput], s2.data(),
                                                            a[fmt::kFfnUpOutput].zero_point, kWhat[2], own_gemm));
  auto s3 = uniform(H, a[fmt::kFfnDownOutput]);
  ENCORE_ASSIGN_OR_RETURN(ops->ffn_down, LinearOp::create_qc8(w.ffn_down, a[fmt::kFfnDownInput], s3.data(),
                                                              a[fmt::kFfnDownOutput].zero_point, kWhat[3], own_gemm));
  make_activation_lut_qs8(c.activation, a[fmt::kFfnUpOutput].scale, a[fmt::kFfnUpOutput].zero_point,
                          a[fmt::kFfnDownInput].scale, a[fmt::kFfnDownInput].zero_point, ops->activation_lut);
  return Status::Ok();
}
}  // namespace

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, const SessionOptions& options) {
  if (!model) return invalid_argument("Session::create: model is null");
  if (options.threads < 1 || options.threads > 1024) {
    return invalid_argument(cat("threads = ", options.threads, " must be in [1, 1024]"));
  }
  if (options.observer && model->is_quantized()) {
    return invalid_argument("an activation observer needs an f32 model (it observes float activations)");
  }
  ENCORE_RETURN_IF_ERROR(internal::xnnpack_initialize());
  auto impl = std::make_unique<Impl>();
  impl->model = model;
  impl->options = options;
  if (options.threads > 1) {
    impl->pool.reset(pthreadpool_create(static_cast<size_t>(options.threads)));
    if (!impl->pool) return resource_exhausted(cat("cannot create a pool of ", options.threads, " threads"));
  }
  impl->scratch_slots = static_cast<size_t>(options.threads);
  const auto& c = model->config();
  const auto& w = model->weights();
  // The int8 GEMM: see Int8Gemm for the auto choice.
  const Qs8GemmKernel best = qs8_gemm_best_kernel();
  const bool own = options.int8_gemm == Int8Gemm::kOwn ||
                   (options.int8_gemm == Int8Gemm::kAuto && qs8_gemm_beats_xnnpack(best));
  impl->layers.resize(w.layers.size());
  for (size_t l = 0; l < w.layers.size(); ++l) {
    Status st = create_layer_ops(w.layers[l], c, w.quantized, l, own ? &best : nullptr, &impl->layers[l]);
    if (!st.ok()) return st.with_context(cat("layer ", l));
  }
  if (c.has_pooler) {
    ENCORE_ASSIGN_OR_RETURN(impl->pooler, LinearOp::create_f32(c.hidden_size, c.hidden_size, w.pooler_weight,
                                                                w.pooler_bias, "pooler"));
  }
  if (c.has_classifier()) {
    ENCORE_ASSIGN_OR_RETURN(impl->classifier,
                            LinearOp::create_f32(static_cast<int64_t>(c.labels.size()), c.hidden_size,
                                                 w.classifier_weight, w.classifier_bias, "classifier"));
  }
  if (options.profile) {
    // embeddings + 12 steps per layer (3 of them quantize steps) + pooler + classifier
    impl->profiler.enable(1 + 12 * static_cast<size_t>(c.layer_count) + 2);
  }
  if (options.observer) {
    for (int l = 0; l < c.layer_count; ++l) {
      for (const char* p : fmt::kActivationPoints) impl->observe_names.push_back(fmt::layer_name(l, p));
    }
  }
  impl->head_offset.resize(static_cast<size_t>(c.layer_count) + 1, 0);
  for (int l = 0; l < c.layer_count; ++l) {
    impl->head_offset[static_cast<size_t>(l) + 1] = impl->head_offset[static_cast<size_t>(l)] +
                                                      static_cast<size_t>(c.heads_in_layer(l));
  }
  impl->head_masked.assign(impl->head_offset.back(), 0);
  impl->ffn_bypassed.assign(static_cast<size_t>(c.layer_count), 0);
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;
const Model& Session::model() const { return *impl_->model; }
uint64_t Session::activation_bytes() const { return impl_->arena.bytes(); }
const std::vector<ProfileRecord>& Session::profile() const { return impl_->profiler.records(); }

Status Session::set_head_masked(int layer, int head, bool masked) {
  const auto& c = impl_->model->config();
  if (layer < 0 || layer >= c.layer_count) {
    return invalid_argument(cat("layer ", layer, " is outside [0, ", c.layer_count, ")"));
  }
  if (head < 0 || head >= c.heads_in_layer(layer)) {
    return invalid_argument(cat("layer ", layer, " has ", c.heads_in_layer(layer), " heads; head ", head,
                                " is outside [0, ", c.heads_in_layer(layer), ")"));
  }
  impl_->head_masked[impl_->head_offset[static_cast<size_t>(layer)] + static_cast<size_t>(head)] = masked;
  return Status::Ok();
}

Status Session::set_ffn_bypassed(int layer, bool bypassed) {
  const auto& c = impl_->model->config();
  if (layer < 0 || layer >= c.layer_count) {
    return invalid_argument(cat("layer ", layer, " is outside [0, ", c.layer_count, ")"));
  }
  impl_->ffn_bypassed[static_cast<size_t>(layer)] = bypassed;
  return Status::Ok();
}

void Session::clear_ablation() {
  std::fill(impl_->head_masked.begin(), impl_->head_masked.end(), 0);
  std::fill(impl_->ffn_bypassed.begin(), impl_->ffn_bypassed.end(), 0);
}

bool Session::head_masked(int layer, int head) const {
  const auto& c = impl_->model->config();
  if (layer < 0 || layer >= c.layer_count || head < 0 || head >= c.heads_in_layer(layer)) return false;
  return impl_->head_masked[impl_->head_offset[static_cast<size_t>(layer)] + static_cast<size_t>(head)];
}

bool Session::ffn_bypassed(int layer) const {
  if (layer < 0 || layer >= impl_->model->config().layer_count) return false;
  return impl_->ffn_bypassed[static_cast<size_t>(layer)];
}

const float* Session::attention_probabilities(int layer) const {
  if (layer < 0 || layer >= impl_->model->config().layer_count || impl_->last_batch == 0) return nullptr;
  return impl_->attention_probs(static_cast<size_t>(layer), impl_->last_batch, impl_->last_seq);
}

namespace {
Status validate_inputs(const Inputs& in, const EncoderConfig& c) {
  if (in.batch < 1) return invalid_argument(cat("batch = ", in.batch, " must be at least 1"));
  if (in.seq_len < 1) return invalid_argument(cat("sequence length ", in.seq_len, " must be at least 1"));
  if (in.seq_len > c.max_positions) {
    return out_of_range(cat("sequence length ", in.seq_len, " exceeds the model's maximum of ", c.max_positions));
  }
  if (in.batch > (int64_t{1} << 24) / in.seq_len) {
    return invalid_argument(cat("batch ", in.batch, " x sequence ", in.seq_len, " is over the limit of 2^24 tokens"));
  }
  if (!in.input_ids) return invalid_argument("input_ids is null");
  const int64_t n = in.batch * in.seq_len;
  for (int64_t i = 0; i < n; ++i) {
    int32_t id = in.input_ids[i];
    if (id < 0 || id >= c.vocab_size) {
      return out_of_range(cat("input_ids[", i / in.seq_len, "][", i % in.seq_len, "] = ", id,
                              " is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
    if (in.token_type_ids && (in.token_type_ids[i] < 0 || in.token_type_ids[i] >= c.type_vocab_size)) {
      return out_of_range(cat("token_type_ids[", i / in.seq_len, "][", i % in.seq_len, "] = ", in.token_type_ids[i],
                              " is outside [0, ", c.type_vocab_size, ")"));
    }
    if (in.attention_mask && in.attention_mask[i] != 0 && in.attention_mask[i] != 1) {
      return invalid_argument(cat("attention_mask[", i / in.seq_len, "][", i % in.seq_len, "] = ",
                                  in.attention_mask[i], " must be 0 or 1"));
    }
  }
  return Status::Ok();
}
}  // namespace

Status Session::run(const Inputs& in, Outputs* out) {
  if (!out) return invalid_argument("outputs is null");
  const auto& c = impl_->model->config();
  ENCORE_RETURN_IF_ERROR(validate_inputs(in, c));
  ENCORE_RETURN_IF_ERROR(impl_->arena.reserve(c, impl_->model->is_quantized(), impl_->scratch_slots, in.batch,
                                              in.seq_len, impl_->options.max_activation_bytes,
                                              impl_->options.attention_probabilities));
  impl_->last_batch = 0;  // no probabilities to read unless this run completes
  ENCORE_RETURN_IF_ERROR(impl_->forward(in));
  impl_->last_batch = in.batch;
  impl_->last_seq = in.seq_len;
  const auto& b = impl_->arena.buffers();
  out->last_hidden_state = b.hidden;
  out->pooler_output = c.has_pooler ? b.pooled : nullptr;
  out->logits = c.has_classifier() ? b.logits : nullptr;
  out->batch = in.batch;
  out->seq_len = in.seq_len;
  out->hidden = c.hidden_size;
  out->labels = static_cast<int64_t>(c.labels.size());
  return Status::Ok();
}

// Packs the rows to compute: each sequence up to its last unmasked token. Trailing padding
// cannot influence those tokens (its keys are masked), so skipping it changes no result; a
// sequence with no unmasked token at all keeps every position, as it would unpacked.
size_t Session::Impl::pack_rows(const Inputs& in, const internal::ActivationBuffers& b) const {
  const int64_t B = in.batch, S = in.seq_len;
  int64_t rows = 0;
  for (int64_t s = 0; s < B; ++s) {
    int64_t length = S;
    if (in.attention_mask) {
      const int32_t* m = in.attention_mask + s * S;
      int64_t last = S - 1;
      while (last >= 0 && m[last] == 0) --last;
      if (last >= 0) length = last + 1;
    }
    b.seq_rows[s] = rows;
    for (int64_t p = 0; p < length; ++p) b.token_source[rows++] = static_cast<int32_t>(s * S + p);
  }
  b.seq_rows[B] = rows;
  return static_cast<size_t>(rows);
}

// Moves the packed rows of the residual stream to their [batch, seq] places, last sequence
// first (a packed row never lies after its place, so nothing is overwritten before it moves),
// and zeroes the positions that were not computed.
void Session::Impl::unpack_hidden(const Inputs& in, const internal::ActivationBuffers& b) const {
  const size_t H = static_cast<size_t>(model->config().hidden_size), S = static_cast<size_t>(in.seq_len);
  for (size_t s = static_cast<size_t>(in.batch); s-- > 0;) {
    const size_t first = static_cast<size_t>(b.seq_rows[s]);
    const size_t length = static_cast<size_t>(b.seq_rows[s + 1]) - first;
    float* dst = b.hidden + s * S * H;
    if (dst != b.hidden + first * H) std::memmove(dst, b.hidden + first * H, length * H * sizeof(float));
    std::fill(dst + length * H, dst + S * H, 0.0f);
  }
}

void Session::Impl::embed(const Inputs& in, size_t rows, const internal::ActivationBuffers& b) {
  const auto& c = model->config();
  const auto& w = model->weights();
  const size_t H = static_cast<size_t>(c.hidden_size), S = static_cast<size_t>(in.seq_len);
  parallel_for(threads(), rows, 16, [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      float* x = b.hidden + t * H;
      const size_t src = static_cast<size_t>(b.token_source[t]);
      const size_t id = static_cast<size_t>(in.input_ids[src]);
      const size_t type = in.token_type_ids ? static_cast<size_t>(in.token_type_ids[src]) : 0;
      const float* pos = w.position + (src % S) * H;
      const float* tt = w.token_type + type * H;
      if (w.quantized) {
        f16_to_f32(H, w.word_f16 + id * H, x);
      } else {
        for (size_t i = 0; i < H; ++i) x[i] = w.word_f32[id * H + i];
      }
      for (size_t i = 0; i < H; ++i) x[i] += pos[i] + tt[i];
      b.key_bias[t] = (!in.attention_mask || in.attention_mask[src]) ? 0.0f : std::numeric_limits<float>::lowest();
    }
    ResidualNormQs8 io = quantized_for(0, fmt::kQkvInput, b.hidden_q);
    if (io.q) io.q += begin * H;
    residual_layer_norm(end - begin, H, b.hidden + begin * H, w.embed_norm.gamma, w.embed_norm.beta,
                        c.layer_norm_eps, io);
  });
}

void Session::Impl::layer_norm(size_t rows, float* x, const internal::NormWeights& n) {
  const auto& c = model->config();
  const size_t H = static_cast<size_t>(c.hidden_size);
  parallel_for(threads(), rows, 16, [&](size_t begin, size_t end) {
    layer_norm_f32(end - begin, H, x + begin * H, n.gamma, n.beta, c.layer_norm_eps, x + begin * H);
  });
}

void Session::Impl::attention(size_t layer, const Inputs& in, const internal::ActivationBuffers& b) {
  const auto& c = model->config();
  const auto& w = model->weights();
  const size_t S_full = static_cast<size_t>(in.seq_len);
  const size_t heads = static_cast<size_t>(c.heads_in_layer(static_cast<int>(layer)));
  const size_t d = static_cast<size_t>(c.head_dim()), A = heads * d;
  const size_t jobs = static_cast<size_t>(in.batch) * heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const size_t slots = std::min(scratch_slots, jobs);
  const uint8_t* masked = head_masked.data() + head_offset[layer];
  float* probs = attention_probs(layer, in.batch, in.seq_len);  // [batch, heads, S, S] or null
  // One task per scratch slot; each walks its share of (sequence, head) jobs, so no two
  // concurrent calls share scratch.
  parallel_tasks(threads(), slots, [&](size_t slot) {
    float* scratch = b.attn_scratch + slot * b.attn_scratch_stride;
    for (size_t job = slot; job < jobs; job += slots) {
      const size_t seq = job / heads, h = job % heads;
      const size_t row0 = static_cast<size_t>(b.seq_rows[seq]);
      const size_t S = static_cast<size_t>(b.seq_rows[seq + 1]) - row0;  // this sequence's packed length
      float* out = w.quantized ? nullptr : b.context + row0 * A + h * d;  // f32 models' context
      // Probabilities keep the caller's [seq_len, seq_len] layout: the S x S block computed,
      // zeros for positions after the last unmasked token (not computed).
      float* p = probs ? probs + job * S_full * S_full : nullptr;
      if (p) std::fill(p, p + S_full * S_full, 0.0f);
      // The int8 model's context goes straight to the output projection's int8 input.
      ContextQs8 context_q{nullptr, 1.0f, 0};
      if (w.quantized) {
        const ActivationQuant& aq = w.layers[layer].act[fmt::kAttnOutInput];
        context_q = {b.hidden_q + row0 * A + h * d, aq.scale, aq.zero_point};
      }
      if (masked[h]) {
        // The head's context is zero: what zero value rows (or zero output-projection
        // columns) give, with none of the work.
        for (size_t r = 0; r < S; ++r) {
          if (w.quantized) {
            std::fill(context_q.out + r * A, context_q.out + r * A + d, static_cast<int8_t>(context_q.zero_point));
          } else {
            std::fill(out + r * A, out + r * A + d, 0.0f);
          }
        }
        continue;
      }
      const float* bias = b.key_bias + row0;
      if (w.quantized) {
        const auto& a = w.layers[layer].act;
        const int8_t* q = b.qkv_q + row0 * 3 * A + h * d;
        attention_head_qs8(S, d, q, a[fmt::kQOutput].scale, q + A, a[fmt::kKOutput].scale, q + 2 * A,
                           a[fmt::kVOutput].scale, 3 * A, bias, scale, scratch, nullptr, A, p, S_full, &context_q);
      } else {
        const float* q = b.qkv_f32 + row0 * 3 * A + h * d;
        attention_head_f32(S, d, q, q + A, q + 2 * A, 3 * A, bias, scale, scratch, out, A, p, S_full);
      }
    }
  });
}

Status Session::Impl::forward(const Inputs& in) {
  const auto& c = model->config();
  const auto& w = model->weights();
  const auto& b = arena.buffers();
  const uint64_t H = static_cast<uint64_t>(c.hidden_size);
  const uint64_t B = static_cast<uint64_t>(in.batch), S = static_cast<uint64_t>(in.seq_len);
  // M: the rows every row-wise step (linear layers, LayerNorm, activations) computes.
  const uint64_t M = pack_rows(in, b);
  pthreadpool_t pool = threads();
  // Element-wise work in tiles of rows; large enough to amortise a pool dispatch.
  auto rows_parallel = [&](size_t cols, const auto& f) {
    parallel_for(pool, M, 16, [&](size_t r0, size_t r1) { f(r0 * cols, (r1 - r0) * cols); });
  };
  // Profile bookkeeping: operation and byte estimates per step (a multiply-add counts 2).
  const bool q8 = w.quantized;
  const uint64_t act_bytes = q8 ? 1 : 4, w_bytes = q8 ? 1 : 4;
  const char* gemm_kernel = layers.empty() ? "" : layers[0].qkv.kernel_name();
  auto gemm = [&](int l, ProfileStep step, uint64_t out, uint64_t k) {
    return profiler.step(l, step, gemm_kernel, 2 * M * out * k, out * k * w_bytes + M * (k + out) * act_bytes);
  };
  uint64_t score_count = 0;  // query x key pairs over the batch
  for (uint64_t s = 0; s < B; ++s) {
    const uint64_t n = static_cast<uint64_t>(b.seq_rows[s + 1] - b.seq_rows[s]);
    score_count += n * n;
  }

  profiler.begin_run();
  {
    auto t = profiler.step(-1, ProfileStep::kEmbeddings, "encore embeddings + layernorm", 12 * M * H, M * H * 16);
    embed(in, M, b);
  }
  for (size_t l = 0; l < layers.size(); ++l) {
    LayerOps& ops = layers[l];
    const auto& lw = w.layers[l];
    const int li = static_cast<int>(l);
    // This layer's widths: attention columns (kept heads x head_dim) and FFN neurons.
    const uint64_t A = static_cast<uint64_t>(lw.attn_out.in), I = static_cast<uint64_t>(lw.ffn_up.out);
    const uint64_t attn_ops =
        static_cast<uint64_t>(c.heads_in_layer(li)) * score_count * (4 * static_cast<uint64_t>(c.head_dim()) + 5);
    const bool ffn = !ffn_bypassed[l];
    Status st;
    if (q8) {
      const auto& a = lw.act;
      // Residual add, LayerNorm and the quantization of the next GEMM's input (io.q, when there
      // is one) in one pass per row. A bypassed FFN adds nothing: only the LayerNorm runs.
      auto residual_norm = [&](ProfileStep step, const int8_t* y, ActivationQuant q, const internal::NormWeights& n,
                               ResidualNormQs8 io) {
        auto t = profiler.step(li, step, "encore dequantize-add + layernorm + quantize", 12 * M * H, 14 * M * H);
        if (y) io.residual = y, io.residual_scale = q.scale, io.residual_zero_point = q.zero_point;
        parallel_for(pool, M, 16, [&](size_t r0, size_t r1) {
          ResidualNormQs8 rows = io;
          if (rows.residual) rows.residual += r0 * H;
          if (rows.q) rows.q += r0 * H;
          residual_layer_norm(r1 - r0, H, b.hidden + r0 * H, n.gamma, n.beta, c.layer_norm_eps, rows);
        });
      };
      // b.hidden_q holds this layer's QKV input: quantized by the embeddings or the previous
      // layer's last LayerNorm.
      {
        auto t = gemm(li, ProfileStep::kQkvProjection, 3 * A, H);
        st = ops.qkv.run(M, b.hidden_q, b.qkv_q, pool);
      }
      if (!st.ok()) return st.with_context(cat("layer ", l));
      {
        auto t = profiler.step(li, ProfileStep::kAttention, "encore attention qs8 (context quantized)", attn_ops, M * A * 4);
        attention(l, in, b);
      }
      {
        auto t = gemm(li, ProfileStep::kOutputProjection, H, A);
        st = ops.attn_out.run(M, b.hidden_q, b.proj_q, pool);
      }
      if (!st.ok()) return st.with_context(cat("layer ", l));
      residual_norm(ProfileStep::kAttnResidualNorm, b.proj_q, a[fmt::kAttnOutOutput], lw.attn_norm,
                    ffn ? quantized_for(l, fmt::kFfnUpInput, b.hidden_q) : ResidualNormQs8{});
      if (ffn) {
        {
          auto t = gemm(li, ProfileStep::kFfnUp, I, H);
          st = ops.ffn_up.run(M, b.hidden_q, b.ffn_q, pool);
        }
        if (!st.ok()) return st.with_context(cat("layer ", l));
        {
          auto t = profiler.step(li, ProfileStep::kActivation, "encore int8 lookup table", M * I, 2 * M * I);
          rows_parallel(I, [&](size_t at, size_t n) { apply_lut_qs8(n, b.ffn_q + at, ops.activation_lut, b.ffn_q + at); });
        }
        {
          auto t = gemm(li, ProfileStep::kFfnDown, H, I);
          st = ops.ffn_down.run(M, b.ffn_q, b.proj_q, pool);
        }
        if (!st.ok()) return st.with_context(cat("layer ", l));
      }
      residual_norm(ProfileStep::kFfnResidualNorm, ffn ? b.proj_q : nullptr, a[fmt::kFfnDownOutput], lw.ffn_norm,
                    quantized_for(l + 1, fmt::kQkvInput, b.hidden_q));
    } else {
      auto residual_norm = [&](ProfileStep step, const float* y, const internal::NormWeights& n) {
        auto t = profiler.step(li, step, "encore add + layernorm", 11 * M * H, 16 * M * H);
        if (y) rows_parallel(H, [&](size_t at, size_t k) { add_f32(k, y + at, b.hidden + at); });
        layer_norm(M, b.hidden, n);
      };
      observe(l, fmt::kQkvInput, b.hidden, M, H, H);
      {
        auto t = gemm(li, ProfileStep::kQkvProjection, 3 * A, H);
        st = ops.qkv.run(M, b.hidden, b.qkv_f32, pool);
      }
      if (!st.ok()) return st.with_context(cat("layer ", l));
      observe(l, fmt::kQOutput, b.qkv_f32, M, A, 3 * A);
      observe(l, fmt::kKOutput, b.qkv_f32 + A, M, A, 3 * A);
      observe(l, fmt::kVOutput, b.qkv_f32 + 2 * A, M, A, 3 * A);
      {
        auto t = profiler.step(li, ProfileStep::kAttention, "encore attention f32", attn_ops, M * A * 16);
        attention(l, in, b);
      }
      observe(l, fmt::kAttnOutInput, b.context, M, A, A);
      {
        auto t = gemm(li, ProfileStep::kOutputProjection, H, A);
        st = ops.attn_out.run(M, b.context, b.proj_f32, pool);
      }
      if (!st.ok()) return st.with_context(cat("layer ", l));
      observe(l, fmt::kAttnOutOutput, b.proj_f32, M, H, H);
      residual_norm(ProfileStep::kAttnResidualNorm, b.proj_f32, lw.attn_norm);
      if (ffn) {
        observe(l, fmt::kFfnUpInput, b.hidden, M, H, H);
        {
          auto t = gemm(li, ProfileStep::kFfnUp, I, H);
          st = ops.ffn_up.run(M, b.hidden, b.ffn_f32, pool);
        }
        if (!st.ok()) return st.with_context(cat("layer ", l));
        observe(l, fmt::kFfnUpOutput, b.ffn_f32, M, I, I);
        {
          auto t = profiler.step(li, ProfileStep::kActivation, c.activation == Activation::kRelu ? "encore relu f32"
                                                                                                 : "encore gelu f32",
                                 20 * M * I, 8 * M * I);
          rows_parallel(I, [&](size_t at, size_t n) { activation_f32(c.activation, n, b.ffn_f32 + at, b.ffn_f32 + at); });
        }
        observe(l, fmt::kFfnDownInput, b.ffn_f32, M, I, I);
        {
          auto t = gemm(li, ProfileStep::kFfnDown, H, I);
          st = ops.ffn_down.run(M, b.ffn_f32, b.proj_f32, pool);
        }
        if (!st.ok()) return st.with_context(cat("layer ", l));
        observe(l, fmt::kFfnDownOutput, b.proj_f32, M, H, H);
      }
      residual_norm(ProfileStep::kFfnResidualNorm, ffn ? b.proj_f32 : nullptr, lw.ffn_norm);
    }
  }

  if (M < B * S) unpack_hidden(in, b);
  if (c.has_pooler) {
    {
      auto t = profiler.step(-1, ProfileStep::kPooler, "xnnpack f32 fully-connected + tanh", 2 * B * H * H + 20 * B * H,
                             H * H * 4 + 12 * B * H);
      for (size_t s = 0; s < B; ++s) {
        for (size_t i = 0; i < H; ++i) b.cls[s * H + i] = b.hidden[s * S * H + i];
      }
      ENCORE_RETURN_IF_ERROR(pooler.run(B, b.cls, b.pooled, pool));
      tanh_f32(B * H, b.pooled, b.pooled);
    }
    if (c.has_classifier()) {
      const uint64_t L = c.labels.size();
      auto t = profiler.step(-1, ProfileStep::kClassifier, "xnnpack f32 fully-connected", 2 * B * L * H,
                             L * H * 4 + 4 * B * (H + L));
      ENCORE_RETURN_IF_ERROR(classifier.run(B, b.pooled, b.logits, pool));
    }
  }
  return Status::Ok();
}

}  // namespace encore
