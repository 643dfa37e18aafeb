// What the runtime sees of the CPU it runs on (through libcpuinfo, as XNNPACK does): the
// processor name, the core's microarchitecture and the SIMD features that decide which
// kernels run. For reports (encore-bench) and for tests that must know which core an
// emulator presents.
#pragma once

#include <string>

namespace encore {

struct CpuDescription {
  std::string name;          // "AMD EPYC 7B12", or "" when the OS does not say
  std::string uarch;         // "Zen 2", "Cortex-A72", "unknown"
  int cores = 0;             // logical processors
  std::string simd;          // space-separated: "avx2 fma avx512vnni", "neon dot i8mm", ...
};

// Empty fields (and "unknown") when cpuinfo cannot initialize; never fails.
CpuDescription describe_cpu();

// One line: "AMD EPYC 7B12 (Zen 2), 2 cores, simd: avx2 fma".
std::string to_string(const CpuDescription& cpu);

}  // namespace encore
