// Internal to encore's kernels: the int8 GEMM's tile (what each ISA's microkernel computes),
// its input loads and its scalar epilogue.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/gemm.h"

namespace encore::internal {

constexpr size_t kQs8TileRows = 4;  // MR of every kernel

// One tile: rows [0, mr) of x against one panel, channels [0, nc) stored.
struct Qs8Tile {
  size_t mr, nc, in;
  const int8_t* x;  // first row of the tile
  size_t x_stride;
  const int8_t* panel;  // [k_groups][NR][4]
  const int32_t* init;  // [NR]
  const float* scale;   // [NR]
  int8_t* y;
  size_t y_stride;
  int32_t output_zero_point;
};

using Qs8TileFn = void (*)(const Qs8Tile&);

// The 4-byte group of row `row` at byte k (zero-filled past `in`, so the last group never
// reads beyond the row).
inline uint32_t load_group(const int8_t* row, size_t k, size_t in) {
  uint32_t v = 0;
  if (in - k >= 4) {
    std::memcpy(&v, row + k, 4);  // a constant size: one load
  } else {
    std::memcpy(&v, row + k, in - k);
  }
  return v;
}

// The same for 8-byte groups.
inline uint64_t load_group8(const int8_t* row, size_t k, size_t in) {
  uint64_t v = 0;
  if (in - k >= 8) {
    std::memcpy(&v, row + k, 8);
  } else {
    std::memcpy(&v, row + k, in - k);
  }
  return v;
}

// XNNPACK's fp32 requantization: float(acc) * scale, clamped so that adding the zero point
// stays in int8, rounded half to even (the default rounding mode), plus the zero point.
inline int8_t requantize_fp32(int32_t acc, float scale, int32_t zero_point) {
  float f = static_cast<float>(acc) * scale;
  const float lo = static_cast<float>(-128 - zero_point), hi = static_cast<float>(127 - zero_point);
  f = f < lo ? lo : f;
  f = f > hi ? hi : f;
  return static_cast<int8_t>(std::lrintf(f) + zero_point);
}

// The tile of kernel k in this build (the portable one for a kernel the build lacks).
Qs8TileFn qs8_gemm_tile(Qs8GemmKernel k);

// 4 rows x 16 channels in plain C++ (Qs8GemmKernel::kPortable).
void qs8_tile_portable(const Qs8Tile& t);

// qs8_gemm_run with a given tile function (tests run the intrinsic stand-in tiles through it).
void qs8_gemm_run_tile(const Qs8GemmWeights& w, size_t rows, const int8_t* x, int8_t* y, pthreadpool_t pool,
                       Qs8TileFn tile);

}  // namespace encore::internal
