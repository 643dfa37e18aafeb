// The forward pass as a table of steps.
//
// At session creation the encoder's family and dtype select a fixed list of steps: the
// embeddings, then per layer its projections, attention, norms and activation, then the head.
// Each step names its profile step and kernel, its operation and byte cost as a linear function
// of the run's dimensions, the activations it shows an observer, and the function that does its
// work with the operands bound here. run_plan walks the list once per run and wraps every step
// in the same three things: profiling, the error context ("layer 3 attn_out: ...") and
// observation. A family differs by its table (embeddings variant, where the LayerNorms sit,
// activation, position scheme), not by branches in the loop. It is a fixed table per family,
// not a graph: no step is added, removed or reordered at run time, except that the steps of a
// bypassed FFN are skipped.
//
// Adding a family touches: tools/io/hf_config.cc (its model_type and config keys),
// tools/convert/hf_checkpoint.cc (its tensor names to the canonical ones), the schema and
// runtime/model/ (only for tensors or config the format does not have yet), build_plan here
// (its table), steps.cc (only for a kind of step no family had: offset positions, pre-norm, a
// gated FFN), runtime/kernels/ (only for a new kernel job), and tools/reference/ (its PyTorch
// reference, from which the goldens come).
#pragma once

#include <pthreadpool.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "encore/profile.h"
#include "encore/session.h"
#include "encore/status.h"
#include "encoder/activation_arena.h"
#include "model/model_weights.h"

