// Plain C++ stand-ins for the x86 intrinsics runtime/kernels/gemm_qs8_x86.cc uses, with the
// semantics of Intel's intrinsics guide, so that the VNNI tiles' indexing, tails and epilogue
// run (slowly) on any CPU. Only what that file needs; lanes are little-endian as on x86.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

struct __m128i { int8_t b[16]; };
struct __m512i { int32_t d[16]; };
struct __m512 { float f[16]; };
struct __m256i { int32_t d[8]; };

template <typename V>
inline V shim_load(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
inline V shim_set1(int32_t x) {
  V v;
  for (auto& d : v.d) d = x;
  return v;
}
template <typename V>
inline V shim_xor(V a, V b) {
  for (size_t i = 0; i < sizeof a.d / sizeof a.d[0]; ++i) a.d[i] ^= b.d[i];
  return a;
}
// vpdpbusd: each 32-bit lane += sum of 4 products unsigned byte of a x signed byte of b,
// wrapping (the non-saturating form).
template <typename V>
inline V shim_dpbusd(V acc, V a, V b) {
  for (size_t i = 0; i < sizeof a.d / sizeof a.d[0]; ++i) {
    uint8_t ua[4];
    int8_t sb[4];
    std::memcpy(ua, &a.d[i], 4);
    std::memcpy(sb, &b.d[i], 4);
    int64_t sum = acc.d[i];
    for (int t = 0; t < 4; ++t) sum += int32_t(ua[t]) * int32_t(sb[t]);
    acc.d[i] = static_cast<int32_t>(static_cast<uint32_t>(sum));
  }
  return acc;
}

inline __m512i _mm512_loadu_si512(const void* p) { return shim_load<__m512i>(p); }
inline __m512i _mm512_set1_epi32(int x) { return shim_set1<__m512i>(x); }
inline __m512i _mm512_xor_si512(__m512i a, __m512i b) { return shim_xor(a, b); }
inline __m512i _mm512_dpbusd_epi32(__m512i acc, __m512i a, __m512i b) { return shim_dpbusd(acc, a, b); }
inline __m512i _mm512_add_epi32(__m512i a, __m512i b) {
  for (int i = 0; i < 16; ++i) a.d[i] = static_cast<int32_t>(uint32_t(a.d[i]) + uint32_t(b.d[i]));
  return a;
}
inline __m512 _mm512_set1_ps(float x) {
  __m512 v;
  for (auto& f : v.f) f = x;
  return v;
}
inline __m512 _mm512_loadu_ps(const float* p) { return shim_load<__m512>(p); }
inline __m512 _mm512_cvtepi32_ps(__m512i a) {
  __m512 v;
  for (int i = 0; i < 16; ++i) v.f[i] = static_cast<float>(a.d[i]);
  return v;
}
inline __m512 _mm512_mul_ps(__m512 a, __m512 b) {
  for (int i = 0; i < 16; ++i) {
    volatile float p = a.f[i] * b.f[i];  // one rounding, never fused with a later add
    a.f[i] = p;
  }
  return a;
}
// maxps/minps return the second operand unless the first is strictly greater / smaller.
inline __m512 _mm512_max_ps(__m512 a, __m512 b) {
  for (int i = 0; i < 16; ++i) a.f[i] = a.f[i] > b.f[i] ? a.f[i] : b.f[i];
  return a;
}
inline __m512 _mm512_min_ps(__m512 a, __m512 b) {
  for (int i = 0; i < 16; ++i) a.f[i] = a.f[i] < b.f[i] ? a.f[i] : b.f[i];
  return a;
}
// cvtps2dq in the default rounding mode (to nearest, ties to even); out of range gives
// 0x80000000 (the "integer indefinite" value).
inline __m512i _mm512_cvtps_epi32(__m512 a) {
  __m512i v;
  for (int i = 0; i < 16; ++i) {
    const float r = std::nearbyint(a.f[i]);
    v.d[i] = r >= -2147483648.0f && r < 2147483648.0f ? static_cast<int32_t>(r) : std::numeric_limits<int32_t>::min();
  }
  return v;
}
// vpmovsdb: int32 to int8 with signed saturation.
inline __m128i _mm512_cvtsepi32_epi8(__m512i a) {
  __m128i v;
  for (int i = 0; i < 16; ++i) v.b[i] = static_cast<int8_t>(a.d[i] < -128 ? -128 : a.d[i] > 127 ? 127 : a.d[i]);
  return v;
}
inline void _mm_store_si128(__m128i* p, __m128i v) { std::memcpy(p, &v, sizeof v); }
inline void _mm_storeu_si128(__m128i* p, __m128i v) { std::memcpy(p, &v, sizeof v); }
inline void _mm512_store_si512(void* p, __m512i v) { std::memcpy(p, &v, sizeof v); }

// Masked float loads and stores touch only the lanes whose mask bit is set (the others may lie
// past the end of an array); fmadd rounds once.
using __mmask16 = uint16_t;
inline __m512 _mm512_setzero_ps() { return __m512{}; }
inline __m512 _mm512_maskz_loadu_ps(__mmask16 mask, const float* p) {
  __m512 v{};
  for (int i = 0; i < 16; ++i) {
    if (mask >> i & 1) v.f[i] = p[i];
  }
  return v;
}
inline void _mm512_mask_storeu_ps(float* p, __mmask16 mask, __m512 v) {
  for (int i = 0; i < 16; ++i) {
    if (mask >> i & 1) p[i] = v.f[i];
  }
}
inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
  for (int i = 0; i < 16; ++i) a.f[i] = std::fma(a.f[i], b.f[i], c.f[i]);
  return a;
}
inline __m512i _mm512_load_si512(const void* p) { return shim_load<__m512i>(p); }

inline __m256i _mm256_loadu_si256(const __m256i* p) { return shim_load<__m256i>(p); }
inline __m256i _mm256_set1_epi32(int x) { return shim_set1<__m256i>(x); }
inline __m256i _mm256_xor_si256(__m256i a, __m256i b) { return shim_xor(a, b); }
inline __m256i _mm256_dpbusd_avx_epi32(__m256i acc, __m256i a, __m256i b) { return shim_dpbusd(acc, a, b); }
inline void _mm256_store_si256(__m256i* p, __m256i v) { std::memcpy(p, &v, sizeof v); }
