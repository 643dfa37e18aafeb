// A deliberately plain forward pass of a BERT encoder in double precision, straight from an
// f32 checkpoint's canonical tensors (no XNNPACK, no encore kernels, no fusion). Tests use it
// as the independent side of comparisons: what a session computes with a head masked must be
// what this computes with the head's weights zeroed.
//
// Layer widths come from the tensors themselves (qkv rows / 3 / head_dim heads, ffn_up rows
// neurons), so a checkpoint sliced like a pruned model runs as well.
#pragma once

#include <cstdint>
#include <vector>

#include "convert/hf_checkpoint.h"

namespace encore::testing {

struct ReferenceOutputs {
  std::vector<double> hidden;  // [batch, seq, hidden]
  std::vector<double> pooled;  // [batch, hidden] (empty without a pooler)
  std::vector<double> logits;  // [batch, labels] (empty without a classifier)
  // Per layer [batch, heads, seq, seq]: the softmax of every head.
  std::vector<std::vector<double>> attention;
};

// ids / mask / types: [batch, seq] (mask and types may be null: all ones / all zeros).
ReferenceOutputs reference_forward(const convert::FloatCheckpoint& ck, int64_t batch, int64_t seq,
                                   const int32_t* ids, const int32_t* mask, const int32_t* types);

}  // namespace encore::testing
