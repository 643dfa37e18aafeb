#include "encoder/layer_ops.h"

#include "core/str.h"
#include "kernels/elementwise.h"
#include "kernels/rotary.h"
#include "model/format.h"

namespace encore::internal {
namespace fmt = format;

const Qs8GemmKernel* choose_int8_gemm(Int8Gemm choice, Qs8GemmKernel* storage) {
  *storage = qs8_gemm_best_kernel();
  const bool own = choice == Int8Gemm::kOwn || (choice == Int8Gemm::kAuto && qs8_gemm_beats_xnnpack(*storage));
  return own ? storage : nullptr;
}

namespace {

Status create_f32_layer(const LayerWeights& w, size_t l, LayerOps* ops) {
  LinearOp* op[] = {&ops->qkv, &ops->attn_out, &ops->ffn_up, &ops->ffn_down};
  const LinearWeights* lw[] = {&w.qkv, &w.attn_out, &w.ffn_up, &w.ffn_down};
  for (size_t i = 0; i < 4; ++i) {
    auto r = LinearOp::create_f32(lw[i]->out, lw[i]->in, lw[i]->weight_f32, lw[i]->bias_f32, "");
    if (!r.ok()) return r.status().with_context(cat("layer ", l, " ", fmt::kLinearNames[i]));
    *op[i] = std::move(r).value();
  }
  return Status::Ok();
}

// Each int8 projection writes its output in the calibrated scale of the point after it: the fused QKV
// projection three scales (Q, K, V columns), the others one. The FFN activation becomes a table
// from ffn_up's output codes to ffn_down's input codes. A block kept in f32 gets f32 operators.
// With per-token scales at the FFN-down input (row_scales), ffn_down runs on codes of nominal
// scale 1 without a bias, its output codes relative to the token's scale (the residual step
// multiplies the token's scale back in and adds the f32 bias), and the GeGLU table gives the
// product's real value per code instead of a code.
Status create_qs8_layer(const LayerWeights& w, const EncoderConfig& c, size_t l, const Qs8GemmKernel* own_gemm,
                        bool row_scales, LayerOps* ops) {
  const size_t H = static_cast<size_t>(c.hidden_size), I = static_cast<size_t>(w.ffn_up.out);
  const size_t A = static_cast<size_t>(w.attn_out.in);  // kept heads x head_dim
  const auto& a = w.act;
  std::vector<float> qkv_scales(3 * A);
  for (size_t i = 0; i < A; ++i) {
    qkv_scales[i] = a[fmt::kQOutput].scale;
    qkv_scales[A + i] = a[fmt::kKOutput].scale;
    qkv_scales[2 * A + i] = a[fmt::kVOutput].scale;
  }
  struct Spec {
    LinearOp* op;
    const LinearWeights* w;
    size_t input, output, out;  // activation points, output width
  };
  const Spec specs[] = {{&ops->qkv, &w.qkv, fmt::kQkvInput, fmt::kQOutput, 3 * A},
                        {&ops->attn_out, &w.attn_out, fmt::kAttnOutInput, fmt::kAttnOutOutput, H},
                        {&ops->ffn_up, &w.ffn_up, fmt::kFfnUpInput, fmt::kFfnUpOutput, I},
                        {&ops->ffn_down, &w.ffn_down, fmt::kFfnDownInput, fmt::kFfnDownOutput, H}};
  for (size_t i = 0; i < 4; ++i) {
    const Spec& s = specs[i];
    if (i < 2 ? w.attention_f32 : w.ffn_f32) {  // a block kept in f32 (format version 7)
      auto r = LinearOp::create_f32(s.w->out, s.w->in, s.w->weight_f32, s.w->bias_f32, "");
      if (!r.ok()) return r.status().with_context(cat("layer ", l, " ", fmt::kLinearNames[i]));
      *s.op = std::move(r).value();
      continue;
    }
    // The QKV projection's zero point is 0 (Q, K and V are symmetric).
    std::vector<float> uniform;
    const float* scales = qkv_scales.data();
    int32_t zero_point = 0;
    if (i > 0) {
      uniform.assign(s.out, a[s.output].scale);
      scales = uniform.data();
      zero_point = a[s.output].zero_point;
    }
    const bool per_token = row_scales && s.input == fmt::kFfnDownInput;
    LinearWeights unbiased = *s.w;
    const std::vector<int32_t> zeros(per_token ? s.out : 0, 0);
    if (per_token) unbiased.bias_i32 = zeros.data();
    auto r = LinearOp::create_qc8(unbiased, per_token ? ActivationQuant{1.0f, 0} : a[s.input], scales, zero_point, "",
                                  own_gemm);
    if (!r.ok()) return r.status().with_context(cat("layer ", l, " ", fmt::kLinearNames[i]));
    *s.op = std::move(r).value();
  }
  if (w.ffn_f32) return Status::Ok();
  make_activation_lut_qs8(c.activation, a[fmt::kFfnUpOutput].scale, a[fmt::kFfnUpOutput].zero_point,
                          a[fmt::kFfnDownInput].scale, a[fmt::kFfnDownInput].zero_point, ops->activation_lut);
  if (c.is_modernbert()) {
    make_geglu_table_qs8(c.activation, a[fmt::kFfnUpOutput].scale, a[fmt::kFfnUpOutput].zero_point,
                         row_scales ? 1.0f : a[fmt::kFfnDownInput].scale, ops->geglu_table);
  }
  return Status::Ok();
}

// The per-token heads, f32 in every model. The masked LM's decoder is the word embeddings: f32
// in f32 models; in int8 models their f16 copy, widened here to f32 once (XNNPACK packs its own
// copy, so the widened one is freed again). int8 for this [vocab, E] projection was measured
// against f32 (tools/reference/README.md: "The fill-mask decoder").
Status create_token_head_ops(const ModelWeights& w, const EncoderConfig& c, HeadOps* head) {
  if (c.head == HeadKind::kTokenClassification || c.head == HeadKind::kQuestionAnswering) {
    ENCORE_ASSIGN_OR_RETURN(head->token_head, LinearOp::create_f32(c.token_logit_width(), c.hidden_size,
                                                                    w.token_head_weight, w.token_head_bias,
                                                                    c.head == HeadKind::kQuestionAnswering
                                                                        ? "qa_outputs"
                                                                        : "token classifier"));
    return Status::Ok();
  }
  if (c.head != HeadKind::kMaskedLm) return Status::Ok();
  const int64_t T = c.mlm_width();
  ENCORE_ASSIGN_OR_RETURN(head->mlm_transform, LinearOp::create_f32(T, c.hidden_size, w.mlm_transform_weight,
                                                                     w.mlm_transform_bias, "masked-LM transform"));
  const float* decoder = w.word_f32;
  std::vector<float> widened;
  if (!decoder) {
    widened.resize(static_cast<size_t>(c.vocab_size) * static_cast<size_t>(T));
    f16_to_f32(widened.size(), w.word_f16, widened.data());
    decoder = widened.data();
  }
  ENCORE_ASSIGN_OR_RETURN(head->mlm_decoder, LinearOp::create_f32(c.vocab_size, T, decoder, w.mlm_decoder_bias,
                                                                   "masked-LM decoder"));
  return Status::Ok();
}

}  // namespace

Status create_layer_ops(const ModelWeights& w, const EncoderConfig& c, const Qs8GemmKernel* own_gemm,
                        std::vector<LayerOps>* layers) {
  layers->resize(w.layers.size());
  for (size_t l = 0; l < w.layers.size(); ++l) {
    ENCORE_RETURN_IF_ERROR(w.quantized ? create_qs8_layer(w.layers[l], c, l, own_gemm, w.ffn_down_row_scales,
                                                          &(*layers)[l])
                                       : create_f32_layer(w.layers[l], l, &(*layers)[l]));
  }
  return Status::Ok();
}

Status create_head_ops(const ModelWeights& w, const EncoderConfig& c, HeadOps* head) {
  if (w.embed_project_weight) {
    ENCORE_ASSIGN_OR_RETURN(head->embed_project, LinearOp::create_f32(c.hidden_size, c.embedding_width(),
                                                                       w.embed_project_weight, w.embed_project_bias,
                                                                       "embeddings projection"));
  }
  if (c.has_pooler) {
    ENCORE_ASSIGN_OR_RETURN(head->pooler, LinearOp::create_f32(c.hidden_size, c.hidden_size, w.pooler_weight,
                                                                w.pooler_bias, "pooler"));
  }
  head->sentence_dense.clear();
  for (size_t i = 0; i < c.sentence.dense.size(); ++i) {
    const SentenceDense& d = c.sentence.dense[i];
    auto op = LinearOp::create_f32(d.out_features, d.in_features, w.sentence_dense[i].weight, w.sentence_dense[i].bias,
                                   "sentence-transformers Dense");
    if (!op.ok()) return op.status().with_context(cat("sentence-transformers Dense module ", i));
    head->sentence_dense.push_back(std::move(op).value());
  }
  // ModernBERT's ModernBertPredictionHead before its classifiers (the fill-mask head's is its
  // transform, created with the decoder below).
  if (c.is_modernbert() && c.has_classifier()) {
    ENCORE_ASSIGN_OR_RETURN(head->pooler, LinearOp::create_f32(c.hidden_size, c.hidden_size, w.head_dense_weight,
                                                                w.head_dense_bias, "head dense"));
  }
  if (c.is_modernbert() && c.head == HeadKind::kTokenClassification) {
    ENCORE_ASSIGN_OR_RETURN(head->mlm_transform, LinearOp::create_f32(c.hidden_size, c.hidden_size,
                                                                       w.head_dense_weight, w.head_dense_bias,
                                                                       "head dense"));
  }
  if (c.has_classifier()) {
    ENCORE_ASSIGN_OR_RETURN(head->classifier,
                            LinearOp::create_f32(static_cast<int64_t>(c.labels.size()), c.hidden_size,
                                                 w.classifier_weight, w.classifier_bias, "classifier"));
  }
  return create_token_head_ops(w, c, head);
}

}  // namespace encore::internal
