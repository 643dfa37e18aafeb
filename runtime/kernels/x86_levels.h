// x86-64 micro-architecture levels for kernels written as plain loops: such a kernel's body is
// one ENCORE_INLINE function, compiled into a default variant and, on x86-64 GCC, an
// ENCORE_X86_V3 (AVX2 + FMA) and an ENCORE_X86_V4 (AVX-512) variant; the kernel table picks
// one from the CPU features (x86_64_v4(), x86_64_v3()), so ENCORE_CPU_DISABLE reaches them
// too. Helpers called from such a body are ENCORE_INLINE so they are compiled into each variant.
#pragma once

#define ENCORE_INLINE inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(ENCORE_NO_X86_LEVELS)
#define ENCORE_X86_LEVELS 1
#define ENCORE_X86_V4 __attribute__((target("arch=x86-64-v4")))
#define ENCORE_X86_V3 __attribute__((target("arch=x86-64-v3")))
#endif
