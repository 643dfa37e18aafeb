#include "support/hf_dir.h"

#include <cstring>
#include <fstream>
#include <random>

namespace encore::testing {

HfDir HfDir::bert(const std::string& p, uint32_t seed) {
  HfDir d;
  d.config = {{"model_type", "\"bert\""},      {"hidden_size", "16"},       {"num_attention_heads", "2"},
              {"num_hidden_layers", "2"},      {"intermediate_size", "32"}, {"hidden_act", "\"gelu\""},
              {"max_position_embeddings", "8"}, {"vocab_size", "40"},        {"type_vocab_size", "2"},
              {"layer_norm_eps", "1e-12"}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.05f);
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    int64_t count = 1;
    for (int64_t s : shape) count *= s;
    HfTensor t{"F32", shape, std::vector<float>(static_cast<size_t>(count))};
    for (float& v : t.values) v = n(rng);
    d.tensors[p + name] = std::move(t);
  };
  add("embeddings.word_embeddings.weight", {40, 16});
  add("embeddings.position_embeddings.weight", {8, 16});
  add("embeddings.token_type_embeddings.weight", {2, 16});
  add("embeddings.LayerNorm.weight", {16});
  add("embeddings.LayerNorm.bias", {16});
  for (int l = 0; l < 2; ++l) {
    std::string L = "encoder.layer." + std::to_string(l) + ".";
    for (const char* part : {"query", "key", "value"}) {
      add(L + "attention.self." + part + ".weight", {16, 16});
      add(L + "attention.self." + part + ".bias", {16});
    }
    add(L + "attention.output.dense.weight", {16, 16});
    add(L + "attention.output.dense.bias", {16});
    add(L + "attention.output.LayerNorm.weight", {16});
    add(L + "attention.output.LayerNorm.bias", {16});
    add(L + "intermediate.dense.weight", {32, 16});
    add(L + "intermediate.dense.bias", {32});
    add(L + "output.dense.weight", {16, 32});
    add(L + "output.dense.bias", {16});
    add(L + "output.LayerNorm.weight", {16});
    add(L + "output.LayerNorm.bias", {16});
  }
  add("pooler.dense.weight", {16, 16});
  add("pooler.dense.bias", {16});
  d.vocab_lines = 40;
  return d;
}

void HfDir::write(const std::string& dir) const {
  {
    std::ofstream f(dir + "/config.json");
    f << "{";
    bool first = true;
    for (const auto& [k, v] : config) {
      f << (first ? "" : ", ") << "\"" << k << "\": " << v;
      first = false;
    }
    f << "}\n";
  }
  std::string header = "{";
  std::vector<uint8_t> data;
  bool first = true;
  for (const auto& [name, t] : tensors) {
    const size_t begin = data.size();
    for (float v : t.values) {
      if (t.dtype == "I64") {
        int64_t i = static_cast<int64_t>(v);
        data.insert(data.end(), reinterpret_cast<uint8_t*>(&i), reinterpret_cast<uint8_t*>(&i) + 8);
      } else {
        data.insert(data.end(), reinterpret_cast<const uint8_t*>(&v), reinterpret_cast<const uint8_t*>(&v) + 4);
      }
    }
    std::string shape;
    for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? "," : "") + std::to_string(t.shape[i]);
    header += std::string(first ? "" : ",") + "\"" + name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
    first = false;
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  std::ofstream f(dir + "/model.safetensors", std::ios::binary);
  uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << header;
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (vocab_lines > 0) {
    std::ofstream v(dir + "/vocab.txt");
    for (int i = 0; i < vocab_lines; ++i) v << (i == 0 ? "[PAD]" : "tok" + std::to_string(i)) << "\n";
  }
}

}  // namespace encore::testing
