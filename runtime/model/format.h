// Constants and canonical tensor / activation names of the .encore format, shared by the
// converter (which writes them) and the loader (which resolves them once, at load).
// schema/README.md documents the same names for people.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace encore::format {

// Version 1: every layer has the config's head_count heads and intermediate_size neurons.
// Version 2: EncoderConfig.layers gives each layer's kept heads and FFN width (pruned models).
// Writers use version 1 unless the model is pruned; this build reads both.
constexpr uint32_t kFormatVersionUniform = 1;
constexpr uint32_t kFormatVersionPruned = 2;
// Version 3: EncoderConfig.family and the fields that go with it (non-BERT families).
constexpr uint32_t kFormatVersionFamilies = 3;
// Version 4: EncoderConfig.head (per-token heads), problem_type and head_activation.
constexpr uint32_t kFormatVersionHeads = 4;
// Version 5: EncoderConfig.sentence and the sentence.dense.N.* tensors (sentence-transformers
// models).
constexpr uint32_t kFormatVersionSentence = 5;
// Version 6: Tokenizer.json, the tokenizer.json pipeline (models converted from one).
constexpr uint32_t kFormatVersionTokenizerJson = 6;
// Version 7: Model.layer_precision (int8 models with some attention / FFN blocks in f32).
constexpr uint32_t kFormatVersionMixedPrecision = 7;
// Version 8: Family ModernBert and its config fields and tensors (ModernBERT models only).
constexpr uint32_t kFormatVersionModernBert = 8;
// Version 9: Model.ffn_down_row_scales (int8 models whose FFN-down input has per-token scales).
constexpr uint32_t kFormatVersionRowScales = 9;
constexpr uint32_t kFormatVersion = kFormatVersionRowScales;  // the newest version this build reads
constexpr size_t kBufferAlignment = 64;
constexpr char kFileIdentifier[] = "ENCR";

// Per-layer linear layers. Weights are [out, in] (as torch.nn.Linear); qkv is the row-wise
// concatenation of query, key and value ([3 * hidden, hidden]).
constexpr const char* kLinearNames[] = {"qkv", "attn_out", "ffn_up", "ffn_down"};

inline std::string layer_name(int layer, const char* suffix) {
  return "layer." + std::to_string(layer) + "." + suffix;
}

// Activation quantization points of one layer, in the order the forward pass meets them.
//  qkv.input        LayerNorm output entering the QKV projection
//  q.output, k.output, v.output  the three parts of the QKV projection (zero point 0)
//  attn_out.input   attention context entering the output projection
//  attn_out.output  output projection result, before the residual add
//  ffn_up.input     LayerNorm output entering the FFN
//  ffn_up.output    FFN up projection, before the activation
//  ffn_down.input   activation output
//  ffn_down.output  FFN down projection, before the residual add
constexpr const char* kActivationPoints[] = {
    "qkv.input",     "q.output",       "k.output",       "v.output",
    "attn_out.input", "attn_out.output", "ffn_up.input",  "ffn_up.output",
    "ffn_down.input", "ffn_down.output"};
constexpr size_t kActivationPointCount = sizeof(kActivationPoints) / sizeof(kActivationPoints[0]);

enum ActivationPoint : size_t {
  kQkvInput = 0, kQOutput, kKOutput, kVOutput, kAttnOutInput, kAttnOutOutput,
  kFfnUpInput, kFfnUpOutput, kFfnDownInput, kFfnDownOutput
};

// A sentence-transformers Dense module's tensors: "sentence.dense.N.weight" / ".bias".
inline std::string sentence_dense_name(size_t index, const char* suffix) {
  return "sentence.dense." + std::to_string(index) + "." + suffix;
}

}  // namespace encore::format
