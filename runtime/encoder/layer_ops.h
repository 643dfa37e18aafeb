// The operators a session creates once for its model: per layer the four linear layers (XNNPACK,
// or encore's own int8 GEMM where it is faster) and the int8 activation table; the pooler and
// classifier of the head. Creation packs the weights; a run only calls them.
#pragma once

#include <cstdint>
#include <vector>

#include "encore/config.h"
#include "encore/session.h"
#include "encore/status.h"
#include "kernels/gemm.h"
#include "model/model_weights.h"
#include "xnnpack/xnn_linear.h"

namespace encore::internal {

struct LayerOps {
  LinearOp qkv, attn_out, ffn_up, ffn_down;
  int8_t activation_lut[256];  // int8 models: ffn_up output code -> ffn_down input code
  float geglu_table[256];      // int8 ModernBERT: rotary.h make_geglu_table_qs8
};

// The f32 operators outside the layers (created only when the model has them): ELECTRA's
// embedding projection, the pooler (or a head's dense layer) and the classifier.
struct HeadOps {
  LinearOp embed_project, pooler, classifier;
  // Per-token heads: token classification / QA; the masked LM's transform and decoder.
  LinearOp token_head, mlm_transform, mlm_decoder;
  std::vector<LinearOp> sentence_dense;  // sentence-transformers Dense modules, in order
};

// The int8 GEMM that runs the int8 linear layers for this choice on this CPU: encore's own
// kernel, or null for XNNPACK (Int8Gemm::kAuto: see qs8_gemm_beats_xnnpack).
const Qs8GemmKernel* choose_int8_gemm(Int8Gemm choice, Qs8GemmKernel* storage);

// Every layer's operators; an error names the layer and the projection ("layer 3 ffn_up: ...").
Status create_layer_ops(const ModelWeights& w, const EncoderConfig& c, const Qs8GemmKernel* own_gemm,
                        std::vector<LayerOps>* layers);

Status create_head_ops(const ModelWeights& w, const EncoderConfig& c, HeadOps* head);

}  // namespace encore::internal
