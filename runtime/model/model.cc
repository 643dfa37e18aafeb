// Model loading: map, verify the FlatBuffer, then validate meaning before anything is used.
//
// Order of checks, each failing with a message naming the field:
//  1. size prefix and FlatBuffers verifier (structure, identifier "ENCR");
//  2. format version, config ranges and consistency, per-layer shapes of a pruned model;
//  3. every buffer range inside the file and 64-byte aligned;
//  4. every tensor: unique name, buffer index, dims > 0, dtype x shape == buffer size
//     (overflow-checked), quantization vectors of the right length with finite scales > 0;
//  5. the tensors the encoder needs, by canonical name, with the shapes the config implies
//     (per layer for a pruned model: 3 x kept heads x head size Q/K/V rows, FFN width);
//  6. activation quantization of every layer (int8 models), and the layers' precision (an int8
//     model's f32 blocks, format version 7: their weights f32).
#include "encore/model.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "core/checked_math.h"
#include "core/str.h"
#include "encore/encore_generated.h"
#include "model/file_mapping.h"
#include "model/model_weights.h"

namespace encore {

struct Model::Impl {
  internal::ModelBytes bytes;
  EncoderConfig config;
  TokenizerInfo tokenizer;
  ModelMetadata metadata;
  internal::ModelWeights weights;
  explicit Impl(internal::ModelBytes b) : bytes(std::move(b)) {}
};

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 31;

struct TensorInfo {
  const fb::Tensor* tensor = nullptr;
  const uint8_t* data = nullptr;
};

size_t dtype_size(fb::DType t) {
  switch (t) {
    case fb::DType::F32: return 4;
    case fb::DType::I8: return 1;
    case fb::DType::I32: return 4;
    case fb::DType::F16: return 2;
  }
  return 0;
}

const char* dtype_name(fb::DType t) {
  switch (t) {
    case fb::DType::F32: return "f32";
    case fb::DType::I8: return "int8";
    case fb::DType::I32: return "int32";
    case fb::DType::F16: return "f16";
  }
  return "unknown";
}

// The sentence-transformers modules (format version 5): known pooling flags, at least one;
// Dense modules chained from the pooled width; known activations.
Status check_sentence(const fb::EncoderConfig& c, EncoderConfig* out) {
  const fb::SentenceEmbedding* st = c.sentence();
  if (!st) return Status::Ok();
  SentenceEmbeddingConfig& s = out->sentence;
  if (st->pooling() == 0 || (st->pooling() & ~kSentencePoolingAll) != 0) {
    return invalid_model(cat("config.sentence.pooling = ", st->pooling(), " is not a set of known pooling modes"));
  }
  s.pooling = st->pooling();
  int64_t width = s.pooled_width(out->hidden_size);
  if (st->dense()) {
    if (st->dense()->size() > 64) return invalid_model("config.sentence.dense: too many Dense modules");
    for (uint32_t i = 0; i < st->dense()->size(); ++i) {
      const fb::SentenceDense* d = st->dense()->Get(i);
      if (d->in_features() != width || d->out_features() < 1 || d->out_features() > 65536) {
        return invalid_model(cat("config.sentence.dense[", i, "]: ", d->in_features(), " -> ", d->out_features(),
                                 " features, but its input is ", width, " wide"));
      }
      if (d->activation() != fb::DenseActivation::Identity && d->activation() != fb::DenseActivation::Tanh) {
        return invalid_model(cat("config.sentence.dense[", i, "].activation = ", static_cast<int>(d->activation()),
                                 " is unknown"));
      }
      s.dense.push_back(SentenceDense{d->in_features(), d->out_features(), d->bias(),
                                      static_cast<DenseActivation>(d->activation())});
      width = d->out_features();
    }
  }
  s.normalize = st->normalize();
  if (st->max_seq_length() < 0) {
    return invalid_model(cat("config.sentence.max_seq_length = ", st->max_seq_length(), " is negative"));
  }
  s.max_seq_length = st->max_seq_length();
  if (st->prompts()) {
    for (const fb::KeyValue* kv : *st->prompts()) {
      s.prompts.emplace_back(kv->key()->str(), kv->value() ? kv->value()->str() : std::string());
    }
  }
  if (st->default_prompt_name()) s.default_prompt_name = st->default_prompt_name()->str();
  if (!s.default_prompt_name.empty() && !s.prompt(s.default_prompt_name)) {
    return invalid_model(cat("config.sentence.default_prompt_name '", s.default_prompt_name, "' names no prompt"));
  }
  if (st->similarity_fn_name()) s.similarity_fn_name = st->similarity_fn_name()->str();
  return Status::Ok();
}

// ModernBERT's fields (format version 8): a window of at least 2 tokens (a half window of at
// least 1), a global layer period of at least 1, finite rotary bases > 0, a known pooling; no
// pooler, token types or embedding projection (its heads have tensors of their own).
Status check_modernbert(const fb::EncoderConfig& c, EncoderConfig* out) {
  if (!out->is_modernbert()) return Status::Ok();
  if (c.local_attention() < 2 || c.local_attention() > (1 << 20)) {
    return invalid_model(cat("config.local_attention = ", c.local_attention(), " is out of range [2, 1048576]"));
  }
  if (c.global_attn_every_n_layers() < 1 || c.global_attn_every_n_layers() > 1024) {
    return invalid_model(cat("config.global_attn_every_n_layers = ", c.global_attn_every_n_layers(),
                             " is out of range [1, 1024]"));
  }
  for (auto [name, theta] : {std::pair{"global_rope_theta", c.global_rope_theta()},
                             std::pair{"local_rope_theta", c.local_rope_theta()}}) {
    if (!std::isfinite(theta) || !(theta > 1.0f)) {
      return invalid_model(cat("config.", name, " = ", theta, " must be finite and > 1"));
    }
  }
  const auto pooling = c.classifier_pooling();
  if (pooling != fb::ClassifierPooling::Cls && pooling != fb::ClassifierPooling::Mean) {
    return invalid_model(cat("config.classifier_pooling = ", static_cast<int>(pooling), " is unknown"));
  }
  if (out->has_pooler || out->type_vocab_size != 0 || (out->embedding_size != 0 && out->embedding_size != out->hidden_size)) {
    return invalid_model("config: a modernbert model has no pooler, token types or embedding projection");
  }
  if (out->head == HeadKind::kQuestionAnswering) {
    return invalid_model("config: a modernbert model with a question-answering head is not supported");
  }
  if (out->head_dim() % 2 != 0) {  // rotary pairs the two halves of each head
    return invalid_model(cat("config: a modernbert model's head size ", out->head_dim(), " must be even"));
  }
  // The session's four rotary tables hold max_positions x head_dim / 2 floats each.
  if (int64_t{out->max_positions} * (out->head_dim() / 2) > (int64_t{1} << 26)) {
    return invalid_model(cat("config: max_positions ", out->max_positions, " x head size ", out->head_dim(),
                             " is too large for the rotary tables (at most 2^27 values)"));
  }
  out->local_attention = c.local_attention();
  out->global_attn_every_n_layers = c.global_attn_every_n_layers();
  out->global_rope_theta = c.global_rope_theta();
  out->local_rope_theta = c.local_rope_theta();
  out->classifier_pooling = static_cast<ClassifierPooling>(pooling);
  return Status::Ok();
}

Status check_config(const fb::EncoderConfig& c, EncoderConfig* out) {
  auto positive = [](const char* name, int32_t v, int32_t max) -> Status {
    if (v <= 0 || v > max) return invalid_model(cat("config.", name, " = ", v, " is out of range [1, ", max, "]"));
    return Status::Ok();
  };
  ENCORE_RETURN_IF_ERROR(positive("hidden_size", c.hidden_size(), 65536));
  ENCORE_RETURN_IF_ERROR(positive("head_count", c.head_count(), 4096));
  ENCORE_RETURN_IF_ERROR(positive("layer_count", c.layer_count(), 1024));
  ENCORE_RETURN_IF_ERROR(positive("intermediate_size", c.intermediate_size(), 1 << 20));
  ENCORE_RETURN_IF_ERROR(positive("max_positions", c.max_positions(), 1 << 20));
  ENCORE_RETURN_IF_ERROR(positive("vocab_size", c.vocab_size(), 1 << 24));
  if (c.type_vocab_size() < 0 || c.type_vocab_size() > 1 << 16) {
    return invalid_model(cat("config.type_vocab_size = ", c.type_vocab_size(), " is out of range [0, 65536]"));
  }
  if (c.embedding_size() < 0 || c.embedding_size() > 65536) {
    return invalid_model(cat("config.embedding_size = ", c.embedding_size(), " is out of range [0, 65536]"));
  }
  if (c.hidden_size() % c.head_count() != 0) {
    return invalid_model(cat("config: hidden_size ", c.hidden_size(), " is not divisible by head_count ", c.head_count()));
  }
  if (!(c.layer_norm_eps() > 0.0f) || !std::isfinite(c.layer_norm_eps())) {
    return invalid_model(cat("config.layer_norm_eps = ", c.layer_norm_eps(), " must be finite and > 0"));
  }
  auto act = c.activation();
  if (act != fb::ActivationKind::GeluErf && act != fb::ActivationKind::GeluTanh && act != fb::ActivationKind::Relu) {
    return invalid_model(cat("config.activation = ", static_cast<int>(act), " is unknown"));
  }
  const auto family = c.family();
  if (family != fb::Family::Bert && family != fb::Family::DistilBert && family != fb::Family::Roberta &&
      family != fb::Family::Electra && family != fb::Family::ModernBert) {
    return invalid_model(cat("config.family = ", static_cast<int>(family), " is unknown"));
  }
  const auto pooler_act = c.pooler_activation();
  if (pooler_act != fb::PoolerActivation::Tanh && pooler_act != fb::PoolerActivation::Relu &&
      pooler_act != fb::PoolerActivation::Gelu) {
    return invalid_model(cat("config.pooler_activation = ", static_cast<int>(pooler_act), " is unknown"));
  }
  const auto head = c.head();
  if (head != fb::HeadKind::Pooled && head != fb::HeadKind::TokenClassification &&
      head != fb::HeadKind::QuestionAnswering && head != fb::HeadKind::MaskedLm) {
    return invalid_model(cat("config.head = ", static_cast<int>(head), " is unknown"));
  }
  const auto problem = c.problem_type();
  if (problem != fb::ProblemType::SingleLabel && problem != fb::ProblemType::MultiLabel &&
      problem != fb::ProblemType::Regression) {
    return invalid_model(cat("config.problem_type = ", static_cast<int>(problem), " is unknown"));
  }
  const auto head_act = c.head_activation();
  if (head_act != fb::ActivationKind::GeluErf && head_act != fb::ActivationKind::GeluTanh &&
      head_act != fb::ActivationKind::Relu) {
    return invalid_model(cat("config.head_activation = ", static_cast<int>(head_act), " is unknown"));
  }
  out->head = static_cast<HeadKind>(head);
  out->problem_type = static_cast<ProblemType>(problem);
  out->head_activation = static_cast<Activation>(head_act);
  out->family = static_cast<Family>(family);
  out->embedding_size = c.embedding_size();
  out->pooler_activation = static_cast<PoolerActivation>(pooler_act);
  out->pooler_output = c.pooler_output();
  out->hidden_size = c.hidden_size();
  out->head_count = c.head_count();
  out->layer_count = c.layer_count();
  out->intermediate_size = c.intermediate_size();
  out->activation = static_cast<Activation>(act);
  out->layer_norm_eps = c.layer_norm_eps();
  out->max_positions = c.max_positions();
  out->vocab_size = c.vocab_size();
  out->type_vocab_size = c.type_vocab_size();
  out->pad_token_id = c.pad_token_id();
  out->has_pooler = c.has_pooler();
  if (c.labels()) {
    if (c.labels()->size() > 1u << 16) return invalid_model("config.labels: too many labels");
    for (const auto* s : *c.labels()) out->labels.push_back(s ? s->str() : std::string());
  }
  ENCORE_RETURN_IF_ERROR(check_modernbert(c, out));
  if (out->has_classifier() && !out->has_pooler && !out->is_modernbert()) {
    return invalid_model("config: a classifier needs the pooler, but has_pooler is false");
  }
  if (out->head != HeadKind::kPooled && out->has_pooler) {
    return invalid_model(cat("config: a ", head_kind_name(out->head), " head has no pooler, but has_pooler is true"));
  }
  if (out->head == HeadKind::kTokenClassification && out->labels.empty()) {
    return invalid_model("config: a token-classification head needs labels, but config.labels is empty");
  }
  if (out->problem_type != ProblemType::kSingleLabel && !out->has_classifier()) {
    return invalid_model(cat("config.problem_type ", problem_type_name(out->problem_type),
                             " needs a sequence classifier, which the model does not have"));
  }
  if (out->family == Family::kRoberta &&
      (out->pad_token_id < 0 || out->pad_token_id >= out->vocab_size || out->max_sequence_length() < 1)) {
    return invalid_model(cat("config: pad_token_id ", out->pad_token_id, " leaves no position for a token (",
                             out->max_positions, " positions, RoBERTa's start after pad_token_id)"));
  }
  ENCORE_RETURN_IF_ERROR(check_sentence(c, out));
  if (out->family != Family::kElectra && out->embedding_size != 0 && out->embedding_size != out->hidden_size) {
    return invalid_model(cat("config: embedding_size ", out->embedding_size, " differs from hidden_size in a ",
                             family_name(out->family), " model"));
  }
  return Status::Ok();
}

// Per-layer shapes of a pruned model (format version 2): one entry per layer, each with 1 to
// head_count distinct original head indices in ascending order and an FFN width in
// [1, intermediate_size]. The tensors are then checked against these shapes.
Status check_layer_shapes(const fb::EncoderConfig& c, uint32_t version, EncoderConfig* out) {
  const bool family_fields = out->family != Family::kBert || out->embedding_size != 0 ||
                             out->pooler_activation != PoolerActivation::kTanh || !out->pooler_output ||
                             out->type_vocab_size == 0;
  if (family_fields && version < format::kFormatVersionFamilies) {
    return invalid_model(cat("config: a ", family_name(out->family), " model's fields need format version ",
                             format::kFormatVersionFamilies, ", but the file says version ", version));
  }
  const bool head_fields = out->head != HeadKind::kPooled || out->problem_type != ProblemType::kSingleLabel;
  if (head_fields && version < format::kFormatVersionHeads) {
    return invalid_model(cat("config: a ", head_kind_name(out->head), " head (problem_type ",
                             problem_type_name(out->problem_type), ") needs format version ", format::kFormatVersionHeads,
                             ", but the file says version ", version));
  }
  if (out->is_modernbert() && version < format::kFormatVersionModernBert) {
    return invalid_model(cat("config: a modernbert model needs format version ", format::kFormatVersionModernBert,
                             ", but the file says version ", version));
  }
  if (out->is_modernbert() && c.layers()) return invalid_model("config.layers: a pruned modernbert model is not supported");
  if (out->has_sentence_embedding() && version < format::kFormatVersionSentence) {
    return invalid_model(cat("config.sentence (sentence-transformers modules) needs format version ",
                             format::kFormatVersionSentence, ", but the file says version ", version));
  }
  if (!c.layers()) return Status::Ok();
  if (version < format::kFormatVersionPruned) {
    return invalid_model(cat("config.layers (a pruned model) needs format version ", format::kFormatVersionPruned,
                             ", but the file says version ", version));
  }
  if (c.layers()->size() != static_cast<uint32_t>(out->layer_count)) {
    return invalid_model(cat("config.layers has ", c.layers()->size(), " entries for ", out->layer_count, " layers"));
  }
  for (uint32_t l = 0; l < c.layers()->size(); ++l) {
    const fb::LayerShape* shape = c.layers()->Get(l);
    const auto* heads = shape->heads();
    if (!heads || heads->size() == 0 || heads->size() > static_cast<uint32_t>(out->head_count)) {
      return invalid_model(cat("config.layers[", l, "]: ", heads ? heads->size() : 0, " heads, expected 1 to ",
                               out->head_count));
    }
    std::vector<int32_t> kept;
    for (int32_t h : *heads) {
      if (h < 0 || h >= out->head_count || (!kept.empty() && h <= kept.back())) {
        return invalid_model(cat("config.layers[", l, "]: head index ", h,
                                 " is out of range or not in ascending order (head_count ", out->head_count, ")"));
      }
      kept.push_back(h);
    }
    const int32_t width = shape->intermediate_size();
    if (width < 1 || width > out->intermediate_size) {
      return invalid_model(cat("config.layers[", l, "]: intermediate_size ", width, " is outside [1, ",
                               out->intermediate_size, "]"));
    }
    out->layer_heads.push_back(std::move(kept));
    out->layer_intermediate_sizes.push_back(width);
  }
  return Status::Ok();
}

Status check_tensor(const fb::Tensor& t, const fb::Model& m, const internal::ModelBytes& bytes,
                    TensorInfo* info) {
  const std::string name = t.name()->str();
  size_t esize = dtype_size(t.dtype());
  if (esize == 0) return invalid_model(cat("tensor '", name, "': unknown dtype ", static_cast<int>(t.dtype())));
  if (!t.shape() || t.shape()->size() == 0 || t.shape()->size() > 8) {
    return invalid_model(cat("tensor '", name, "': shape must have 1 to 8 dimensions"));
  }
  uint64_t count = 1;
  for (int64_t d : *t.shape()) {
    if (d <= 0 || d > kMaxDim) return invalid_model(cat("tensor '", name, "': dimension ", d, " is out of range"));
    if (!checked_mul(count, static_cast<uint64_t>(d), &count)) {
      return invalid_model(cat("tensor '", name, "': element count overflows"));
    }
  }
  uint64_t nbytes = 0;
  if (!checked_mul(count, esize, &nbytes)) return invalid_model(cat("tensor '", name, "': byte size overflows"));
  uint32_t bi = t.buffer();
  if (!m.buffers() || bi >= m.buffers()->size()) {
    return invalid_model(cat("tensor '", name, "': buffer index ", bi, " is out of range"));
  }
  const fb::BufferRef* ref = m.buffers()->Get(bi);
  if (ref->size() != nbytes) {
    return invalid_model(cat("tensor '", name, "': buffer holds ", ref->size(), " bytes, but ",
                             dtype_name(t.dtype()), " x ", count, " needs ", nbytes));
  }
  info->tensor = &t;
  info->data = bytes.data() + ref->offset();
  if (const auto* q = t.quantization()) {
    int64_t axis = q->axis();
    if (axis < 0 || axis >= static_cast<int64_t>(t.shape()->size())) {
      return invalid_model(cat("tensor '", name, "': quantization axis ", axis, " is out of range"));
    }
    uint64_t channels = static_cast<uint64_t>(t.shape()->Get(static_cast<uint32_t>(axis)));
    uint64_t n = q->scale() ? q->scale()->size() : 0;
    if (n != 1 && n != channels) {
      return invalid_model(cat("tensor '", name, "': ", n, " scales for ", channels, " channels"));
    }
    for (float s : *q->scale()) {
      if (!std::isfinite(s) || !(s > 0.0f)) return invalid_model(cat("tensor '", name, "': scale ", s, " is not finite and > 0"));
    }
    if (q->zero_point()) {
      if (q->zero_point()->size() != n) {
        return invalid_model(cat("tensor '", name, "': ", q->zero_point()->size(), " zero points for ", n, " scales"));
      }
      for (int32_t z : *q->zero_point()) {
        if (z < -128 || z > 127) return invalid_model(cat("tensor '", name, "': zero point ", z, " is outside [-128, 127]"));
      }
    }
  }
  return Status::Ok();
}

// Looks tensors up by canonical name and checks dtype and shape.
class TensorResolver {
 public:
  explicit TensorResolver(const std::unordered_map<std::string, TensorInfo>& by_name) : by_name_(by_name) {}

