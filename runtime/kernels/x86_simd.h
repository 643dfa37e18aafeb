// Shared by encore's x86 kernel files: the per-function target macro, <immintrin.h> (its
// GCC 12 warnings silenced), the namespace macros of the stand-in build, and small helpers the
// kernels share. Each kernel file is compiled for the baseline with per-function targets, so the
// library still runs on any x86-64; the kernel table reaches a kernel only when the CPU has its
// instructions. The test-support library encore_kernels_shim (tests/kernels) compiles the same
// files again with ENCORE_X86_SHIM defined, against plain C++ stand-ins for the intrinsics
// (tests/kernels/x86_intrinsics_shim.h), into namespace encore::internal::shim, so that tiling,
// tails and epilogues are checked on CPUs without those instructions too.
#pragma once

#ifdef ENCORE_X86_SHIM
#include "x86_intrinsics_shim.h"
#define ENCORE_X86_TARGET(features)
#define ENCORE_X86_SHIM_BEGIN namespace shim {
#define ENCORE_X86_SHIM_END }
#else
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -Wmaybe-uninitialized
// and -Wuninitialized report inside the header once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
#define ENCORE_X86_TARGET(features) __attribute__((target(features)))
#define ENCORE_X86_SHIM_BEGIN
#define ENCORE_X86_SHIM_END
#endif

#include <cstdint>
#include <cstring>

#include "kernels/x86_kernels.h"

namespace encore::internal {
ENCORE_X86_SHIM_BEGIN

// Four int8 values as one word, the source of a vpdpbusd broadcast (no alignment assumed).
inline uint32_t load4(const int8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Maximum / sum over all 16 lanes, in every lane: trees of 4 steps (a 16-step chain through
// memory cost as much as a row's exponentials at 128 keys; GCC 12's _mm512_reduce_* trip
// -Wuninitialized in its header).
ENCORE_X86_TARGET("avx512f") inline __m512 max_across_lanes(__m512 v) {
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));  // 256-bit halves swapped
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));  // 128-bit quarters swapped in pairs
  v = _mm512_max_ps(v, _mm512_permute_ps(v, 0x4E));        // 64-bit halves of each quarter
  return _mm512_max_ps(v, _mm512_permute_ps(v, 0xB1));     // neighbours
}

ENCORE_X86_TARGET("avx512f") inline __m512 sum_across_lanes(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
  return _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
}

// The int32 sum of all 16 lanes (modulo 2^32), by the same tree on the float-typed shuffles.
ENCORE_X86_TARGET("avx512f") inline uint32_t isum_across_lanes(__m512i v) {
  __m512 f = _mm512_castsi512_ps(v);
  v = _mm512_add_epi32(v, _mm512_castps_si512(_mm512_shuffle_f32x4(f, f, 0x4E)));
  f = _mm512_castsi512_ps(v);
  v = _mm512_add_epi32(v, _mm512_castps_si512(_mm512_shuffle_f32x4(f, f, 0xB1)));
  f = _mm512_castsi512_ps(v);
  v = _mm512_add_epi32(v, _mm512_castps_si512(_mm512_permute_ps(f, 0x4E)));
  f = _mm512_castsi512_ps(v);
  v = _mm512_add_epi32(v, _mm512_castps_si512(_mm512_permute_ps(f, 0xB1)));
  const float lane0 = _mm512_cvtss_f32(_mm512_castsi512_ps(v));
  uint32_t bits;
  std::memcpy(&bits, &lane0, sizeof bits);
  return bits;
}

ENCORE_X86_SHIM_END
}  // namespace encore::internal
