// The CPU features encore's kernels choose by, detected once per process: through libcpuinfo
// (as XNNPACK), plus CPUID leaf 7 sub-leaf 1 for AVX-VNNI and the Linux AT_HWCAP2 word for
// i8mm, which the 2022 cpuinfo predates. Features the build's architecture cannot have are
// false. The kernel table (runtime/kernels/kernel_table.h) is filled from this struct, and
// describe_cpu() reports it.
//
// Override: the environment variable ENCORE_CPU_DISABLE, a comma- or space-separated list of
// the field names below ("avx512vnni,avx512f"), removes those features before anything reads
// them, so tests and benches can force the paths of a smaller CPU. It can only remove. It is
// read once, at the first call of cpu_features(); names it does not know are ignored (and
// listed by cpu_features_ignored()), never an error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace encore {

struct CpuFeatures {
  // x86-64
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool bmi = false;  // BMI1 + BMI2 + LZCNT + MOVBE: the scalar part of x86-64-v3
  bool avx512f = false;
  bool avx512cd = false;
  bool avx512dq = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512vbmi = false;
  bool avxvnni = false;  // VEX-encoded vpdpbusd (Alder Lake, Zen 4)
  // ARM (aarch64 and 32-bit)
  bool neon = false;
  bool neon_fma = false;  // VFPv4 fused multiply-add (always on aarch64)
  bool armv8 = false;
  bool dot = false;   // Armv8.2 sdot / udot
  bool i8mm = false;  // Armv8.6 smmla
  bool fp16 = false;  // half-precision arithmetic

  // x86-64 micro-architecture levels, as GCC's arch=x86-64-v3 / -v4 need them.
  bool x86_64_v3() const { return avx2 && fma && f16c && bmi; }
  bool x86_64_v4() const { return x86_64_v3() && avx512f && avx512cd && avx512dq && avx512bw && avx512vl; }
};

// The features of this CPU as detected, without the override. All false when cpuinfo cannot
// initialize; never fails. Detects again on every call (cheap, but use cpu_features()).
CpuFeatures detect_cpu_features();

// `f` without the features named in `list` (comma- or space-separated field names). Unknown
// names are appended to `unknown` when it is not null.
CpuFeatures disable_cpu_features(CpuFeatures f, std::string_view list, std::vector<std::string>* unknown = nullptr);

// The process-wide features: detect_cpu_features() less ENCORE_CPU_DISABLE, computed once
// (thread-safe) and never changed after.
const CpuFeatures& cpu_features();

// The names in ENCORE_CPU_DISABLE that cpu_features() ignored (empty when it was all known).
const std::vector<std::string>& cpu_features_ignored();

// The present features, space-separated in declaration order: "avx2 fma f16c bmi avx512f ...".
std::string cpu_feature_list(const CpuFeatures& f);

}  // namespace encore
