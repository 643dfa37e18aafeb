// Read-only bytes of a model: an mmap of a file, or a vector handed over by the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "encore/status.h"

namespace encore::internal {

class ModelBytes {
 public:
  static Result<ModelBytes> map_file(const std::string& path, uint64_t max_size);
  static ModelBytes from_vector(std::vector<uint8_t> bytes);
  ModelBytes(ModelBytes&& other) noexcept;
  ModelBytes& operator=(ModelBytes&&) = delete;
  ModelBytes(const ModelBytes&) = delete;
  ~ModelBytes();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  ModelBytes() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when mmapped
  std::vector<uint8_t> owned_;
};

}  // namespace encore::internal
