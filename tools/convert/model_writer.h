// Serialises a model into the .encore format (schema/encore.fbs): a size-prefixed FlatBuffer
// followed by 64-byte aligned weight buffers.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "encore/config.h"
#include "encore/model.h"
#include "encore/status.h"

namespace encore::convert {

enum class TensorDType { kF32, kI8, kI32, kF16 };

struct TensorData {
  std::string name;
  TensorDType dtype = TensorDType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  // Quantization (empty scales = none): one scale per tensor, or one per index of `axis`.
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  int32_t axis = 0;
};

struct ActivationRecord {
  std::string name;
  float scale = 1.0f;
  int32_t zero_point = 0;
  float observed_min = 0.0f, observed_max = 0.0f;
};

struct ModelContents {
  uint32_t format_version = 0;  // 0: the oldest that fits (1; 2 pruned; 3 other families; 4 sentence-transformers); tests set others
  EncoderConfig config;
  bool quantized = false;
  // int8: each token's FFN-down input has its own scale (format version 9; ModernBERT).
  bool ffn_down_row_scales = false;
  std::vector<TensorData> tensors;
  std::vector<ActivationRecord> activations;
  TokenizerInfo tokenizer;
  ModelMetadata metadata;
  std::vector<std::pair<std::string, std::string>> extra_metadata;
};

// Builds the complete file image in memory.
Result<std::vector<uint8_t>> serialize_model(const ModelContents& contents);

// Helpers to fill TensorData from typed arrays.
TensorData make_f32_tensor(std::string name, std::vector<int64_t> shape, const std::vector<float>& values);
TensorData make_i8_tensor(std::string name, std::vector<int64_t> shape, const std::vector<int8_t>& values);
// f16 storage: values rounded to nearest (ties to even).
TensorData make_f16_tensor(std::string name, std::vector<int64_t> shape, const std::vector<float>& values);
TensorData make_i32_tensor(std::string name, std::vector<int64_t> shape, const std::vector<int32_t>& values);

}  // namespace encore::convert
