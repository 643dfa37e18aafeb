// Per-step timing of a forward pass (SessionOptions::profile).
//
// With profiling on, every step of every layer is timed with a monotonic clock into storage
// the session allocates once at creation; a run then records without allocating. With it off
// (the default) a run checks one flag per step and records nothing.
#pragma once

#include <cstdint>

namespace encore {

enum class ProfileStep : uint8_t {
  kEmbeddings,        // lookup + position + token type + LayerNorm (layer -1)
  kQuantize,          // reserved, never recorded: the step before each linear layer writes its
                      // int8 input; the value keeps the numbering (and the C API's) stable
  kQkvProjection,     // fused Q/K/V linear layer
  kAttention,         // QK^T * scale + mask, softmax, x V, per (sequence, head); one fused kernel
                      // (int8 models: the context written as int8)
  kOutputProjection,  // attention output linear layer
  kAttnResidualNorm,  // residual add (+ dequantize in int8 models) and LayerNorm (+ quantize
                      // of the FFN input in int8 models)
  kFfnUp,             // FFN first linear layer
  kActivation,        // GELU / ReLU (an int8 lookup table in int8 models)
  kFfnDown,           // FFN second linear layer
  kFfnResidualNorm,   // residual add (+ dequantize) and LayerNorm (+ quantize of the next
                      // layer's input)
  kPooler,            // [CLS] rows, linear layer, tanh (layer -1)
  kClassifier,        // linear layer on the pooled output (layer -1)
  // sentence-transformers modules (layer -1): pooling over the attention mask, each Dense
  // module (a linear layer + activation on one row per sequence), Normalize.
  kSentencePooling,
  kSentenceDense,
  kSentenceNormalize,
  // ModernBERT: the rotary position embedding on Q and K; attention within the sliding window
  // (the global layers' attention is kAttention).
  kRotary,
  kLocalAttention,
};
constexpr int kProfileStepCount = 17;

const char* profile_step_name(ProfileStep step);
// True for the steps that are linear layers (GEMMs).
bool profile_step_is_linear(ProfileStep step);

struct ProfileRecord {
  int32_t layer = -1;           // encoder layer, or -1 for embeddings / pooler / classifier
  ProfileStep step = ProfileStep::kEmbeddings;
  const char* kernel = "";      // what ran: "xnnpack qc8 conv 1x1", "encore qs8 gemm avx512vnni 4x64",
                                // ...; valid for the life of the process
  uint64_t start_ns = 0;        // from the start of the run
  uint64_t duration_ns = 0;
  uint64_t operations = 0;      // arithmetic operations (a multiply-add counts 2)
  uint64_t bytes = 0;           // weights and activations read and written (estimate)
};

}  // namespace encore
