// Reader for Hugging Face .safetensors checkpoints.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data block; offsets are relative to the data block's start.
// Every field is validated on open: header length within the file and below a sane bound,
// JSON well formed and of the right types, offsets ordered and inside the data block,
// end - begin == element count * dtype size (with overflow checks).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "encore/status.h"

namespace encore::io {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;            // as in the file: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;
  uint64_t data_begin = 0;      // absolute byte offset in the file
  uint64_t data_size = 0;
  uint64_t element_count() const;
};

class SafetensorsFile {
 public:
  // Reads and validates the header; keeps the path to read tensors later.
  static Result<SafetensorsFile> open(const std::string& path);

  const std::vector<SafetensorsEntry>& entries() const { return entries_; }  // file order
  const SafetensorsEntry* find(const std::string& name) const;  // null when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Reads one tensor converted to float32. F32, F16 and BF16 are accepted; any other dtype
  // is kUnsupported naming the tensor and dtype. Unknown name: kNotFound.
  Result<std::vector<float>> read_f32(const std::string& name) const;

 private:
  std::string path_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace encore::io
