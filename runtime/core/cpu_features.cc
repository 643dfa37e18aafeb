#include "core/cpu_features.h"

#include <cpuinfo.h>

#include <cstdlib>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace encore {
namespace {

struct Named {
  const char* name;
  bool CpuFeatures::*field;
};

// Every field, in declaration order: the names ENCORE_CPU_DISABLE and reports use.
constexpr Named kFeatures[] = {
    {"avx2", &CpuFeatures::avx2},
    {"fma", &CpuFeatures::fma},
    {"f16c", &CpuFeatures::f16c},
    {"bmi", &CpuFeatures::bmi},
    {"avx512f", &CpuFeatures::avx512f},
    {"avx512cd", &CpuFeatures::avx512cd},
    {"avx512dq", &CpuFeatures::avx512dq},
    {"avx512bw", &CpuFeatures::avx512bw},
    {"avx512vl", &CpuFeatures::avx512vl},
    {"avx512vnni", &CpuFeatures::avx512vnni},
    {"avx512vbmi", &CpuFeatures::avx512vbmi},
    {"avxvnni", &CpuFeatures::avxvnni},
    {"neon", &CpuFeatures::neon},
    {"neon_fma", &CpuFeatures::neon_fma},
    {"armv8", &CpuFeatures::armv8},
    {"dot", &CpuFeatures::dot},
    {"i8mm", &CpuFeatures::i8mm},
    {"fp16", &CpuFeatures::fp16},
};

#if defined(__x86_64__) && defined(__GNUC__)
// cpuinfo (2022) predates AVX-VNNI: CPUID.(EAX=7, ECX=1):EAX bit 4. The OS must also save ymm
// state, which cpuinfo's AVX2 flag already checks.
bool cpu_has_avxvnni() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return (eax & (1u << 4)) != 0 && cpuinfo_has_x86_avx2();
}
#endif

struct Process {
  CpuFeatures features;
  std::vector<std::string> ignored;
};

const Process& process() {
  static const Process p = [] {
    Process q;
    q.features = detect_cpu_features();
    if (const char* list = std::getenv("ENCORE_CPU_DISABLE")) {
      q.features = disable_cpu_features(q.features, list, &q.ignored);
    }
    return q;
  }();
  return p;
}

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
  if (!cpuinfo_initialize()) return f;
#if CPUINFO_ARCH_X86 || CPUINFO_ARCH_X86_64
  f.avx2 = cpuinfo_has_x86_avx2();
  f.fma = cpuinfo_has_x86_fma3();
  f.f16c = cpuinfo_has_x86_f16c();
  f.bmi = cpuinfo_has_x86_bmi() && cpuinfo_has_x86_bmi2() && cpuinfo_has_x86_lzcnt() && cpuinfo_has_x86_movbe();
  f.avx512f = cpuinfo_has_x86_avx512f();
  f.avx512cd = cpuinfo_has_x86_avx512cd();
  f.avx512dq = cpuinfo_has_x86_avx512dq();
  f.avx512bw = cpuinfo_has_x86_avx512bw();
  f.avx512vl = cpuinfo_has_x86_avx512vl();
  f.avx512vnni = cpuinfo_has_x86_avx512vnni();
  f.avx512vbmi = cpuinfo_has_x86_avx512vbmi();
#if defined(__x86_64__) && defined(__GNUC__)
  f.avxvnni = cpu_has_avxvnni();
#endif
#elif CPUINFO_ARCH_ARM64
  f.neon = true;
  f.neon_fma = true;
  f.armv8 = true;
  f.dot = cpuinfo_has_arm_neon_dot();
  f.fp16 = cpuinfo_has_arm_neon_fp16_arith();
#if defined(__linux__)
  // cpuinfo (2022) predates i8mm; Linux reports it in AT_HWCAP2 (HWCAP2_I8MM, bit 13).
  f.i8mm = (getauxval(AT_HWCAP2) & (1ul << 13)) != 0;
#endif
#elif CPUINFO_ARCH_ARM
  f.neon = cpuinfo_has_arm_neon();
  f.neon_fma = cpuinfo_has_arm_neon_fma();
  f.armv8 = cpuinfo_has_arm_v8();
  f.dot = cpuinfo_has_arm_neon_dot();
  f.fp16 = cpuinfo_has_arm_neon_fp16_arith();
#endif
  return f;
}

CpuFeatures disable_cpu_features(CpuFeatures f, std::string_view list, std::vector<std::string>* unknown) {
  size_t i = 0;
  while (i < list.size()) {
    const size_t end = list.find_first_of(", \t", i);
    const std::string_view name = list.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    i = end == std::string_view::npos ? list.size() : end + 1;
    if (name.empty()) continue;
    bool known = false;
    for (const Named& n : kFeatures) {
      if (name == n.name) {
        f.*n.field = false;
        known = true;
      }
    }
    if (!known && unknown) unknown->emplace_back(name);
  }
  return f;
}

const CpuFeatures& cpu_features() { return process().features; }

const std::vector<std::string>& cpu_features_ignored() { return process().ignored; }

std::string cpu_feature_list(const CpuFeatures& f) {
  std::string s;
  for (const Named& n : kFeatures) {
    if (!(f.*n.field)) continue;
    if (!s.empty()) s += ' ';
    s += n.name;
  }
  return s;
}

}  // namespace encore