  Result<const TensorInfo*> get(const std::string& name, fb::DType dtype, std::vector<int64_t> shape) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return invalid_model(cat("missing tensor '", name, "'"));
    const fb::Tensor& t = *it->second.tensor;
    if (t.dtype() != dtype) {
      return invalid_model(cat("tensor '", name, "' is ", dtype_name(t.dtype()), ", expected ", dtype_name(dtype)));
    }
    bool same = t.shape()->size() == shape.size();
    for (size_t i = 0; same && i < shape.size(); ++i) same = t.shape()->Get(static_cast<uint32_t>(i)) == shape[i];
    if (!same) return invalid_model(cat("tensor '", name, "' has shape ", shape_str(t), ", expected ", shape_str(shape)));
    return &it->second;
  }

  const float* f32(const std::string& name, std::vector<int64_t> shape, Status* st) const {
    auto r = get(name, fb::DType::F32, std::move(shape));
    if (!r.ok()) { *st = r.status(); return nullptr; }
    return reinterpret_cast<const float*>((*r)->data);
  }

  // Per-row scales with zero point 0, as the converter writes int8 weights.
  Status per_row_scales(const TensorInfo& info, const std::string& name, int64_t rows, const float** scales) const {
    const auto* q = info.tensor->quantization();
    if (!q || q->axis() != 0 || !q->scale() || q->scale()->size() != static_cast<uint32_t>(rows)) {
      return invalid_model(cat("tensor '", name, "': int8 weights need one scale per output row"));
    }
    if (q->zero_point()) {
      for (int32_t z : *q->zero_point()) {
        if (z != 0) return invalid_model(cat("tensor '", name, "': weight zero points must be 0"));
      }
    }
    *scales = q->scale()->data();
    return Status::Ok();
  }

