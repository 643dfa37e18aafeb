// What the runtime sees of the CPU it runs on (through libcpuinfo, as XNNPACK does): the
// processor name, the core's microarchitecture and every feature of core/cpu_features.h that
// the kernel table chooses by, after the ENCORE_CPU_DISABLE override. For reports
// (encore-bench) and for tests that must know which core an emulator presents.
#pragma once

#include <string>

namespace encore {

struct CpuDescription {
  std::string name;          // "AMD EPYC 7B12", or "" when the OS does not say
  std::string uarch;         // "Zen 2", "Cortex-A72", "unknown"
  int cores = 0;             // logical processors
  std::string simd;          // cpu_feature_list(cpu_features()): "avx2 fma f16c bmi avx512f ...",
                             // "neon neon_fma armv8 dot i8mm fp16", plus any ignored override name
};

// Empty fields (and "unknown") when cpuinfo cannot initialize; never fails.
CpuDescription describe_cpu();

// One line: "AMD EPYC 7B12 (Zen 2), 2 cores, simd: avx2 fma f16c bmi".
std::string to_string(const CpuDescription& cpu);

}  // namespace encore
