// Writes small Hugging Face BERT directories (config.json, model.safetensors, vocab.txt) for
// converter tests that need a damaged or unusual checkpoint.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace encore::testing {

struct HfTensor {
  std::string dtype = "F32";     // F32, or I64 for integer buffers
  std::vector<int64_t> shape;
  std::vector<float> values;     // converted to dtype on write
};

struct HfDir {
  std::map<std::string, std::string> config;  // key -> raw JSON value
  std::map<std::string, HfTensor> tensors;    // HF names
  int vocab_lines = 0;                        // 0 = no vocab.txt

  // A random BertModel: 2 layers, hidden 16, 2 heads, ffn 32, vocab 40, 8 positions, pooler.
  static HfDir bert(const std::string& prefix = "", uint32_t seed = 1);
  // Writes the files into `dir` (which must exist).
  void write(const std::string& dir) const;
};

}  // namespace encore::testing
