#include "kernels/gemm_qs8.h"

#include <cpuinfo.h>

#include <algorithm>
#include <cstring>

#include "kernels/gemm_qs8_tile.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace encore {
namespace {

using internal::kQs8TileRows;
using internal::Qs8Tile;

struct KernelInfo {
  size_t nr;
  size_t kg;             // input bytes per group: 4 (dot products), 8 (smmla's 2x8 blocks)
  int32_t input_offset;  // added to every input byte by the kernel (u8 x s8 instructions)
  void (*tile)(const Qs8Tile&);
};

KernelInfo kernel_info(Qs8GemmKernel k) {
  switch (k) {
#ifdef ENCORE_HAVE_X86_VNNI_KERNELS
    case Qs8GemmKernel::kAvx512Vnni: return {64, 4, 128, internal::qs8_tile_avx512vnni};
    case Qs8GemmKernel::kAvxVnni: return {16, 4, 128, internal::qs8_tile_avxvnni};
#endif
#ifdef ENCORE_HAVE_NEONDOT_KERNEL
    case Qs8GemmKernel::kNeonDot: return {16, 4, 0, internal::qs8_tile_neondot};
    case Qs8GemmKernel::kNeonI8mm: return {16, 8, 0, internal::qs8_tile_neoni8mm};
#endif
    default: return {16, 4, 0, internal::qs8_tile_portable};
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// cpuinfo (2022) predates AVX-VNNI: CPUID.(EAX=7, ECX=1):EAX bit 4. The OS must also save ymm
// state, which cpuinfo's AVX2 flag already checks.
bool cpu_has_avxvnni() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return (eax & (1u << 4)) != 0 && cpuinfo_has_x86_avx2();
}
#endif

#ifdef ENCORE_HAVE_NEONDOT_KERNEL
// cpuinfo (2022) predates i8mm; Linux reports it in AT_HWCAP2 (HWCAP2_I8MM, bit 13).
bool cpu_has_i8mm() { return (getauxval(AT_HWCAP2) & (1ul << 13)) != 0; }
#endif

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
  if (k == Qs8GemmKernel::kPortable) return true;
  if (!cpuinfo_initialize()) return false;
  switch (k) {
#ifdef ENCORE_HAVE_X86_VNNI_KERNELS
    case Qs8GemmKernel::kAvx512Vnni: return cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512vnni();
    case Qs8GemmKernel::kAvxVnni: return cpu_has_avxvnni();
#endif
#ifdef ENCORE_HAVE_NEONDOT_KERNEL
    case Qs8GemmKernel::kNeonDot: return cpuinfo_has_arm_neon_dot();
    case Qs8GemmKernel::kNeonI8mm: return cpu_has_i8mm();
#endif
    default: return false;
  }
}

std::vector<Qs8GemmKernel> qs8_gemm_supported_kernels() {
  std::vector<Qs8GemmKernel> out;
  for (auto k : {Qs8GemmKernel::kPortable, Qs8GemmKernel::kAvx512Vnni, Qs8GemmKernel::kAvxVnni,
                 Qs8GemmKernel::kNeonDot, Qs8GemmKernel::kNeonI8mm}) {
    if (qs8_gemm_kernel_supported(k)) out.push_back(k);
  }
  return out;
}

Qs8GemmKernel qs8_gemm_best_kernel() {
  for (auto k : {Qs8GemmKernel::kAvx512Vnni, Qs8GemmKernel::kAvxVnni, Qs8GemmKernel::kNeonI8mm,
                 Qs8GemmKernel::kNeonDot}) {
    if (qs8_gemm_kernel_supported(k)) return k;
  }
  return Qs8GemmKernel::kPortable;
}

bool qs8_gemm_beats_xnnpack(Qs8GemmKernel k) {
  return k == Qs8GemmKernel::kAvx512Vnni || k == Qs8GemmKernel::kAvxVnni || k == Qs8GemmKernel::kNeonI8mm;
}

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

namespace encore {

// ---- Attention scores ----------------------------------------------------------------------

namespace {
size_t round_up16(size_t n) { return (n + 15) / 16 * 16; }

// What the score kernel adds to every query byte: vpdpbusd reads it as q + 128 (unsigned);
// sdot multiplies signed bytes as they are.
#if defined(ENCORE_HAVE_X86_VNNI_KERNELS)
constexpr int32_t kScoresInputOffset = 128;
#else
constexpr int32_t kScoresInputOffset = 0;
#endif
}  // namespace

bool qs8_scores_supported(size_t head_dim) {
#if defined(ENCORE_HAVE_X86_VNNI_KERNELS)
  static const bool dot = qs8_gemm_kernel_supported(Qs8GemmKernel::kAvx512Vnni);
#elif defined(ENCORE_HAVE_NEONDOT_KERNEL)
  static const bool dot = qs8_gemm_kernel_supported(Qs8GemmKernel::kNeonDot);
#else
  const bool dot = false;
#endif
  return dot && head_dim > 0 && head_dim % 4 == 0;
}

size_t qs8_scores_packed_bytes(size_t keys, size_t head_dim) {
  return round_up16(keys) * (head_dim + sizeof(int32_t));
}

void qs8_scores_pack_keys(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride, int8_t* packed) {
#if defined(ENCORE_HAVE_X86_VNNI_KERNELS)
  // Gathers where the score kernel runs (its offset is 128 there); the loops below otherwise.
  static const bool avx512 = qs8_gemm_kernel_supported(Qs8GemmKernel::kAvx512Vnni);
  if (avx512 && k_stride <= static_cast<size_t>(INT32_MAX) / 16) {  // gather offsets are int32
    internal::qs8_scores_pack_keys_avx512vnni(keys, head_dim, k, k_stride, packed);
    return;
  }
#endif
  internal::qs8_scores_pack_keys_portable(keys, head_dim, k, k_stride, packed, kScoresInputOffset);
}

void internal::qs8_scores_pack_keys_portable(size_t keys, size_t head_dim, const int8_t* k, size_t k_stride,
                                             int8_t* packed, int32_t input_offset) {
  const size_t padded = round_up16(keys);
  // Panels are head_dim * 16 bytes, a multiple of 64: the terms after them are aligned.
  int32_t* comp = reinterpret_cast<int32_t*>(packed + padded * head_dim);
  // Per key: 4-byte groups (head_dim % 4 == 0) copied as one word each, the sum in its own
  // loop (it vectorises); padding keys are zero.
  for (size_t j = 0; j < padded; ++j) {
    int8_t* dst = packed + (j / 16) * head_dim * 16 + (j % 16) * 4;
    if (j >= keys) {
      for (size_t c = 0; c < head_dim; c += 4) std::memset(dst + (c / 4) * 64, 0, 4);
      comp[j] = 0;
      continue;
    }
    const int8_t* row = k + j * k_stride;
    for (size_t c = 0; c < head_dim; c += 4) std::memcpy(dst + (c / 4) * 64, row + c, 4);
    int32_t sum = 0;
    for (size_t c = 0; c < head_dim; ++c) sum += row[c];
    comp[j] = -input_offset * sum;
  }
}

void qs8_scores(size_t rows, size_t keys, size_t head_dim, const int8_t* q, size_t q_stride, const int8_t* packed,
                float mult, const float* key_bias, float* scores, size_t scores_stride, float* row_max) {
  const internal::Qs8ScoreTile t{rows,   keys,     head_dim, q,      q_stride, packed,
                                 reinterpret_cast<const int32_t*>(packed + round_up16(keys) * head_dim),
                                 mult,   key_bias, scores,   scores_stride, row_max};
#if defined(ENCORE_HAVE_X86_VNNI_KERNELS)
  internal::qs8_scores_avx512vnni(t);  // sets row_max itself
#elif defined(ENCORE_HAVE_NEONDOT_KERNEL)
  internal::qs8_scores_neondot(t);
  for (size_t r = 0; row_max && r < rows; ++r) {
    const float* sr = scores + r * scores_stride;
    float m = sr[0];
    for (size_t j = 1; j < keys; ++j) m = sr[j] > m ? sr[j] : m;
    row_max[r] = m;
  }
#else
  (void)t;  // qs8_scores_supported() is false: callers never get here
#endif
}

// ---- Attention P x V -----------------------------------------------------------------------

bool qs8_pv_supported() {
#if defined(ENCORE_HAVE_X86_VNNI_KERNELS)
  // The softmax half and the V packing use AVX-512 BW (+ VL) byte loads and stores.
  static const bool dot = qs8_gemm_kernel_supported(Qs8GemmKernel::kAvx512Vnni) && cpuinfo_has_x86_avx512bw() &&
                          cpuinfo_has_x86_avx512vl();
  return dot;
#else
  return false;
#endif
}

namespace {
size_t round_up4(size_t n) { return (n + 3) / 4 * 4; }
}  // namespace

int32_t qs8_pv_prob_scale(size_t keys) {
  // |sum| <= padded keys * scale * 128 must stay within int32.
  const uint64_t padded = round_up4(keys ? keys : 1);
  const uint64_t limit = static_cast<uint64_t>(INT32_MAX) / (128 * padded);
  return static_cast<int32_t>(limit < 255 ? limit : 255);
}

size_t qs8_pv_packed_values(size_t keys, size_t cols) { return round_up4(keys) * cols; }

void internal::qs8_pv_pack_values_portable(size_t keys, size_t cols, const int8_t* v, size_t v_stride,
                                           int8_t* packed, float* means) {
  for (size_t j = 0; j < round_up4(keys); ++j) {
    int8_t* dst = packed + (j / 4) * 4 * cols + j % 4;
    for (size_t c = 0; c < cols; ++c) dst[4 * c] = j < keys ? v[j * v_stride + c] : int8_t{0};
  }
  for (size_t c = 0; means && c < cols; ++c) {
    int64_t sum = 0;
    for (size_t j = 0; j < keys; ++j) sum += v[j * v_stride + c];
    means[c] = static_cast<float>(sum) / static_cast<float>(keys);
  }
}

void qs8_pv_pack_values(size_t keys, size_t cols, const int8_t* v, size_t v_stride, int8_t* packed, float* means) {
#if defined(ENCORE_HAVE_X86_VNNI_KERNELS)
  if (qs8_pv_supported()) {
    internal::qs8_pv_pack_values_avx512vnni(keys, cols, v, v_stride, packed, means);
    return;
  }
#endif
  internal::qs8_pv_pack_values_portable(keys, cols, v, v_stride, packed, means);
}

void qs8_pv_softmax_rows(size_t rows, size_t keys, const float* scores, size_t scores_stride, int32_t p_scale,
                         uint8_t* p, size_t p_stride, float* sums, float* mass, const float* row_max) {
#if defined(ENCORE_HAVE_X86_VNNI_KERNELS)
  internal::softmax_u8_avx512(rows, keys, scores, scores_stride, static_cast<float>(p_scale), p, p_stride, sums, mass,
                              row_max);
#else
  // qs8_pv_supported() is false
  (void)rows, (void)keys, (void)scores, (void)scores_stride, (void)p_scale, (void)p, (void)p_stride, (void)sums;
  (void)mass, (void)row_max;
#endif
}

void qs8_pv(size_t rows, size_t keys, size_t cols, const uint8_t* p, size_t p_stride, const int8_t* packed,
            const float* mult, const float* mass, const float* means, float* out, size_t out_stride, int8_t* out_q,
            int32_t out_zero_point) {
  const internal::Qs8PvTile t{rows, round_up4(keys) / 4, cols, p, p_stride, packed, mult, mass, means,
                              out,  out_q,               out_stride, out_zero_point};
#if defined(ENCORE_HAVE_X86_VNNI_KERNELS)
  internal::qs8_pv_avx512vnni(t);
#else
  (void)t;  // qs8_pv_supported() is false: callers never get here
#endif
}

}  // namespace encore
