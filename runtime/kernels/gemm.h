// Own int8 GEMM for the linear layers: y[rows, out] = requantize(x[rows, in] * W^T + bias),
// with per-output-channel weight scales, for CPUs whose int8 dot-product instructions
// Debian's XNNPACK (2022-02) does not use: AVX-512 VNNI and AVX-VNNI (`vpdpbusd`) on x86,
// the Armv8.2 dot product (`sdot`) and the int8 matrix multiply (`smmla`) on aarch64. A portable kernel with the same packing and
// epilogue runs everywhere (it is the tests' second opinion, not a fast path).
//
// The arithmetic is XNNPACK's qc8 "fp32" requantization exactly (int32 accumulator, times
// the float scale input_scale * weight_scale / output_scale, clamp, round half to even,
// plus the output zero point), so every kernel here and XNNPACK's give identical int8.
//
// Weights are packed once into the kernel's panel layout: panels of NR output channels, K in
// groups of 4 bytes per channel ([panel][k / 4][NR][4]; 8 bytes for smmla), zero padded, plus per channel the
// bias with the input zero point folded in (bias - offset * sum_k w) and the float scale.
// vpdpbusd multiplies unsigned by signed bytes, so the x86 kernels read the int8 input as
// x + 128 (one xor) and fold the 128 into that per-channel term too.
#pragma once

#include <pthreadpool.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace encore {

enum class Qs8GemmKernel {
  kPortable,    // plain C++, any CPU
  kAvx512Vnni,  // x86-64: AVX-512F + AVX-512 VNNI, 4 rows x 64 channels per tile
  kAvxVnni,     // x86-64: AVX-VNNI (VEX-encoded vpdpbusd on ymm), 4 x 16
  kNeonDot,     // aarch64: Armv8.2 dot product (sdot), 4 x 16
  kNeonI8mm,    // aarch64: int8 matrix multiply (smmla, Armv8.6 i8mm), 4 x 16 in 2x2 blocks
};

const char* qs8_gemm_kernel_name(Qs8GemmKernel k);
// Whether this CPU (and OS) can run the kernel, as the kernel table says (so after
// ENCORE_CPU_DISABLE); kPortable always.
bool qs8_gemm_kernel_supported(Qs8GemmKernel k);
// Every kernel this CPU can run, portable first.
std::vector<Qs8GemmKernel> qs8_gemm_supported_kernels();
// The dot-product kernel for this CPU, or kPortable when it has none (the kernel table's choice).
Qs8GemmKernel qs8_gemm_best_kernel();
// Whether `k` beats Debian's XNNPACK on the CPUs that have it, so that Int8Gemm::kAuto runs it:
// the kernels on instructions XNNPACK does not use (AVX-512 VNNI: measured 430-455 vs 156 GOPS
// on Zen 4; AVX-VNNI and i8mm: from instruction counts). Not sdot (XNNPACK uses it too) nor
// the portable kernel.
bool qs8_gemm_beats_xnnpack(Qs8GemmKernel k);

struct Qs8GemmWeights {
  Qs8GemmKernel kernel = Qs8GemmKernel::kPortable;
  size_t out = 0, in = 0;
  size_t nr = 0;            // channels per panel
  size_t kg = 4;            // input bytes per group: 4, or 8 for smmla
  size_t k_groups = 0;      // ceil(in / kg)
  std::vector<int8_t> panels;   // [ceil(out / nr)][k_groups][nr][kg]
  std::vector<int32_t> init;    // [padded out]: bias - offset * sum_k w
  std::vector<float> scale;     // [padded out]: input_scale * weight_scale / output_scale
  int32_t output_zero_point = 0;
};

// Packs W[out, in] (row-major int8) for `kernel`. weight_scales[o] / output_scales[o] is the
// kernel scale as XNNPACK forms it (float division), times input_scale. The kernel must be
// supported by the build (any kernel can be packed; running needs the CPU).
Qs8GemmWeights qs8_gemm_pack(Qs8GemmKernel kernel, size_t out, size_t in, const int8_t* weight,
                             const int32_t* bias, const float* weight_scales, const float* output_scales,
                             float input_scale, int32_t input_zero_point, int32_t output_zero_point);

// y[rows, out] for x[rows, in], contiguous. Threads split row and channel tiles; pool may be
// null. No allocation.
void qs8_gemm_run(const Qs8GemmWeights& w, size_t rows, const int8_t* x, int8_t* y, pthreadpool_t pool);

}  // namespace encore
