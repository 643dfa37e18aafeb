// Builds a kernel several times for x86-64 feature levels and picks the best at load time
// (GCC function multi-versioning through an ifunc): the library stays runnable on any
// x86-64 CPU yet uses AVX2/FMA or AVX-512 where the CPU has them. Helpers called from such a
// kernel are ENCORE_INLINE so they are compiled into each version.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(ENCORE_NO_MULTIVERSION)
#define ENCORE_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ENCORE_MULTIVERSION
#endif

#define ENCORE_INLINE inline __attribute__((always_inline))
