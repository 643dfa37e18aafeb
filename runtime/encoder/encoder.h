// The state behind a Session: the model's weights, the operators created for them, the plan of
// steps, the activation arena, the profiler and the ablation switches. Internal: Session holds
// one and forwards to it; the files of runtime/encoder/ each do one job on it:
//   session.cc          public API: creation, run, ablation switches, accessors
//   inputs.{h,cc}       validate the inputs, pack rows to real tokens, unpack the result
//   layer_ops.{h,cc}    the linear operators (XNNPACK or encore's GEMM) and int8 tables
//   attention_jobs.cc   attention as (sequence, head) jobs over the thread pool
//   plan.{h,cc}         the step table of a family and dtype, and the loop that runs it
//   steps.cc            what each kind of step does
// Thread-safety as Session: one thread at a time.
#pragma once

#include <pthreadpool.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "encore/session.h"
#include "encoder/activation_arena.h"
#include "encoder/layer_ops.h"
#include "encoder/plan.h"
#include "encoder/step_profiler.h"
#include "model/model_weights.h"

namespace encore::internal {

struct PoolDeleter {
  void operator()(pthreadpool_t p) const {
    if (p) pthreadpool_destroy(p);
  }
};

// Which heads and FFNs a run skips (Session::set_head_masked / set_ffn_bypassed), sized at
// creation so that switching allocates nothing.
struct Ablation {
  std::vector<size_t> head_offset;     // [layers + 1]: first head of each layer in head_masked
  std::vector<uint8_t> head_masked;    // [heads summed over layers]
  std::vector<uint8_t> ffn_bypassed;   // [layers]
  const uint8_t* heads_of(size_t layer) const { return head_masked.data() + head_offset[layer]; }
};

struct Encoder {
  std::shared_ptr<const Model> model;
  const EncoderConfig* config = nullptr;
  const ModelWeights* weights = nullptr;
  SessionOptions options;
  std::unique_ptr<std::remove_pointer_t<pthreadpool_t>, PoolDeleter> pool;
  size_t scratch_slots = 1;  // attention scratch areas: one per thread
  BufferSet buffer_set = BufferSet::kF32;  // the projection buffers the model's blocks need
  std::vector<LayerOps> layers;
  HeadOps head;
  Plan plan;
  ActivationArena arena;
  StepProfiler profiler;
  Ablation ablation;
  // ModernBERT's rotary tables, [max_positions, head_dim / 2] each (rotary.h: rotary_tables),
  // of its global and local layers' bases.
  std::vector<float> rope_cos_global, rope_sin_global, rope_cos_local, rope_sin_local;
  std::vector<std::string> observe_names;  // [layer * kActivationPointCount + point], observer only
  // The (batch, seq) of the last completed run, for attention_probabilities(); batch 0: none.
  int64_t last_batch = 0, last_seq = 0;

  pthreadpool_t threads() const { return pool.get(); }
  // Start of layer `layer`'s attention probabilities for a run of (batch, seq), or null when
  // they are not kept.
  float* attention_probs(size_t layer, int64_t batch, int64_t seq) const {
    float* base = arena.buffers().attention_probs;
    if (!base) return nullptr;
    return base + ablation.head_offset[layer] * static_cast<size_t>(batch * seq * seq);
  }
};

// Attention of one layer for every (sequence, head) of the run: the context of the f32 model
// into b.context, of the int8 model straight into the output projection's int8 input.
void run_attention(const Encoder& e, size_t layer, const Inputs& in, const ActivationBuffers& b);

}  // namespace encore::internal
