// Plain C++ stand-ins for the x86 intrinsics encore's x86 kernel files use, with the
// semantics of Intel's intrinsics guide, so that the VNNI tiles' indexing, tails and epilogue
// run (slowly) on any CPU. Only what those files need; lanes are little-endian as on x86.
#pragma once

#include <cmath>
#include <cstddef>
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
inline __m512i _mm512_setzero_si512() { return __m512i{}; }

// Float lane-wise operations for the softmax kernel.
template <typename F>
inline __m512 shim_map(__m512 a, __m512 b, F f) {
  for (int i = 0; i < 16; ++i) a.f[i] = f(a.f[i], b.f[i]);
  return a;
}
inline __m512 _mm512_add_ps(__m512 a, __m512 b) { return shim_map(a, b, [](float x, float y) { return x + y; }); }
inline __m512 _mm512_sub_ps(__m512 a, __m512 b) { return shim_map(a, b, [](float x, float y) { return x - y; }); }
inline __m512 _mm512_mask_max_ps(__m512 src, __mmask16 mask, __m512 a, __m512 b) {
  for (int i = 0; i < 16; ++i) src.f[i] = (mask >> i & 1) ? (a.f[i] > b.f[i] ? a.f[i] : b.f[i]) : src.f[i];
  return src;
}
inline __m512 _mm512_fmsub_ps(__m512 a, __m512 b, __m512 c) {
  for (int i = 0; i < 16; ++i) a.f[i] = std::fma(a.f[i], b.f[i], -c.f[i]);
  return a;
}
// vpermps: element i is element idx[i] % 16 of a (only the low 4 bits of each index count).
inline __m512 _mm512_permutexvar_ps(__m512i idx, __m512 a) {
  __m512 r;
  for (int i = 0; i < 16; ++i) r.f[i] = a.f[static_cast<uint32_t>(idx.d[i]) % 16];
  return r;
}
inline __m512 _mm512_mask_add_ps(__m512 src, __mmask16 mask, __m512 a, __m512 b) {
  for (int i = 0; i < 16; ++i) src.f[i] = (mask >> i & 1) ? a.f[i] + b.f[i] : src.f[i];
  return src;
}
inline __m512 _mm512_mask_loadu_ps(__m512 src, __mmask16 mask, const float* p) {
  for (int i = 0; i < 16; ++i) {
    if (mask >> i & 1) src.f[i] = p[i];
  }
  return src;
}
inline void _mm512_store_ps(float* p, __m512 v) { std::memcpy(p, &v, sizeof v); }
inline void _mm512_storeu_ps(float* p, __m512 v) { std::memcpy(p, &v, sizeof v); }
// vscalefps: a * 2^floor(b); NaN in either gives NaN.
inline __m512 _mm512_scalef_ps(__m512 a, __m512 b) {
  for (int i = 0; i < 16; ++i) {
    if (std::isnan(a.f[i]) || std::isnan(b.f[i])) {
      a.f[i] = std::numeric_limits<float>::quiet_NaN();
    } else {
      a.f[i] = std::ldexp(a.f[i], static_cast<int>(std::fmax(std::fmin(std::floor(b.f[i]), 1000.0f), -1000.0f)));
    }
  }
  return a;
}
inline __m512i _mm512_castps_si512(__m512 a) { return shim_load<__m512i>(&a); }
inline __m512 _mm512_castsi512_ps(__m512i a) { return shim_load<__m512>(&a); }
inline __m512i _mm512_mullo_epi32(__m512i a, __m512i b) {
  for (int i = 0; i < 16; ++i) a.d[i] = static_cast<int32_t>(static_cast<uint32_t>(a.d[i]) * static_cast<uint32_t>(b.d[i]));
  return a;
}
inline __m512i _mm512_sub_epi32(__m512i a, __m512i b) {
  for (int i = 0; i < 16; ++i) a.d[i] = static_cast<int32_t>(static_cast<uint32_t>(a.d[i]) - static_cast<uint32_t>(b.d[i]));
  return a;
}
// vpgatherdd: lane i (mask set) reads 4 bytes at base + index[i] * scale; others keep src.
inline __m512i _mm512_mask_i32gather_epi32(__m512i src, __mmask16 mask, __m512i index, const void* base, int scale) {
  for (int i = 0; i < 16; ++i) {
    if (mask >> i & 1) {
      std::memcpy(&src.d[i], static_cast<const char*>(base) + static_cast<std::ptrdiff_t>(index.d[i]) * scale, 4);
    }
  }
  return src;
}
inline __m512 _mm512_div_ps(__m512 a, __m512 b) { return shim_map(a, b, [](float x, float y) { return x / y; }); }
inline __m512 _mm512_sqrt_ps(__m512 a) {
  for (auto& f : a.f) f = std::sqrt(f);
  return a;
}
inline __m512i _mm512_slli_epi32(__m512i a, unsigned int n) {
  for (auto& d : a.d) d = n > 31 ? 0 : static_cast<int32_t>(static_cast<uint32_t>(d) << n);
  return a;
}
inline __m512i _mm512_mask_add_epi32(__m512i src, __mmask16 mask, __m512i a, __m512i b) {
  for (int i = 0; i < 16; ++i) {
    if (mask >> i & 1) src.d[i] = static_cast<int32_t>(static_cast<uint32_t>(a.d[i]) + static_cast<uint32_t>(b.d[i]));
  }
  return src;
}
inline __m128i _mm_maskz_loadu_epi8(uint16_t mask, const void* p) {
  __m128i v{};
  for (int i = 0; i < 16; ++i) {
    if (mask >> i & 1) v.b[i] = static_cast<const int8_t*>(p)[i];
  }
  return v;
}
inline __m512i _mm512_cvtepi8_epi32(__m128i a) {
  __m512i v;
  for (int i = 0; i < 16; ++i) v.d[i] = a.b[i];
  return v;
}
inline __m512 _mm512_maskz_sub_ps(__mmask16 mask, __m512 a, __m512 b) {
  for (int i = 0; i < 16; ++i) a.f[i] = (mask >> i & 1) ? a.f[i] - b.f[i] : 0.0f;
  return a;
}
inline __m512 _mm512_maskz_mov_ps(__mmask16 mask, __m512 a) {
  for (int i = 0; i < 16; ++i) a.f[i] = (mask >> i & 1) ? a.f[i] : 0.0f;
  return a;
}
constexpr int _CMP_ORD_Q = 7;
// Only the ordered test (neither operand NaN), which is all the kernels ask for.
inline __mmask16 _mm512_cmp_ps_mask(__m512 a, __m512 b, int) {
  __mmask16 m = 0;
  for (int i = 0; i < 16; ++i) m |= static_cast<__mmask16>((a.f[i] == a.f[i] && b.f[i] == b.f[i]) << i);
  return m;
}
inline void _mm512_mask_cvtsepi32_storeu_epi8(void* p, __mmask16 mask, __m512i a) {
  for (int i = 0; i < 16; ++i) {
    const int8_t b = static_cast<int8_t>(a.d[i] < -128 ? -128 : a.d[i] > 127 ? 127 : a.d[i]);
    if (mask >> i & 1) static_cast<int8_t*>(p)[i] = b;
  }
}
// vshuff32x4 with a = b: 128-bit block i of the result is block (imm >> 2i) & 3 of a.
inline __m512 _mm512_shuffle_f32x4(__m512 a, __m512 b, int imm) {
  __m512 r;
  for (int i = 0; i < 4; ++i) {
    const __m512& src = i < 2 ? a : b;
    std::memcpy(&r.f[4 * i], &src.f[4 * ((imm >> (2 * i)) & 3)], 16);
  }
  return r;
}
// vpermilps: within each 128-bit block, element i is element (imm >> 2i) & 3.
inline __m512 _mm512_permute_ps(__m512 a, int imm) {
  __m512 r;
  for (int i = 0; i < 16; ++i) r.f[i] = a.f[(i & ~3) + ((imm >> (2 * (i & 3))) & 3)];
  return r;
}
inline float _mm512_cvtss_f32(__m512 a) { return a.f[0]; }
inline void _mm512_storeu_si512(void* p, __m512i v) { std::memcpy(p, &v, sizeof v); }
inline __m512i _mm512_maskz_loadu_epi32(__mmask16 mask, const void* p) {
  __m512i v{};
  for (int i = 0; i < 16; ++i) {
    if (mask >> i & 1) std::memcpy(&v.d[i], static_cast<const char*>(p) + 4 * i, 4);
  }
  return v;
}
// The uint8 P x V path: V's key quads, the codes' bytes.
inline __m512i _mm512_cvtepu8_epi32(__m128i a) {
  __m512i v;
  for (int i = 0; i < 16; ++i) v.d[i] = static_cast<uint8_t>(a.b[i]);
  return v;
}
inline __m512i _mm512_or_si512(__m512i a, __m512i b) {
  for (int i = 0; i < 16; ++i) a.d[i] |= b.d[i];
  return a;
}
inline void _mm512_mask_storeu_epi32(void* p, __mmask16 mask, __m512i a) {
  for (int i = 0; i < 16; ++i) {
    if (mask >> i & 1) std::memcpy(static_cast<char*>(p) + 4 * i, &a.d[i], 4);
  }
}
// vpmovdb: each lane's low byte (truncation).
inline __m128i _mm512_cvtepi32_epi8(__m512i a) {
  __m128i v;
  for (int i = 0; i < 16; ++i) v.b[i] = static_cast<int8_t>(a.d[i] & 0xFF);
  return v;
}
inline void _mm512_mask_cvtepi32_storeu_epi8(void* p, __mmask16 mask, __m512i a) {
  for (int i = 0; i < 16; ++i) {
    if (mask >> i & 1) static_cast<int8_t*>(p)[i] = static_cast<int8_t>(a.d[i] & 0xFF);
  }
}
// vpackusdw / vpackuswb: per 128-bit lane, a's then b's elements narrowed with unsigned
// saturation.
inline __m512i _mm512_packus_epi32(__m512i a, __m512i b) {
  uint16_t w[32];
  for (int lane = 0; lane < 4; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const int32_t x = a.d[4 * lane + i], y = b.d[4 * lane + i];
      w[8 * lane + i] = static_cast<uint16_t>(x < 0 ? 0 : x > 65535 ? 65535 : x);
      w[8 * lane + 4 + i] = static_cast<uint16_t>(y < 0 ? 0 : y > 65535 ? 65535 : y);
    }
  }
  return shim_load<__m512i>(w);
}
inline __m512i _mm512_packus_epi16(__m512i a, __m512i b) {
  int16_t wa[32], wb[32];
  uint8_t r[64];
  std::memcpy(wa, &a, 64);
  std::memcpy(wb, &b, 64);
  for (int lane = 0; lane < 4; ++lane) {
    for (int i = 0; i < 8; ++i) {
      const int x = wa[8 * lane + i], y = wb[8 * lane + i];
      r[16 * lane + i] = static_cast<uint8_t>(x < 0 ? 0 : x > 255 ? 255 : x);
      r[16 * lane + 8 + i] = static_cast<uint8_t>(y < 0 ? 0 : y > 255 ? 255 : y);
    }
  }
  return shim_load<__m512i>(r);
}
// vpermd: dword i of the result is dword idx[i] % 16 of a.
inline __m512i _mm512_permutexvar_epi32(__m512i idx, __m512i a) {
  __m512i r;
  for (int i = 0; i < 16; ++i) r.d[i] = a.d[idx.d[i] & 15];
  return r;
}

inline __m256i _mm256_loadu_si256(const __m256i* p) { return shim_load<__m256i>(p); }
inline __m256i _mm256_set1_epi32(int x) { return shim_set1<__m256i>(x); }
inline __m256i _mm256_xor_si256(__m256i a, __m256i b) { return shim_xor(a, b); }
inline __m256i _mm256_dpbusd_avx_epi32(__m256i acc, __m256i a, __m256i b) { return shim_dpbusd(acc, a, b); }
inline void _mm256_store_si256(__m256i* p, __m256i v) { std::memcpy(p, &v, sizeof v); }
