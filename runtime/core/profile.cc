#include "encore/profile.h"

namespace encore {

const char* profile_step_name(ProfileStep step) {
  switch (step) {
    case ProfileStep::kEmbeddings: return "embeddings";
    case ProfileStep::kQuantize: return "quantize";
    case ProfileStep::kQkvProjection: return "qkv";
    case ProfileStep::kAttention: return "attention";
    case ProfileStep::kOutputProjection: return "attn_out";
    case ProfileStep::kAttnResidualNorm: return "attn_add_norm";
    case ProfileStep::kFfnUp: return "ffn_up";
    case ProfileStep::kActivation: return "activation";
    case ProfileStep::kFfnDown: return "ffn_down";
    case ProfileStep::kFfnResidualNorm: return "ffn_add_norm";
    case ProfileStep::kPooler: return "pooler";
    case ProfileStep::kClassifier: return "classifier";
    case ProfileStep::kSentencePooling: return "sentence_pooling";
    case ProfileStep::kSentenceDense: return "sentence_dense";
    case ProfileStep::kSentenceNormalize: return "sentence_normalize";
    case ProfileStep::kRotary: return "rotary";
    case ProfileStep::kLocalAttention: return "local_attention";
  }
  return "unknown";
}

bool profile_step_is_linear(ProfileStep step) {
  return step == ProfileStep::kQkvProjection || step == ProfileStep::kOutputProjection ||
         step == ProfileStep::kFfnUp || step == ProfileStep::kFfnDown;
}

}  // namespace encore
