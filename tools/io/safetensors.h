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

// A checkpoint in one file (model.safetensors) or sharded (model.safetensors.index.json, whose
// "weight_map" names the shard file of every tensor, as Hugging Face's save_pretrained writes
// it). The same view either way: every tensor once, looked up by name.
class SafetensorsCheckpoint {
 public:
  // MODEL_DIR/model.safetensors, else MODEL_DIR/model.safetensors.index.json and its shards
  // (plain file names in MODEL_DIR). kNotFound when neither exists; a shard missing, a shard
  // name with a directory in it, a tensor the index places in a shard that lacks it, or a
  // tensor in two shards: kInvalidModel naming it.
  static Result<SafetensorsCheckpoint> open(const std::string& model_dir);

  const std::vector<SafetensorsEntry>& entries() const { return entries_; }  // shard by shard
  const SafetensorsEntry* find(const std::string& name) const;
  Result<std::vector<float>> read_f32(const std::string& name) const;
  uint64_t bytes() const { return bytes_; }  // sum of the file sizes
  size_t shards() const { return files_.size(); }

 private:
  std::vector<SafetensorsFile> files_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> file_of_;  // tensor name -> index into files_
  uint64_t bytes_ = 0;
};

}  // namespace encore::io
