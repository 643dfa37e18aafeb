// Internal to encore's kernels: the x86 microkernels (x86_kernels.inc), built where
// ENCORE_X86_KERNELS is defined (x86-64 with GCC or Clang).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/attention_tiles.h"
#include "kernels/gemm_tile.h"
#include "kernels/norm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define ENCORE_X86_KERNELS 1

namespace encore::internal {
#include "kernels/x86_kernels.inc"

// y[i] = lut[x[i] + 128] with AVX-512 F + BW + VBMI byte permutes; x and y may alias. (No
// stand-in: the shim has no vpermi2b.)
void lut_qs8_avx512vbmi(size_t n, const int8_t* x, const int8_t* lut, int8_t* y);

namespace shim {
#include "kernels/x86_kernels.inc"
}  // namespace shim
}  // namespace encore::internal
#endif
