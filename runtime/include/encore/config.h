// The encoder's hyper-parameters, as stored in a .encore file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace encore {

// Feed-forward activation. kGeluErf is Hugging Face "gelu" (exact, erf-based);
// kGeluTanh is "gelu_new" / "gelu_pytorch_tanh"; kRelu is "relu".
enum class Activation { kGeluErf = 0, kGeluTanh = 1, kRelu = 2 };

const char* activation_name(Activation a);

struct EncoderConfig {
  int32_t hidden_size = 0;
  int32_t head_count = 0;
  int32_t layer_count = 0;
  int32_t intermediate_size = 0;
  Activation activation = Activation::kGeluErf;
  float layer_norm_eps = 1e-12f;
  int32_t max_positions = 0;
  int32_t vocab_size = 0;
  int32_t type_vocab_size = 0;
  int32_t pad_token_id = 0;
  bool has_pooler = false;
  // Classifier head labels (id2label order); empty for a base model.
  std::vector<std::string> labels;

  int32_t head_dim() const { return head_count > 0 ? hidden_size / head_count : 0; }
  bool has_classifier() const { return !labels.empty(); }
};

}  // namespace encore
