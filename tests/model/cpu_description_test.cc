// The CPU as the runtime (and XNNPACK, through the same libcpuinfo) sees it. Under qemu the
// ARM test legs set ENCORE_ARM_CORE (platforms/qemu-run.sh): these checks prove that each leg
// really presents the core it claims, so XNNPACK's kernels for that core are the ones tested.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "core/cpu_description.h"

namespace encore {
namespace {

[[maybe_unused]] bool has_word(const std::string& list, const std::string& word) {
  return (" " + list + " ").find(" " + word + " ") != std::string::npos;
}

TEST_CASE("cpu description: cores counted, one-line summary, emulated ARM core as requested") {
  const CpuDescription cpu = describe_cpu();
  MESSAGE("cpu: " << to_string(cpu));
  CHECK(cpu.cores >= 1);
  CHECK(!cpu.uarch.empty());
  CHECK(to_string(cpu).find('\n') == std::string::npos);
#if defined(__aarch64__)
  CHECK(has_word(cpu.simd, "neon"));
#endif
  const char* core = std::getenv("ENCORE_ARM_CORE");
  const std::string requested = core ? core : "";
  if (requested == "a72") {
    CHECK(cpu.uarch == "Cortex-A72");
  } else if (requested == "a53") {
    CHECK(cpu.uarch == "Cortex-A53");
  } else if (requested == "generic") {
#if defined(__aarch64__)
    CHECK(has_word(cpu.simd, "dot"));  // qemu's "max" CPU: XNNPACK's dot-product kernels run
#endif
  }
}

}  // namespace
}  // namespace encore
