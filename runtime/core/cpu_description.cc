#include "core/cpu_description.h"

#include <cpuinfo.h>

#include "core/cpu_features.h"

namespace encore {
namespace {

const char* uarch_name(cpuinfo_uarch u) {
  switch (u) {
    case cpuinfo_uarch_cortex_a53: return "Cortex-A53";
    case cpuinfo_uarch_cortex_a55: return "Cortex-A55";
    case cpuinfo_uarch_cortex_a57: return "Cortex-A57";
    case cpuinfo_uarch_cortex_a72: return "Cortex-A72";
    case cpuinfo_uarch_cortex_a73: return "Cortex-A73";
    case cpuinfo_uarch_cortex_a75: return "Cortex-A75";
    case cpuinfo_uarch_cortex_a76: return "Cortex-A76";
    case cpuinfo_uarch_cortex_a77: return "Cortex-A77";
    case cpuinfo_uarch_cortex_a78: return "Cortex-A78";
    case cpuinfo_uarch_cortex_a7: return "Cortex-A7";
    case cpuinfo_uarch_cortex_a15: return "Cortex-A15";
    case cpuinfo_uarch_neoverse_n1: return "Neoverse N1";
    case cpuinfo_uarch_zen: return "Zen";
    case cpuinfo_uarch_zen2: return "Zen 2";
    case cpuinfo_uarch_zen3: return "Zen 3";
    case cpuinfo_uarch_sky_lake: return "Skylake";
    case cpuinfo_uarch_unknown: return "unknown";
    default: return "other";
  }
}

}  // namespace

CpuDescription describe_cpu() {
  CpuDescription cpu;
  cpu.uarch = "unknown";
  if (!cpuinfo_initialize()) return cpu;
  if (const cpuinfo_package* p = cpuinfo_get_package(0)) cpu.name = p->name;
  if (const cpuinfo_core* c = cpuinfo_get_core(0)) cpu.uarch = uarch_name(c->uarch);
  cpu.cores = static_cast<int>(cpuinfo_get_processors_count());
  // The features the kernels choose by (cpu_features(): ENCORE_CPU_DISABLE applied).
  cpu.simd = cpu_feature_list(cpu_features());
  for (const std::string& name : cpu_features_ignored()) cpu.simd += " (ENCORE_CPU_DISABLE ignored " + name + ")";
  return cpu;
}

std::string to_string(const CpuDescription& cpu) {
  std::string s = cpu.name.empty() ? std::string("unnamed CPU") : cpu.name;
  s += " (" + cpu.uarch + "), " + std::to_string(cpu.cores) + " cores, simd: ";
  s += cpu.simd.empty() ? std::string("none detected") : cpu.simd;
  return s;
}

}  // namespace encore
