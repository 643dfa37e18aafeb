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
// Whether this CPU (and OS) can run the kernel; kPortable always.
bool qs8_gemm_kernel_supported(Qs8GemmKernel k);
// Every kernel this CPU can run, portable first.
std::vector<Qs8GemmKernel> qs8_gemm_supported_kernels();
// The dot-product kernel for this CPU, or kPortable when it has none.
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

// Attention scores on the same instructions: scores[r][j] = float(sum_c q[r][c] * k[j][c]) *
// mult + key_bias[j] (key_bias may be null) for int8 Q and K with zero point 0, exact in the
// integer part. K is packed once per head (per sequence) into `packed`, which needs
// qs8_scores_packed_bytes(keys, head_dim) bytes: 16-key panels [keys/16][head_dim/4][16][4],
// then per key -128 * sum_c k[j][c] (vpdpbusd reads the query as q + 128).
// qs8_scores_supported: this CPU has such a kernel (AVX-512 VNNI, aarch64 dot product) and
// head_dim % 4 == 0, which packing and scores require.
bool qs8_scores_supported(size_t head_dim);
size_t qs8_scores_packed_bytes(size_t keys, size_t head_dim);
void qs8_scores_pack_keys(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride, int8_t* packed);
// Rows 1..4 of queries against every key; no allocation. With row_max not null, row_max[r]
// is also set to the largest of row r's scores (what the softmax needs first).
void qs8_scores(size_t rows, size_t keys, size_t head_dim, const int8_t* q, size_t q_stride, const int8_t* packed,
                float mult, const float* key_bias, float* scores, size_t scores_stride, float* row_max = nullptr);

// Attention's P x V in integers: out[r][c] = (float(sum_j p[r][j] * v[j][c]) + mass[r] * mean[c])
// * mult[r] for uint8 probability codes p (softmax numerators times qs8_pv_prob_scale(keys), rows
// padded with zeros to a multiple of 4 keys) and int8 V with zero point 0, exact in the integer
// part. vpdpbusd multiplies 4 keys per instruction, twice vpdpwssd's 2 with 15-bit codes
// (which this replaced: as accurate on the reference models, see README).
// mass[r] is the part of row r's softmax numerators that rounding to codes dropped (or added),
// credited at V's column means, mean[c]: a row with many small probabilities keeps its total
// weight instead of losing what rounds to zero (both may be null: no such term).
// V is packed once per head into qs8_pv_packed_values(keys, cols) bytes: key quads
// [keys/4][cols][4], padding keys zero; `means`, when not null, receives V's column means.
// qs8_pv_supported: this CPU has the kernel (AVX-512 VNNI + BW).
bool qs8_pv_supported();
// The largest probability code (at most 255) whose sums cannot overflow int32 for this many keys.
int32_t qs8_pv_prob_scale(size_t keys);
size_t qs8_pv_packed_values(size_t keys, size_t cols);
void qs8_pv_pack_values(size_t keys, size_t cols, const int8_t* v, size_t v_stride, int8_t* packed, float* means);
// The code rows for qs8_pv from rows 1..4 of scores (row r at scores + r * scores_stride, at
// p + r * p_stride): e[j] = exp(scores[j] - max) * p_scale and p[j] = round(e[j]) (within one),
// then zeros up to a multiple of 4 keys. sums[r] is the sum of row r's e[j] (within a relative
// 1e-5; the softmax denominator in code units) and mass[r] = sums[r] - (sum of its codes). A row
// holding a NaN score gets zero codes and NaN sums (its context comes out NaN, as in the float
// path). p_scale is qs8_pv_prob_scale(keys). No allocation. row_max, when not null, holds each
// row's maximum score (from qs8_scores) and promises that no score is NaN: the pass that finds
// both is skipped.
void qs8_pv_softmax_rows(size_t rows, size_t keys, const float* scores, size_t scores_stride, int32_t p_scale,
                         uint8_t* p, size_t p_stride, float* sums, float* mass, const float* row_max = nullptr);
// Rows 1..4; p_stride in bytes; no allocation. With out_q not null the rows go there as int8
// instead: saturate(round_half_even(y) + out_zero_point) for y as above (NaN: the zero point),
// and out is not written.
void qs8_pv(size_t rows, size_t keys, size_t cols, const uint8_t* p, size_t p_stride, const int8_t* packed,
            const float* mult, const float* mass, const float* means, float* out, size_t out_stride,
            int8_t* out_q = nullptr, int32_t out_zero_point = 0);

}  // namespace encore
