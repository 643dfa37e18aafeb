// The CPU-feature description, its ENCORE_CPU_DISABLE override, and the kernel table built
// from it: the table chooses only what the features allow, and the process table is the one
// built from cpu_features().
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "kernel_paths.h"
#include "kernels/kernel_table.h"

namespace encore {
namespace {

TEST_CASE("cpu features: detected once, the override only removes, unknown names ignored") {
  const CpuFeatures detected = detect_cpu_features();
  const CpuFeatures& f = cpu_features();
  MESSAGE("cpu features: " << cpu_feature_list(f));
  // Process features are the detected ones less the override: never one more.
  const CpuFeatures none = disable_cpu_features(detected, cpu_feature_list(detected));
  CHECK(cpu_feature_list(none).empty());
  std::vector<std::string> unknown;
  const CpuFeatures fewer = disable_cpu_features(detected, "avx512vnni, i8mm,,bogus avx2", &unknown);
  CHECK(!fewer.avx512vnni);
  CHECK(!fewer.i8mm);
  CHECK(!fewer.avx2);
  CHECK(fewer.avx512f == detected.avx512f);
  CHECK(fewer.dot == detected.dot);
  CHECK(unknown == std::vector<std::string>{"bogus"});
  for (const std::string& word : {std::string("avx2"), std::string("avx512vnni"), std::string("dot")}) {
    const bool in_process = (" " + cpu_feature_list(f) + " ").find(" " + word + " ") != std::string::npos;
    const bool in_detected = (" " + cpu_feature_list(detected) + " ").find(" " + word + " ") != std::string::npos;
    CHECK((!in_process || in_detected));
  }
  CHECK(&cpu_features() == &f);
}

TEST_CASE("kernel table: the process table is built from cpu_features(), every job filled") {
  const internal::KernelTable& t = internal::kernel_table();
  MESSAGE("kernels:\n" << internal::describe_kernels(t));
  CHECK(internal::describe_kernels(t) == internal::describe_kernels(internal::make_kernel_table(cpu_features())));
  CHECK(t.gemm == qs8_gemm_best_kernel());
  for (const auto& path : test::kernel_paths()) {
    const internal::KernelTable& p = path.table;
    INFO(path.name);
    CHECK((p.gemm_tile != nullptr));
    CHECK((p.attention_f32 != nullptr));
    CHECK((p.attention_qs8 != nullptr));
    CHECK((p.layer_norm != nullptr));
    CHECK((p.residual_layer_norm != nullptr));
    CHECK((p.add != nullptr));
    CHECK((p.f16_to_f32 != nullptr));
    CHECK((p.quantize != nullptr));
  }
}

TEST_CASE("kernel table: a CPU without features gets the portable kernels") {
  const internal::KernelTable t = internal::make_kernel_table(CpuFeatures{});
  CHECK(t.gemm == Qs8GemmKernel::kPortable);
  CHECK(!t.gemm_beats_xnnpack);
  CHECK((t.scores == nullptr));
  CHECK((t.pv == nullptr));
  CHECK((t.softmax_codes == nullptr));
  CHECK((t.f32_pv == nullptr));
  CHECK((t.lut == nullptr));
  CHECK(std::string(t.level) == "default");
  for (size_t k = 1; k < internal::kQs8GemmKernels; ++k) CHECK(!t.gemm_supported[k]);
}

#if defined(__x86_64__)
TEST_CASE("kernel table: x86 choices follow the features") {
  CpuFeatures f;
  f.avx2 = f.fma = f.f16c = f.bmi = true;
  f.avxvnni = true;
  internal::KernelTable t = internal::make_kernel_table(f);
  CHECK(t.gemm == Qs8GemmKernel::kAvxVnni);
  CHECK((t.scores == nullptr));
  f.avx512f = f.avx512cd = f.avx512dq = f.avx512bw = f.avx512vl = f.avx512vnni = f.avx512vbmi = true;
  t = internal::make_kernel_table(f);
  CHECK(t.gemm == Qs8GemmKernel::kAvx512Vnni);
  CHECK(t.gemm_beats_xnnpack);
  CHECK((t.scores != nullptr));
  CHECK(t.scores_input_offset == 128);
  CHECK((t.pv != nullptr));
  CHECK((t.lut != nullptr));
#ifdef __GNUC__
  CHECK(std::string(t.level) == (f.x86_64_v4() ? "x86-64-v4" : "default"));
#endif
  f.avx512bw = false;  // no P x V, softmax codes, AVX-512 LayerNorm or LUT without BW
  t = internal::make_kernel_table(f);
  CHECK((t.scores != nullptr));
  CHECK((t.pv == nullptr));
  CHECK((t.lut == nullptr));
}
#endif

}  // namespace
}  // namespace encore
