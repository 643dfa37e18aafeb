#include "kernel_paths.h"

namespace encore::test {

const std::vector<KernelPath>& kernel_paths() {
  static const std::vector<KernelPath> paths = [] {
    // From the largest CPU down to none of the features: each step removes what selects a path.
    const char* const removals[] = {
        "",
        "avx512vbmi",
        "avx512vnni",
        "avx512vnni avxvnni",
        "avx512bw",
        "avx512f",
        "avx512f avxvnni",
        "avx512f avx512cd avx512dq avx512bw avx512vl avx512vnni avx512vbmi avxvnni avx2 fma f16c bmi",
        "i8mm",
        "i8mm dot",
    };
    std::vector<KernelPath> out;
    std::vector<std::string> seen;
    for (const char* removed : removals) {
      const internal::KernelTable t = internal::make_kernel_table(disable_cpu_features(cpu_features(), removed));
      const std::string kernels = internal::describe_kernels(t);
      bool known = false;
      for (const std::string& s : seen) known |= s == kernels;
      if (known) continue;
      seen.push_back(kernels);
      out.push_back({*removed ? std::string("without ") + removed : std::string("all features"), t});
    }
    return out;
  }();
  return paths;
}

}  // namespace encore::test
