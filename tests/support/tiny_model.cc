#include "support/tiny_model.h"

#include <random>
#include <sstream>

#include "model/format.h"

namespace encore::testing {

EncoderConfig tiny_config() {
  EncoderConfig c;
  c.hidden_size = 32;
  c.head_count = 4;
  c.layer_count = 2;
  c.intermediate_size = 64;
  c.activation = Activation::kGeluErf;
  c.layer_norm_eps = 1e-12f;
  c.max_positions = 16;
  c.vocab_size = 50;
  c.type_vocab_size = 2;
  return c;
}

convert::FloatCheckpoint random_checkpoint(const EncoderConfig& config, uint32_t seed) {
  convert::FloatCheckpoint ck;
  ck.config = config;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean = 0.0f) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    convert::FloatTensor t{shape, std::vector<float>(static_cast<size_t>(n))};
    for (float& v : t.values) v = mean + normal(rng);
    ck.tensors[name] = std::move(t);
  };
  const int64_t H = config.hidden_size, I = config.intermediate_size;
  add("embeddings.word", {config.vocab_size, H});
  add("embeddings.position", {config.max_positions, H});
  add("embeddings.token_type", {config.type_vocab_size, H});
  add("embeddings.norm.gamma", {H}, 1.0f);
  add("embeddings.norm.beta", {H});
  for (int l = 0; l < config.layer_count; ++l) {
    auto n = [&](const char* s) { return format::layer_name(l, s); };
    add(n("qkv.weight"), {3 * H, H});
    add(n("qkv.bias"), {3 * H});
    add(n("attn_out.weight"), {H, H});
    add(n("attn_out.bias"), {H});
    add(n("attn_norm.gamma"), {H}, 1.0f);
    add(n("attn_norm.beta"), {H});
    add(n("ffn_up.weight"), {I, H});
    add(n("ffn_up.bias"), {I});
    add(n("ffn_down.weight"), {H, I});
    add(n("ffn_down.bias"), {H});
    add(n("ffn_norm.gamma"), {H}, 1.0f);
    add(n("ffn_norm.beta"), {H});
  }
  if (config.has_pooler || config.has_classifier()) {
    ck.config.has_pooler = true;
    add("pooler.weight", {H, H});
    add("pooler.bias", {H});
  }
  if (config.has_classifier()) {
    add("classifier.weight", {static_cast<int64_t>(config.labels.size()), H});
    add("classifier.bias", {static_cast<int64_t>(config.labels.size())});
  }
  return ck;
}

std::vector<uint8_t> f32_model_bytes(const convert::FloatCheckpoint& ck) {
  auto bytes = convert::serialize_model(convert::f32_contents(ck, {}));
  return bytes.ok() ? std::move(bytes).value() : std::vector<uint8_t>{};
}

convert::ModelContents int8_contents_for(const convert::FloatCheckpoint& ck) {
  auto model = Model::load_from_memory(f32_model_bytes(ck));
  if (!model.ok()) return {};
  const int64_t n = 4, seq = ck.config.max_positions;
  std::vector<int32_t> ids(static_cast<size_t>(n * seq));
  std::mt19937 rng(7);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(ck.config.vocab_size));
  auto ranges = convert::calibrate(model.value(), ids, n, seq, 1, nullptr);
  if (!ranges.ok()) return {};
  std::ostringstream report;
  auto contents = convert::int8_contents(ck, ranges.value(), {}, report);
  return contents.ok() ? std::move(contents).value() : convert::ModelContents{};
}

std::vector<uint8_t> int8_model_bytes(const convert::FloatCheckpoint& ck) {
  auto bytes = convert::serialize_model(int8_contents_for(ck));
  return bytes.ok() ? std::move(bytes).value() : std::vector<uint8_t>{};
}

}  // namespace encore::testing
