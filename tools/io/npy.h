// NumPy .npy reader/writer (format versions 1.0, 2.0 and 3.0, C order only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "encore/status.h"

namespace encore::io {

enum class NpyDType { kInt32, kInt64, kFloat32 };

struct NpyArray {
  NpyDType dtype = NpyDType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<int64_t> ints;    // filled for kInt32 / kInt64 (widened)
  std::vector<float> floats;    // filled for kFloat32
  uint64_t element_count() const;
};

// Accepts little-endian '<i4', '<i8', '<f4' (and '|i1'/'<u1'? no: those are errors), with
// fortran_order False. Validates magic, header length, the header dict, and that the data
// size matches the shape (overflow-checked). Errors name the path and the problem.
Result<NpyArray> read_npy(const std::string& path);
// Same, from bytes in memory (used by tests and fuzzers); `what` names the source in errors.
Result<NpyArray> parse_npy(const uint8_t* data, size_t size, const std::string& what);

// Writes float32 data as a version 1.0 .npy, atomically (temporary file, then rename): on
// any failure no file is left at `path`.
Status write_npy_f32(const std::string& path, const std::vector<int64_t>& shape,
                     const float* data);
// Same for int64 (used by tools that write token ids).
Status write_npy_i64(const std::string& path, const std::vector<int64_t>& shape,
                     const int64_t* data);

}  // namespace encore::io
