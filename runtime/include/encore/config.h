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
  // Per-layer shapes of a pruned model (encore-convert --prune-heads / --prune-ffn); both
  // empty for a model that was not pruned. head_count and intermediate_size stay those of the
  // model before pruning, so head_dim() is hidden_size / head_count in every layer.
  //   layer_heads[l]: the original indices, ascending, of the heads layer l keeps (at least one);
  //   layer_intermediate_sizes[l]: the FFN neurons layer l keeps (at least one).
  std::vector<std::vector<int32_t>> layer_heads;
  std::vector<int32_t> layer_intermediate_sizes;

  int32_t head_dim() const { return head_count > 0 ? hidden_size / head_count : 0; }
  bool has_classifier() const { return !labels.empty(); }
  bool is_pruned() const { return !layer_heads.empty(); }
  // Heads and FFN neurons of layer `layer` (in [0, layer_count)).
  int32_t heads_in_layer(int layer) const {
    return is_pruned() ? static_cast<int32_t>(layer_heads[static_cast<size_t>(layer)].size()) : head_count;
  }
  int32_t intermediate_in_layer(int layer) const {
    return is_pruned() ? layer_intermediate_sizes[static_cast<size_t>(layer)] : intermediate_size;
  }
  // The index head `head` of layer `layer` had before pruning (itself when not pruned).
  int32_t original_head(int layer, int head) const {
    return is_pruned() ? layer_heads[static_cast<size_t>(layer)][static_cast<size_t>(head)] : head;
  }
  // Largest FFN width over the layers.
  int32_t max_intermediate_size() const;
  // Heads summed over the layers.
  int64_t total_heads() const;
};

}  // namespace encore