 private:
  static std::string shape_str(const fb::Tensor& t) {
    std::vector<int64_t> s(t.shape()->begin(), t.shape()->end());
    return shape_str(s);
  }
  static std::string shape_str(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  }
  const std::unordered_map<std::string, TensorInfo>& by_name_;
};

// f32_bias: an int8 weight with an f32 bias (the FFN-down of a model with per-token scales
// there, whose bias cannot be in accumulator units: the input scale changes per token).
Status resolve_linear(const TensorResolver& r, bool quantized, const std::string& prefix, int64_t out,
                      int64_t in, internal::LinearWeights* w, bool f32_bias = false) {
  w->out = out;
  w->in = in;
  Status st;
  if (f32_bias && quantized) {
    w->bias_f32 = r.f32(prefix + ".bias", {out}, &st);
    ENCORE_RETURN_IF_ERROR(st);
  }
  if (!quantized) {
    w->weight_f32 = r.f32(prefix + ".weight", {out, in}, &st);
    ENCORE_RETURN_IF_ERROR(st);
    w->bias_f32 = r.f32(prefix + ".bias", {out}, &st);
    return st;
  }
  ENCORE_ASSIGN_OR_RETURN(const TensorInfo* wt, r.get(prefix + ".weight", fb::DType::I8, {out, in}));
  w->weight_i8 = reinterpret_cast<const int8_t*>(wt->data);
  ENCORE_RETURN_IF_ERROR(r.per_row_scales(*wt, prefix + ".weight", out, &w->weight_scales));
  if (f32_bias) return Status::Ok();
  ENCORE_ASSIGN_OR_RETURN(const TensorInfo* bt, r.get(prefix + ".bias", fb::DType::I32, {out}));
  w->bias_i32 = reinterpret_cast<const int32_t*>(bt->data);
  return Status::Ok();
}

