#include "kernels/gemm.h"

#include <algorithm>
#include <cstring>

#include "kernels/arm_kernels.h"
#include "kernels/gemm_tile.h"
#include "kernels/kernel_table.h"
#include "kernels/x86_kernels.h"

namespace encore {
namespace {

using internal::kQs8TileRows;
using internal::Qs8Tile;

struct KernelInfo {
  size_t nr;
  size_t kg;             // input bytes per group: 4 (dot products), 8 (smmla's 2x8 blocks)
  int32_t input_offset;  // added to every input byte by the kernel (u8 x s8 instructions)
  internal::Qs8TileFn tile;
};

// A kernel's panel layout and tile in this build. Any kernel can be packed; a kernel the build
// lacks gets the portable layout and tile (the same results), and the table never chooses it.
KernelInfo kernel_info(Qs8GemmKernel k) {
  switch (k) {
#ifdef ENCORE_X86_KERNELS
    case Qs8GemmKernel::kAvx512Vnni: return {64, 4, 128, internal::qs8_tile_avx512vnni};
    case Qs8GemmKernel::kAvxVnni: return {16, 4, 128, internal::qs8_tile_avxvnni};
#endif
#ifdef ENCORE_ARM_DOT_KERNELS
    case Qs8GemmKernel::kNeonDot: return {16, 4, 0, internal::qs8_tile_neondot};
    case Qs8GemmKernel::kNeonI8mm: return {16, 8, 0, internal::qs8_tile_neoni8mm};
#endif
    default: return {16, 4, 0, internal::qs8_tile_portable};
  }
}

}  // namespace

const char* qs8_gemm_kernel_name(Qs8GemmKernel k) {
  switch (k) {
    case Qs8GemmKernel::kPortable: return "encore qs8 gemm portable";
    case Qs8GemmKernel::kAvx512Vnni: return "encore qs8 gemm avx512vnni 4x64";
    case Qs8GemmKernel::kAvxVnni: return "encore qs8 gemm avxvnni 4x16";
    case Qs8GemmKernel::kNeonDot: return "encore qs8 gemm neondot 4x16";
    case Qs8GemmKernel::kNeonI8mm: return "encore qs8 gemm neoni8mm 4x16";
  }
  return "unknown";
}

bool qs8_gemm_kernel_supported(Qs8GemmKernel k) {
  const size_t i = static_cast<size_t>(k);
  return i < internal::kQs8GemmKernels && internal::kernel_table().gemm_supported[i];
}

std::vector<Qs8GemmKernel> qs8_gemm_supported_kernels() {
  std::vector<Qs8GemmKernel> out;
  for (auto k : {Qs8GemmKernel::kPortable, Qs8GemmKernel::kAvx512Vnni, Qs8GemmKernel::kAvxVnni,
                 Qs8GemmKernel::kNeonDot, Qs8GemmKernel::kNeonI8mm}) {
    if (qs8_gemm_kernel_supported(k)) out.push_back(k);
  }
  return out;
}

Qs8GemmKernel qs8_gemm_best_kernel() { return internal::kernel_table().gemm; }

bool qs8_gemm_beats_xnnpack(Qs8GemmKernel k) {
  return k == Qs8GemmKernel::kAvx512Vnni || k == Qs8GemmKernel::kAvxVnni || k == Qs8GemmKernel::kNeonI8mm;
}

internal::Qs8TileFn internal::qs8_gemm_tile(Qs8GemmKernel k) { return kernel_info(k).tile; }

Qs8GemmWeights qs8_gemm_pack(Qs8GemmKernel kernel, size_t out, size_t in, const int8_t* weight,
                             const int32_t* bias, const float* weight_scales, const float* output_scales,
                             float input_scale, int32_t input_zero_point, int32_t output_zero_point) {
  const KernelInfo info = kernel_info(kernel);
  Qs8GemmWeights w;
  w.kernel = kernel;
  w.out = out;
  w.in = in;
  w.nr = info.nr;
  w.kg = info.kg;
  w.k_groups = (in + w.kg - 1) / w.kg;
  w.output_zero_point = output_zero_point;
  const size_t panels = (out + w.nr - 1) / w.nr;
  w.panels.assign(panels * w.k_groups * w.nr * w.kg, 0);
  w.init.assign(panels * w.nr, 0);
  w.scale.assign(panels * w.nr, 0.0f);
  // The kernel computes sum_k (x + offset) * w, so the exact accumulator
  // bias + sum_k (x - zp) * w needs bias - (offset + zp) * sum_k w on top.
  const int64_t fold = int64_t(info.input_offset) + input_zero_point;
  for (size_t o = 0; o < out; ++o) {
    const int8_t* row = weight + o * in;
    int64_t sum = 0;
    int8_t* dst = w.panels.data() + (o / w.nr) * w.k_groups * w.nr * w.kg + (o % w.nr) * w.kg;
    for (size_t k = 0; k < in; ++k) {
      sum += row[k];
      dst[(k / w.kg) * w.nr * w.kg + k % w.kg] = row[k];
    }
    w.init[o] = static_cast<int32_t>((bias ? int64_t(bias[o]) : 0) - fold * sum);
    // As XNNPACK forms it: kernel scale (float division), then times the input scale.
    const float kernel_scale = weight_scales[o] / output_scales[o];
    w.scale[o] = input_scale * kernel_scale;
  }
  return w;
}

namespace {
struct RunContext {
  const Qs8GemmWeights* w;
  const int8_t* x;
  int8_t* y;
  void (*tile)(const Qs8Tile&);
};

// pthreadpool task over (channels, rows): a worker keeps one panel hot while it walks rows.
void run_tile(void* context, size_t channel, size_t row, size_t nc, size_t mr) {
  const auto& c = *static_cast<const RunContext*>(context);
  const Qs8GemmWeights& w = *c.w;
  for (size_t r = 0; r < mr; r += kQs8TileRows) {
    const size_t panel = channel / w.nr;
    Qs8Tile t;
    t.mr = std::min(kQs8TileRows, mr - r);
    t.nc = nc;
    t.in = w.in;
    t.x = c.x + (row + r) * w.in;
    t.x_stride = w.in;
    t.panel = w.panels.data() + panel * w.k_groups * w.nr * w.kg;
    t.init = w.init.data() + channel;
    t.scale = w.scale.data() + channel;
    t.y = c.y + (row + r) * w.out + channel;
    t.y_stride = w.out;
    t.output_zero_point = w.output_zero_point;
    c.tile(t);
  }
}
}  // namespace

void qs8_gemm_run(const Qs8GemmWeights& w, size_t rows, const int8_t* x, int8_t* y, pthreadpool_t pool) {
  internal::qs8_gemm_run_tile(w, rows, x, y, pool, kernel_info(w.kernel).tile);
}

void internal::qs8_gemm_run_tile(const Qs8GemmWeights& w, size_t rows, const int8_t* x, int8_t* y,
                                 pthreadpool_t pool, void (*tile)(const Qs8Tile&)) {
  if (rows == 0 || w.out == 0) return;
  RunContext c{&w, x, y, tile};
  pthreadpool_parallelize_2d_tile_2d(pool, run_tile, &c, w.out, rows, w.nr, 4 * kQs8TileRows,
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}

namespace internal {

void qs8_tile_portable(const Qs8Tile& t) {
  constexpr size_t kNr = 16;
  int32_t acc[kQs8TileRows][kNr];
  for (size_t m = 0; m < kQs8TileRows; ++m)
    for (size_t n = 0; n < kNr; ++n) acc[m][n] = t.init[n];
  for (size_t k = 0, g = 0; k < t.in; k += 4, ++g) {
    const int8_t* wg = t.panel + g * kNr * 4;
    for (size_t m = 0; m < t.mr; ++m) {
      const uint32_t bits = load_group(t.x + m * t.x_stride, k, t.in);
      int8_t a[4];
      std::memcpy(a, &bits, 4);
      for (size_t n = 0; n < kNr; ++n) {
        acc[m][n] += a[0] * wg[n * 4] + a[1] * wg[n * 4 + 1] + a[2] * wg[n * 4 + 2] + a[3] * wg[n * 4 + 3];
      }
    }
  }
  for (size_t m = 0; m < t.mr; ++m)
    for (size_t n = 0; n < t.nc; ++n)
      t.y[m * t.y_stride + n] = requantize_fp32(acc[m][n], t.scale[n], t.output_zero_point);
}

}  // namespace internal
}  // namespace encore

