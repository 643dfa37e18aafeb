// The kernel paths this CPU has, for the kernel tests: kernel tables built by
// make_kernel_table() from subsets of cpu_features() (so ENCORE_CPU_DISABLE narrows them too),
// one per distinct choice of kernels, the process's own first.
#pragma once

#include <string>
#include <vector>

#include "kernels/kernel_table.h"

namespace encore::test {

struct KernelPath {
  std::string name;  // the features removed: "all features", "without avx512vnni", ...
  internal::KernelTable table;
};

const std::vector<KernelPath>& kernel_paths();

}  // namespace encore::test