// The per-token heads, f32 in every model: token classification and QA one linear layer; the
// masked LM its transform (dense, LayerNorm) and the decoder's bias, the decoder's weights being
// the word embeddings (tied, as Hugging Face ties them).
Status resolve_token_head(const TensorResolver& r, const EncoderConfig& c, internal::ModelWeights* w) {
  const int64_t H = c.hidden_size;
  Status st;
  if (c.head == HeadKind::kTokenClassification || c.head == HeadKind::kQuestionAnswering) {
    const int64_t W = c.token_logit_width();
    w->token_head_weight = r.f32("token_head.weight", {W, H}, &st);
    ENCORE_RETURN_IF_ERROR(st);
    w->token_head_bias = r.f32("token_head.bias", {W}, &st);
    return st;
  }
  if (c.head != HeadKind::kMaskedLm) return Status::Ok();
  if (c.is_modernbert()) {  // the transform is the ModernBertPredictionHead (resolve_modernbert)
    w->mlm_transform_weight = w->head_dense_weight;
    w->mlm_transform_bias = w->head_dense_bias;
    w->mlm_norm = w->head_norm;
    w->mlm_decoder_bias = r.f32("mlm.decoder.bias", {c.vocab_size}, &st);
    return st;
  }
  const int64_t T = c.mlm_width();
  w->mlm_transform_weight = r.f32("mlm.transform.weight", {T, H}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  w->mlm_transform_bias = r.f32("mlm.transform.bias", {T}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  w->mlm_norm.gamma = r.f32("mlm.norm.gamma", {T}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  w->mlm_norm.beta = r.f32("mlm.norm.beta", {T}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  w->mlm_decoder_bias = r.f32("mlm.decoder.bias", {c.vocab_size}, &st);
  return st;
}

// Model.layer_precision (format version 7): only in int8 models, one entry per layer, at least
// one block f32.
Status check_layer_precision(const fb::Model& m, const EncoderConfig& c, std::vector<LayerPrecision>* out) {
  const auto* lp = m.layer_precision();
  if (!lp) return Status::Ok();
  if (m.format_version() < format::kFormatVersionMixedPrecision) {
    return invalid_model(cat("layer_precision needs format version ", format::kFormatVersionMixedPrecision,
                             ", but the file says version ", m.format_version()));
  }
  if (m.quant_mode() != fb::QuantMode::Int8) return invalid_model("layer_precision in a model that is not int8");
  if (lp->size() != static_cast<uint32_t>(c.layer_count)) {
    return invalid_model(cat("layer_precision has ", lp->size(), " entries for ", c.layer_count, " layers"));
  }
  for (const fb::LayerPrecision* p : *lp) out->push_back({p->attention_f32(), p->ffn_f32()});
  return Status::Ok();
}

// ModernBERT's final norm and, with a head, its ModernBertPredictionHead (which a fill-mask
// head runs as its transform).
Status resolve_modernbert(const TensorResolver& r, const EncoderConfig& c, internal::ModelWeights* w) {
  const int64_t H = c.hidden_size;
  Status st;
  w->final_norm.gamma = r.f32("final_norm.gamma", {H}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  w->final_norm.beta = r.f32("final_norm.beta", {H}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  if (!c.has_classifier() && !c.has_token_head()) return Status::Ok();
  w->head_dense_weight = r.f32("head.dense.weight", {H, H}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  w->head_dense_bias = r.f32("head.dense.bias", {H}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  w->head_norm.gamma = r.f32("head.norm.gamma", {H}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  w->head_norm.beta = r.f32("head.norm.beta", {H}, &st);
  return st;
}

Status resolve_weights(const fb::Model& m, const EncoderConfig& c,
                       const std::unordered_map<std::string, TensorInfo>& by_name,
                       const std::vector<LayerPrecision>& precision, internal::ModelWeights* w) {
  TensorResolver r(by_name);
  const int64_t H = c.hidden_size, E = c.embedding_width();
  w->quantized = m.quant_mode() == fb::QuantMode::Int8;
  w->ffn_down_row_scales = m.ffn_down_row_scales();
  if (w->ffn_down_row_scales) {
    if (m.format_version() < format::kFormatVersionRowScales) {
      return invalid_model(cat("ffn_down_row_scales needs format version ", format::kFormatVersionRowScales,
                               ", the file says ", m.format_version()));
    }
    if (!w->quantized) return invalid_model("ffn_down_row_scales in a model that is not int8");
    if (!c.is_modernbert()) return unsupported("ffn_down_row_scales in a model that is not ModernBERT");
  }
  Status st;

  if (w->quantized) {
    ENCORE_ASSIGN_OR_RETURN(const TensorInfo* we, r.get("embeddings.word", fb::DType::F16, {c.vocab_size, E}));
    w->word_f16 = reinterpret_cast<const uint16_t*>(we->data);
  } else {
    w->word_f32 = r.f32("embeddings.word", {c.vocab_size, E}, &st);
    ENCORE_RETURN_IF_ERROR(st);
  }
  if (!c.is_modernbert()) {  // ModernBERT's positions are rotary, computed
    w->position = r.f32("embeddings.position", {c.max_positions, E}, &st);
    ENCORE_RETURN_IF_ERROR(st);
  }
  if (c.type_vocab_size > 0) {
    w->token_type = r.f32("embeddings.token_type", {c.type_vocab_size, E}, &st);
    ENCORE_RETURN_IF_ERROR(st);
  }
  w->embed_norm.gamma = r.f32("embeddings.norm.gamma", {E}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  w->embed_norm.beta = r.f32("embeddings.norm.beta", {E}, &st);
  ENCORE_RETURN_IF_ERROR(st);
  if (E != H) {  // ELECTRA: the embeddings projected to the hidden width, f32 in every model
    w->embed_project_weight = r.f32("embeddings.project.weight", {H, E}, &st);
    ENCORE_RETURN_IF_ERROR(st);
    w->embed_project_bias = r.f32("embeddings.project.bias", {H}, &st);
    ENCORE_RETURN_IF_ERROR(st);
  }

  std::unordered_map<std::string, const fb::ActivationQuant*> acts;
  if (m.activations()) {
    for (const auto* a : *m.activations()) acts[a->name()->str()] = a;
  }

  w->layers.resize(static_cast<size_t>(c.layer_count));
  for (int l = 0; l < c.layer_count; ++l) {
    auto& L = w->layers[static_cast<size_t>(l)];
    auto name = [&](const char* s) { return format::layer_name(l, s); };
    // A pruned layer's attention width is its kept heads x head size; its FFN width its own.
    const int64_t A = int64_t{c.heads_in_layer(l)} * c.head_dim(), I = c.intermediate_in_layer(l);
    if (!precision.empty()) {
      L.attention_f32 = precision[static_cast<size_t>(l)].attention_f32;
      L.ffn_f32 = precision[static_cast<size_t>(l)].ffn_f32;
    }
    const bool attention_q8 = w->quantized && !L.attention_f32, ffn_q8 = w->quantized && !L.ffn_f32;
    ENCORE_RETURN_IF_ERROR(resolve_linear(r, attention_q8, name("qkv"), 3 * A, H, &L.qkv));
    ENCORE_RETURN_IF_ERROR(resolve_linear(r, attention_q8, name("attn_out"), H, A, &L.attn_out));
    ENCORE_RETURN_IF_ERROR(resolve_linear(r, ffn_q8, name("ffn_up"), c.ffn_up_width(l), H, &L.ffn_up));
    ENCORE_RETURN_IF_ERROR(resolve_linear(r, ffn_q8, name("ffn_down"), H, I, &L.ffn_down, w->ffn_down_row_scales));
    for (auto [norm, base] : {std::pair{&L.attn_norm, "attn_norm"}, std::pair{&L.ffn_norm, "ffn_norm"}}) {
      if (c.is_modernbert() && l == 0 && norm == &L.attn_norm) continue;  // nn.Identity in layer 0
      norm->gamma = r.f32(name(base) + ".gamma", {H}, &st);
      ENCORE_RETURN_IF_ERROR(st);
      norm->beta = r.f32(name(base) + ".beta", {H}, &st);
      ENCORE_RETURN_IF_ERROR(st);
    }
    if (!w->quantized) continue;
    for (size_t p = 0; p < format::kActivationPointCount; ++p) {
      std::string an = name(format::kActivationPoints[p]);
      auto it = acts.find(an);
      if (it == acts.end()) return invalid_model(cat("missing activation quantization '", an, "'"));
      float s = it->second->scale();
      int32_t z = it->second->zero_point();
      if (!std::isfinite(s) || !(s > 0.0f)) return invalid_model(cat("activation '", an, "': scale ", s, " is not finite and > 0"));
      if (z < -128 || z > 127) return invalid_model(cat("activation '", an, "': zero point ", z, " is outside [-128, 127]"));
      bool symmetric = p == format::kQOutput || p == format::kKOutput || p == format::kVOutput;
      if (symmetric && z != 0) return invalid_model(cat("activation '", an, "': zero point must be 0"));
      L.act[p] = {s, z};
    }
  }

  if (c.is_modernbert()) ENCORE_RETURN_IF_ERROR(resolve_modernbert(r, c, w));
  if (c.has_pooler) {
    w->pooler_weight = r.f32("pooler.weight", {H, H}, &st);
    ENCORE_RETURN_IF_ERROR(st);
    w->pooler_bias = r.f32("pooler.bias", {H}, &st);
    ENCORE_RETURN_IF_ERROR(st);
  }
  // Dense modules: f32 in every model (they run on one row per sequence).
  for (size_t i = 0; i < c.sentence.dense.size(); ++i) {
    const SentenceDense& d = c.sentence.dense[i];
    internal::SentenceDenseWeights dw;
    dw.weight = r.f32(format::sentence_dense_name(i, "weight"), {d.out_features, d.in_features}, &st);
    ENCORE_RETURN_IF_ERROR(st);
    if (d.bias) {
      dw.bias = r.f32(format::sentence_dense_name(i, "bias"), {d.out_features}, &st);
      ENCORE_RETURN_IF_ERROR(st);
    }
    w->sentence_dense.push_back(dw);
  }
  if (c.has_classifier()) {
    const int64_t L = static_cast<int64_t>(c.labels.size());
    w->classifier_weight = r.f32("classifier.weight", {L, H}, &st);
    ENCORE_RETURN_IF_ERROR(st);
    w->classifier_bias = r.f32("classifier.bias", {L}, &st);
    ENCORE_RETURN_IF_ERROR(st);
  }
  return resolve_token_head(r, c, w);
}

std::string str_or_empty(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

Result<std::unique_ptr<Model::Impl>> parse(internal::ModelBytes bytes, const std::string& what) {
  const uint8_t* data = bytes.data();
  const size_t size = bytes.size();
  if (size < 12) return invalid_model(cat(what, ": file is ", size, " bytes, too small for an encore model"));
  if (std::memcmp(data + 8, format::kFileIdentifier, 4) != 0) {
    return invalid_model(cat(what, ": not an encore model (file identifier is not \"ENCR\")"));
  }
  uint32_t fb_size = flatbuffers::ReadScalar<uint32_t>(data);
  if (fb_size > size - 4) {
    return invalid_model(cat(what, ": header claims ", fb_size, " bytes but the file has ", size - 4, " after the prefix"));
  }
  flatbuffers::Verifier verifier(data, size_t{fb_size} + 4, /*max_depth=*/64, /*max_tables=*/4000000);
  if (!fb::VerifySizePrefixedModelBuffer(verifier)) {
    return invalid_model(cat(what, ": the model header is corrupt (FlatBuffers verification failed)"));
  }
  const fb::Model& m = *fb::GetSizePrefixedModel(data);
  if (m.format_version() < format::kFormatVersionUniform || m.format_version() > format::kFormatVersion) {
    return invalid_model(cat(what, ": format version ", m.format_version(), " is not supported (this build reads versions ",
                             format::kFormatVersionUniform, " to ", format::kFormatVersion, ")"));
  }
  if (m.quant_mode() != fb::QuantMode::F32 && m.quant_mode() != fb::QuantMode::Int8) {
    return invalid_model(cat(what, ": unknown quantization mode ", static_cast<int>(m.quant_mode())));
  }

  auto impl = std::make_unique<Model::Impl>(std::move(bytes));
  Status st = check_config(*m.config(), &impl->config);
  if (st.ok()) st = check_layer_shapes(*m.config(), m.format_version(), &impl->config);
  if (!st.ok()) return st.with_context(what);

  // The FlatBuffers verifier checks that vectors lie inside the buffer, not that the elements
  // of 8-byte types are 8-byte aligned; a writer always aligns them, a crafted file need not,
  // and a misaligned 64-bit load is undefined (and faults on some ARM cores).
  auto aligned8 = [](const auto* v) { return !v || reinterpret_cast<uintptr_t>(v->Data()) % 8 == 0; };
  bool misaligned = !aligned8(m.buffers());
  if (m.tensors()) {
    for (const fb::Tensor* t : *m.tensors()) misaligned |= !aligned8(t->shape());
  }
  if (misaligned) return invalid_model(cat(what, ": the model header is corrupt (misaligned 64-bit vector)"));

  const uint64_t data_start = round_up(size_t{fb_size} + 4, format::kBufferAlignment);
  if (m.buffers()) {
    uint32_t i = 0;
    for (const fb::BufferRef* b : *m.buffers()) {
      uint64_t end = 0;
      if (b->offset() % format::kBufferAlignment != 0 || b->offset() < data_start ||
          !checked_add(b->offset(), b->size(), &end) || end > size) {
        return invalid_model(cat(what, ": buffer ", i, " [", b->offset(), ", +", b->size(),
                                 ") is misaligned or outside the file's data section (", size, " bytes)"));
      }
      ++i;
    }
  }
  std::unordered_map<std::string, TensorInfo> by_name;
  if (m.tensors()) {
    for (const fb::Tensor* t : *m.tensors()) {
      TensorInfo info;
      st = check_tensor(*t, m, impl->bytes, &info);
      if (!st.ok()) return st.with_context(what);
      if (!by_name.emplace(t->name()->str(), info).second) {
        return invalid_model(cat(what, ": tensor '", t->name()->str(), "' appears twice"));
      }
    }
  }
  st = check_layer_precision(m, impl->config, &impl->metadata.layer_precision);
  if (st.ok()) st = resolve_weights(m, impl->config, by_name, impl->metadata.layer_precision, &impl->weights);
  if (!st.ok()) return st.with_context(what);

  if (const auto* tok = m.tokenizer()) {
    if (tok->vocab()) {
      if (tok->vocab()->size() != static_cast<uint32_t>(impl->config.vocab_size)) {
        return invalid_model(cat(what, ": tokenizer has ", tok->vocab()->size(), " tokens but vocab_size is ",
                                 impl->config.vocab_size));
      }
      impl->tokenizer.vocab.reserve(tok->vocab()->size());
      for (const auto* s : *tok->vocab()) impl->tokenizer.vocab.push_back(str_or_empty(s));
    }
    impl->tokenizer.do_lower_case = tok->do_lower_case();
    impl->tokenizer.strip_accents_set = tok->strip_accents_set();
    impl->tokenizer.strip_accents = tok->strip_accents();
    impl->tokenizer.json = str_or_empty(tok->json());
    impl->tokenizer.source = str_or_empty(tok->source());
    impl->tokenizer.model_max_length = tok->model_max_length();
    if (!impl->tokenizer.json.empty() && m.format_version() < format::kFormatVersionTokenizerJson) {
      return invalid_model(cat(what, ": tokenizer.json needs format version ", format::kFormatVersionTokenizerJson,
                               ", but the file says version ", m.format_version()));
    }
    if (impl->tokenizer.model_max_length < 0) {
      return invalid_model(cat(what, ": tokenizer model_max_length ", impl->tokenizer.model_max_length, " is negative"));
    }
    if (impl->tokenizer.source.empty() && !impl->tokenizer.vocab.empty()) impl->tokenizer.source = "vocab.txt";
  }
  if (const auto* md = m.metadata()) {
    impl->metadata.source = str_or_empty(md->source());
    impl->metadata.converter_version = str_or_empty(md->converter_version());
    impl->metadata.created_utc = str_or_empty(md->created_utc());
    impl->metadata.calibration = str_or_empty(md->calibration());
  }
  if (const auto* g = m.quality_gate()) {
    QualityGateFigures& q = impl->metadata.quality_gate;
    q.ran = true;
    q.max_cosine_drop = g->max_cosine_drop();
    q.heldout_sequences = g->heldout_sequences();
    q.heldout_tokens = g->heldout_tokens();
    q.int8_mean_cosine = g->int8_mean_cosine();
    q.int8_p1_cosine = g->int8_p1_cosine();
    q.mean_cosine = g->mean_cosine();
    q.p1_cosine = g->p1_cosine();
    q.min_cosine = g->min_cosine();
    q.passed = g->passed();
  }
  return impl;
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

Result<std::shared_ptr<const Model>> Model::load(const std::string& path, const LoadOptions& options) {
  ENCORE_ASSIGN_OR_RETURN(auto bytes, internal::ModelBytes::map_file(path, options.max_file_size));
  ENCORE_ASSIGN_OR_RETURN(auto impl, parse(std::move(bytes), path));
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

Result<std::shared_ptr<const Model>> Model::load_from_memory(std::vector<uint8_t> data, const LoadOptions& options) {
  if (data.size() > options.max_file_size) return invalid_model("in-memory model is over the size limit");
  ENCORE_ASSIGN_OR_RETURN(auto impl, parse(internal::ModelBytes::from_vector(std::move(data)), "in-memory model"));
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

const EncoderConfig& Model::config() const { return impl_->config; }
bool Model::is_quantized() const { return impl_->weights.quantized; }
const TokenizerInfo& Model::tokenizer() const { return impl_->tokenizer; }
const ModelMetadata& Model::metadata() const { return impl_->metadata; }
uint64_t Model::file_size() const { return impl_->bytes.size(); }
const internal::ModelWeights& internal::weights_of(const Model& model) { return model.impl().weights; }

}  // namespace encore
