// Internal to encore's kernels: the aarch64 microkernels, built where ENCORE_ARM_DOT_KERNELS
// is defined (aarch64 Linux with GCC or Clang; their files are compiled with +dotprod+i8mm).
// Each runs only where the CPU has the extension its comment states.
#pragma once

#include "kernels/attention_tiles.h"
#include "kernels/gemm_tile.h"

#if defined(__aarch64__) && defined(__GNUC__) && defined(__linux__)
#define ENCORE_ARM_DOT_KERNELS 1

namespace encore::internal {

// Int8 GEMM tiles, 4 x 16: Armv8.2 dot product (sdot); Armv8.6 int8 matrix multiply (smmla).
void qs8_tile_neondot(const Qs8Tile& t);
void qs8_tile_neoni8mm(const Qs8Tile& t);
// Attention scores with sdot (signed x signed: no input offset); leaves row_max unset.
void qs8_scores_neondot(const Qs8ScoreTile& t);

}  // namespace encore::internal
#endif
