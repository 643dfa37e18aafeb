// Reads a Hugging Face BERT directory (config.json, model.safetensors, vocab.txt,
// tokenizer_config.json) into encore's canonical f32 tensors.
//
// Name mapping (an optional "bert." prefix is detected, as in BertForSequenceClassification):
//   embeddings.{word,position,token_type}_embeddings.weight -> embeddings.{word,position,token_type}
//   embeddings.LayerNorm.{weight,bias}                      -> embeddings.norm.{gamma,beta}
//   encoder.layer.i.attention.self.{query,key,value}        -> layer.i.qkv (rows concatenated)
//   encoder.layer.i.attention.output.dense / .LayerNorm     -> layer.i.attn_out / attn_norm
//   encoder.layer.i.intermediate.dense / output.dense       -> layer.i.ffn_up / ffn_down
//   encoder.layer.i.output.LayerNorm                        -> layer.i.ffn_norm
//   pooler.dense -> pooler, classifier -> classifier
// Tensors the encoder does not use (pre-training heads, position_ids buffers) are reported as
// skipped. Old checkpoints' LayerNorm.gamma / .beta names are accepted too.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "encore/config.h"
#include "encore/model.h"
#include "encore/status.h"

namespace encore::convert {

struct FloatTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct FloatCheckpoint {
  EncoderConfig config;
  TokenizerInfo tokenizer;
  std::map<std::string, FloatTensor> tensors;  // canonical names
  std::vector<std::string> skipped;            // source names not used
  std::vector<std::string> warnings;
  std::string source_dtype;                    // e.g. "F32", "F16", "F32+I64"
  uint64_t source_bytes = 0;                   // size of model.safetensors (all shards)
  size_t source_shards = 1;                    // safetensors files it came from
};

// base_only: the encoder alone (and its pooler when the checkpoint has one), whatever head
// `architectures` names, as transformers' AutoModel loads a task checkpoint; the head's
// tensors are then skipped.
Result<FloatCheckpoint> read_hf_checkpoint(const std::string& model_dir, bool base_only = false);

}  // namespace encore::convert
