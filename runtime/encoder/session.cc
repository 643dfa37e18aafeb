// The public Session: creation (operators, plan, ablation state), run, ablation switches and
// accessors. The forward pass itself is the plan of steps (plan.h); its numerics:
//
// The residual stream stays f32 in every model. In an int8 model each linear layer reads an
// int8 copy of its input (quantized with the calibrated scale of that point, by the step before
// it) and writes int8 requantized output; the attention core, LayerNorm and residual adds work
// in f32; the FFN activation maps int8 to int8 through a 256-entry table, which is exact for
// int8 codes.
//
//   x = LN(word[id] + position[s] + token_type[t])
//   per layer:  qkv = Linear(x) ; ctx = softmax(QK^T/sqrt(d) + mask) V per head
//               x = LN(x + Linear(ctx)) ; x = LN(x + Linear(act(Linear(x))))
//   pooler = tanh(Linear(x[:, 0])) ; logits = Linear(pooler)
//   sentence-transformers models: sentence_embedding = Normalize(Dense(...(Pooling(x, mask))))
//
// No work on padding: the rows of a batch are packed to each sequence's tokens up to its last
// unmasked one, so the linear layers, LayerNorm and activations run on real tokens only and
// attention runs per sequence on its own length; the final rows are put back in place.
// Layers may differ in width (a pruned model): layer l has A_l = heads_l x head_dim attention
// columns (its QKV rows are 3 A_l wide, its context A_l) and I_l FFN neurons.
#include "encore/session.h"

#include <algorithm>
#include <string>

#include "core/str.h"
#include "encoder/encoder.h"
#include "encoder/inputs.h"
#include "kernels/rotary.h"
#include "model/format.h"