namespace encore::internal {

struct Encoder;
class LinearOp;


// The activation buffers a step reads or writes, resolved against the arena at run time (the
// arena may move when a run needs more room).
enum class Buffer : uint8_t {
  kHidden, kContext, kQkvF32, kProjF32, kFfnF32, kHiddenQ, kQkvQ, kProjQ, kFfnQ,
  kSentenceA, kSentenceB,  // sentence-transformers modules, [batch, width]
};

// What one run is: its inputs, its buffers and its dimensions.
struct RunShape {
  const Inputs* in = nullptr;
  const ActivationBuffers* b = nullptr;
  uint64_t rows = 0;         // packed rows: the real tokens every row-wise step computes
  uint64_t scores = 0;       // query x key pairs over the batch
  uint64_t sequences = 0;    // batch
  pthreadpool_t pool = nullptr;
};

// fixed + per_row x rows + per_score x scores + per_sequence x sequences.
struct Cost {
  uint64_t fixed = 0, per_row = 0, per_score = 0, per_sequence = 0;
  uint64_t at(const RunShape& r) const {
    return fixed + per_row * r.rows + per_score * r.scores + per_sequence * r.sequences;
  }
};

// An activation shown to SessionOptions::observer: `cols` columns from `col_offset` of a
// buffer with `stride` floats per row.
struct Observation {
  uint8_t point = 0;  // format::ActivationPoint
  Buffer buffer = Buffer::kHidden;
  uint32_t col_offset = 0, cols = 0, stride = 0;
};

struct Step;
using StepFn = Status (*)(const Encoder& e, const Step& s, const RunShape& r);

struct Step {
  int32_t layer = -1;  // -1: embeddings and head
  ProfileStep profile = ProfileStep::kEmbeddings;
  const char* kernel = "";  // for the profile
  StepFn run = nullptr;
  Cost ops, bytes;
  // Part of the FFN: skipped when the layer's FFN is bypassed.
  bool ffn = false;
  // Operands. linear: the operator of a projection; in / out: its buffers; width: the columns
  // of a row-wise step (an FFN activation).
  LinearOp* linear = nullptr;
  Buffer in = Buffer::kHidden, out = Buffer::kHidden;
  size_t width = 0;
  // Residual steps: the buffer added to the stream (absent when it is the FFN's output and the
  // FFN is bypassed), the norm, and in int8 models the residual's quantization and the
  // quantization of the next projection's input (absent when that projection is the bypassed
  // FFN's, or past the last layer).
  const NormWeights* norm = nullptr;
  bool residual = false, residual_from_ffn = false;
  ActivationQuant residual_quant;
  bool quantize_next = false, next_is_ffn = false;
  ActivationQuant next_quant;
  // The int8 FFN-down output of a model with per-token scales: residual_quant is relative to
  // each row's scale (ActivationBuffers::row_scales), and `bias` ([hidden], f32) is added.
  bool row_scaled = false;
  const float* bias = nullptr;
  // Observations before and after the step (f32 models with an observer).
  Observation observe[4];
  uint8_t observe_before = 0, observe_after = 0;  // observe[0, before) then [before, before + after)
};

struct Plan {
  Family family = Family::kBert;  // encore/config.h
  std::vector<Step> steps;
  // Steps [head_begin, end) run on the unpacked [batch, seq] rows; the per-token heads run
  // before it, on the packed rows, and their logits are unpacked with the hidden states.
  size_t head_begin = 0;
  // Where the last sentence-transformers step leaves sentence_embedding (with those modules).
  Buffer sentence_output = Buffer::kSentenceA;
};

// The table for the encoder's model; operands point into e.layers and e.head, which must not
// move afterwards.
Status build_plan(Encoder& e, Plan* plan);

// One forward pass: packs the rows, runs the steps, unpacks the result. The inputs are valid
// and the arena is reserved for them. No allocation.
Status run_plan(Encoder& e, const Inputs& in);

// The step functions (steps.cc).
Status step_embeddings(const Encoder& e, const Step& s, const RunShape& r);
Status step_linear(const Encoder& e, const Step& s, const RunShape& r);
Status step_attention(const Encoder& e, const Step& s, const RunShape& r);
Status step_residual_norm_qs8(const Encoder& e, const Step& s, const RunShape& r);
Status step_residual_norm_f32(const Encoder& e, const Step& s, const RunShape& r);
Status step_activation_lut_qs8(const Encoder& e, const Step& s, const RunShape& r);
Status step_activation_f32(const Encoder& e, const Step& s, const RunShape& r);
Status step_pooler(const Encoder& e, const Step& s, const RunShape& r);
Status step_classifier(const Encoder& e, const Step& s, const RunShape& r);
Status step_token_head(const Encoder& e, const Step& s, const RunShape& r);
Status step_mlm_transform(const Encoder& e, const Step& s, const RunShape& r);
Status step_mlm_decoder(const Encoder& e, const Step& s, const RunShape& r);
Status step_sentence_pooling(const Encoder& e, const Step& s, const RunShape& r);
Status step_sentence_dense(const Encoder& e, const Step& s, const RunShape& r);
Status step_sentence_normalize(const Encoder& e, const Step& s, const RunShape& r);
// ModernBERT's (steps.cc): the rotary embedding on Q and K; the pre-norm residual step (the
// stream += the sublayer's output, then the next sublayer's LayerNorm into its input, or the
// final norm in place); the GeGLU; the sequence classifier's pooling + head; the token
// classifier on the head's output.
Status step_rotary_f32(const Encoder& e, const Step& s, const RunShape& r);
Status step_rotary_qs8(const Encoder& e, const Step& s, const RunShape& r);
Status step_pre_norm_f32(const Encoder& e, const Step& s, const RunShape& r);
Status step_pre_norm_qs8(const Encoder& e, const Step& s, const RunShape& r);
Status step_geglu_f32(const Encoder& e, const Step& s, const RunShape& r);
Status step_geglu_qs8(const Encoder& e, const Step& s, const RunShape& r);
Status step_geglu_rows_qs8(const Encoder& e, const Step& s, const RunShape& r);
Status step_pooled_head(const Encoder& e, const Step& s, const RunShape& r);
Status step_token_head_transformed(const Encoder& e, const Step& s, const RunShape& r);

// The address of a buffer in this run's arena.
void* buffer_data(const ActivationBuffers& b, Buffer id);

}  // namespace encore::internal
