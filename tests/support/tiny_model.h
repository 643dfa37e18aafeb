// Builds small random models in memory for tests that need a model but not PyTorch goldens
// (loader validation, corruption, session plumbing).
#pragma once

#include <cstdint>
#include <vector>

#include "convert/converter.h"

namespace encore::testing {

// A random f32 checkpoint with canonical names for `config` (weights ~ N(0, 0.05), LayerNorm
// gamma ~ 1, non-zero biases). Labels in config add a classifier (and a pooler).
convert::FloatCheckpoint random_checkpoint(const EncoderConfig& config, uint32_t seed);

// A small config: 2 layers, hidden 32, 4 heads, ffn 64, vocab 50, 16 positions.
EncoderConfig tiny_config();

// Serialised models from a checkpoint; int8 calibrates on random ids.
std::vector<uint8_t> f32_model_bytes(const convert::FloatCheckpoint& ck);
std::vector<uint8_t> int8_model_bytes(const convert::FloatCheckpoint& ck);

// Contents for tests that edit a model before serialising it.
convert::ModelContents int8_contents_for(const convert::FloatCheckpoint& ck);

}  // namespace encore::testing
