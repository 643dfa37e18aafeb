// Typed, validated views of a model's weights, resolved from names once at load.
// Pointers point into the mapped file (or the in-memory model) and live as long as the Model.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "encore/model.h"
#include "model/format.h"

namespace encore::internal {

// An [out, in] weight with its bias. For int8 models the weight is int8 with one scale per
// output row (zero point 0) and the bias is int32 in accumulator units
// (input_scale * weight_scale[row]); for f32 models both are f32.
struct LinearWeights {
  int64_t out = 0, in = 0;
  const float* weight_f32 = nullptr;
  const int8_t* weight_i8 = nullptr;
  const float* weight_scales = nullptr;  // [out], int8 only
  const float* bias_f32 = nullptr;
  const int32_t* bias_i32 = nullptr;
};

struct ActivationQuant {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

struct NormWeights {
  const float* gamma = nullptr;
  const float* beta = nullptr;
};

struct LayerWeights {
  // In an int8 model, blocks that run in f32 (their LinearWeights then hold f32 weights).
  bool attention_f32 = false, ffn_f32 = false;
  LinearWeights qkv, attn_out, ffn_up, ffn_down;
  NormWeights attn_norm, ffn_norm;
  std::array<ActivationQuant, format::kActivationPointCount> act{};  // int8 only
};

// A sentence-transformers Dense module, f32: weight [out, in], bias [out] or null.
struct SentenceDenseWeights {
  const float* weight = nullptr;
  const float* bias = nullptr;
};

struct ModelWeights {
  bool quantized = false;
  // int8: per-token scales at each layer's FFN-down input (format version 9; ModernBERT). Its
  // ffn_down.output quantization is then relative to the token's scale, and the int8 FFN-down
  // layers carry an f32 bias, added after the dequantization.
  bool ffn_down_row_scales = false;
  // Word embeddings [vocab, E]: f32 in f32 models, f16 in int8 models.
  const float* word_f32 = nullptr;
  const uint16_t* word_f16 = nullptr;
  // Embeddings are E = config.embedding_width() wide.
  const float* position = nullptr;    // [max_positions, E]
  const float* token_type = nullptr;  // [type_vocab, E]; null when type_vocab is 0
  NormWeights embed_norm;             // [E]
  // [hidden, E] and [hidden] when E differs from hidden (ELECTRA), f32 in every model.
  const float* embed_project_weight = nullptr;
  const float* embed_project_bias = nullptr;
  std::vector<LayerWeights> layers;
  // Pooler [hidden, hidden] and classifier [labels, hidden] stay f32 in every model: they run
  // on one row per sequence, so int8 would save nothing and cost accuracy.
  const float* pooler_weight = nullptr;
  const float* pooler_bias = nullptr;
  const float* classifier_weight = nullptr;
  const float* classifier_bias = nullptr;
  // Per-token heads (f32 in every model): token classification / QA [width, hidden]; the
  // masked LM's transform [T, hidden] (T = embedding width), its LayerNorm [T] and the decoder
  // bias [vocab]; the decoder's weights are the word embeddings above.
  const float* token_head_weight = nullptr;
  const float* token_head_bias = nullptr;
  const float* mlm_transform_weight = nullptr;
  const float* mlm_transform_bias = nullptr;
  NormWeights mlm_norm;
  const float* mlm_decoder_bias = nullptr;
  // ModernBERT: the LayerNorm after the last layer [hidden] (beta zeros without norm_bias), and
  // its heads' ModernBertPredictionHead, dense [hidden, hidden] and LayerNorm [hidden], f32 in
  // every model (a fill-mask head's mlm_transform_* and mlm_norm point at them).
  NormWeights final_norm;
  const float* head_dense_weight = nullptr;
  const float* head_dense_bias = nullptr;
  NormWeights head_norm;
  // sentence-transformers Dense modules, in order (empty without them).
  std::vector<SentenceDenseWeights> sentence_dense;
};

// The weights of a loaded model.
const ModelWeights& weights_of(const Model& model);

}  // namespace encore::internal