namespace encore {

namespace fmt = format;

struct Session::Impl : internal::Encoder {};

namespace {

Status validate_options(const Model& model, const SessionOptions& options) {
  if (options.threads < 1 || options.threads > 1024) {
    return invalid_argument(cat("threads = ", options.threads, " must be in [1, 1024]"));
  }
  if (options.attention_probabilities && model.config().is_modernbert()) {
    return invalid_argument("attention_probabilities is not supported for modernbert models (sliding-window layers)");
  }
  if (options.observer && model.is_quantized()) {
    return invalid_argument("an activation observer needs an f32 model (it observes float activations)");
  }
  return Status::Ok();
}

void init_ablation(const EncoderConfig& c, internal::Ablation* a) {
  a->head_offset.assign(static_cast<size_t>(c.layer_count) + 1, 0);
  for (int l = 0; l < c.layer_count; ++l) {
    a->head_offset[static_cast<size_t>(l) + 1] =
        a->head_offset[static_cast<size_t>(l)] + static_cast<size_t>(c.heads_in_layer(l));
  }
  a->head_masked.assign(a->head_offset.back(), 0);
  a->ffn_bypassed.assign(static_cast<size_t>(c.layer_count), 0);
}

// ModernBERT's rotary tables for every position the model takes, once per session.
void init_rotary(const EncoderConfig& c, internal::Encoder* e) {
  const size_t P = static_cast<size_t>(c.max_positions), d = static_cast<size_t>(c.head_dim());
  const size_t n = P * (d / 2);
  e->rope_cos_global.resize(n);
  e->rope_sin_global.resize(n);
  e->rope_cos_local.resize(n);
  e->rope_sin_local.resize(n);
  rotary_tables(P, d, c.global_rope_theta, e->rope_cos_global.data(), e->rope_sin_global.data());
  rotary_tables(P, d, c.local_rope_theta, e->rope_cos_local.data(), e->rope_sin_local.data());
}

}  // namespace

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, const SessionOptions& options) {
  if (!model) return invalid_argument("Session::create: model is null");
  ENCORE_RETURN_IF_ERROR(validate_options(*model, options));
  ENCORE_RETURN_IF_ERROR(internal::xnnpack_initialize());
  auto impl = std::make_unique<Impl>();
  internal::Encoder& e = *impl;
  e.model = model;
  e.config = &model->config();
  e.weights = &internal::weights_of(*model);
  e.options = options;
  if (options.threads > 1) {
    e.pool.reset(pthreadpool_create(static_cast<size_t>(options.threads)));
    if (!e.pool) return resource_exhausted(cat("cannot create a pool of ", options.threads, " threads"));
  }
  e.scratch_slots = static_cast<size_t>(options.threads);
  e.buffer_set = !model->is_quantized()                         ? internal::BufferSet::kF32
                 : model->metadata().layer_precision.empty() ? internal::BufferSet::kInt8
                                                              : internal::BufferSet::kBoth;
  Qs8GemmKernel own_kernel;
  const Qs8GemmKernel* own = internal::choose_int8_gemm(options.int8_gemm, &own_kernel);
  ENCORE_RETURN_IF_ERROR(internal::create_layer_ops(*e.weights, *e.config, own, &e.layers));
  ENCORE_RETURN_IF_ERROR(internal::create_head_ops(*e.weights, *e.config, &e.head));
  if (e.config->is_modernbert()) init_rotary(*e.config, &e);
  ENCORE_RETURN_IF_ERROR(internal::build_plan(e, &e.plan));
  if (options.profile) e.profiler.enable(e.plan.steps.size());
  if (options.observer) {
    for (int l = 0; l < e.config->layer_count; ++l) {
      for (const char* p : fmt::kActivationPoints) e.observe_names.push_back(fmt::layer_name(l, p));
    }
  }
  init_ablation(*e.config, &e.ablation);
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;
const Model& Session::model() const { return *impl_->model; }
uint64_t Session::activation_bytes() const { return impl_->arena.bytes(); }
const std::vector<ProfileRecord>& Session::profile() const { return impl_->profiler.records(); }

Status Session::run(const Inputs& in, Outputs* out) {
  if (!out) return invalid_argument("outputs is null");
  internal::Encoder& e = *impl_;
  const EncoderConfig& c = *e.config;
  ENCORE_RETURN_IF_ERROR(internal::validate_inputs(in, c));
  ENCORE_RETURN_IF_ERROR(e.arena.reserve(c, e.buffer_set, e.scratch_slots, in.batch, in.seq_len,
                                         e.options.max_activation_bytes, e.options.attention_probabilities));
  e.last_batch = 0;  // no probabilities to read unless this run completes
  ENCORE_RETURN_IF_ERROR(internal::run_plan(e, in));
  e.last_batch = in.batch;
  e.last_seq = in.seq_len;
  const auto& b = e.arena.buffers();
  out->last_hidden_state = b.hidden;
  out->pooler_output = c.has_pooler_output() ? b.pooled : nullptr;
  out->logits = c.has_classifier() ? b.logits : nullptr;
  out->batch = in.batch;
  out->seq_len = in.seq_len;
  out->hidden = c.hidden_size;
  out->labels = c.has_classifier() ? static_cast<int64_t>(c.labels.size()) : 0;
  out->token_logits = b.token_logits;
  out->token_logit_width = c.token_logit_width();
  out->sentence_embedding =
      c.has_sentence_embedding() ? static_cast<const float*>(internal::buffer_data(b, e.plan.sentence_output)) : nullptr;
  out->sentence_dim = c.sentence_dimension();
  return Status::Ok();
}

Status Session::set_head_masked(int layer, int head, bool masked) {
  const auto& c = *impl_->config;
  if (layer < 0 || layer >= c.layer_count) {
    return invalid_argument(cat("layer ", layer, " is outside [0, ", c.layer_count, ")"));
  }
  if (head < 0 || head >= c.heads_in_layer(layer)) {
    return invalid_argument(cat("layer ", layer, " has ", c.heads_in_layer(layer), " heads; head ", head,
                                " is outside [0, ", c.heads_in_layer(layer), ")"));
  }
  auto& a = impl_->ablation;
  a.head_masked[a.head_offset[static_cast<size_t>(layer)] + static_cast<size_t>(head)] = masked;
  return Status::Ok();
}

Status Session::set_ffn_bypassed(int layer, bool bypassed) {
  const auto& c = *impl_->config;
  if (layer < 0 || layer >= c.layer_count) {
    return invalid_argument(cat("layer ", layer, " is outside [0, ", c.layer_count, ")"));
  }
  impl_->ablation.ffn_bypassed[static_cast<size_t>(layer)] = bypassed;
  return Status::Ok();
}

void Session::clear_ablation() {
  auto& a = impl_->ablation;
  std::fill(a.head_masked.begin(), a.head_masked.end(), 0);
  std::fill(a.ffn_bypassed.begin(), a.ffn_bypassed.end(), 0);
}

bool Session::head_masked(int layer, int head) const {
  const auto& c = *impl_->config;
  if (layer < 0 || layer >= c.layer_count || head < 0 || head >= c.heads_in_layer(layer)) return false;
  const auto& a = impl_->ablation;
  return a.head_masked[a.head_offset[static_cast<size_t>(layer)] + static_cast<size_t>(head)];
}

bool Session::ffn_bypassed(int layer) const {
  if (layer < 0 || layer >= impl_->config->layer_count) return false;
  return impl_->ablation.ffn_bypassed[static_cast<size_t>(layer)];
}

const float* Session::attention_probabilities(int layer) const {
  if (layer < 0 || layer >= impl_->config->layer_count || impl_->last_batch == 0) return nullptr;
  return impl_->attention_probs(static_cast<size_t>(layer), impl_->last_batch, impl_->last_seq);
}

}  // namespace encore
