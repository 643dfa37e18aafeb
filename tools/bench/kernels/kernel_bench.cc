// encore-kernel-bench: every own kernel and each XNNPACK wrapper alone, on the shapes of the
// reference models (MiniLM-L6: hidden 384, FFN 1536, head 32; BERT-base: 768, 3072, 64),
// single-threaded, with google-benchmark. Each result carries GOPS (a multiply-add counts 2)
// or GB/s and its share of this CPU's peak, which is measured first by tight loops of the
// instructions a kernel could at best use (see peak_probe below), not taken from a datasheet.
//
//   encore-kernel-bench [--benchmark_filter=REGEX] [--benchmark_min_time=0.2] [...]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "core/cpu_features.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/kernel_table.h"
#include "kernels/norm.h"
#include "xnnpack/xnn_linear.h"

namespace {

using encore::internal::ActivationQuant;
using encore::internal::LinearOp;
using encore::internal::LinearWeights;

// ------------------------------------------------------------------ peaks of this CPU

struct Peaks {
  double f32_gflops = 0;      // FMA throughput, widest vector the CPU has
  double int8_gops = 0;       // exact int8 dot products: VNNI if present, else 16-bit madd
  const char* f32_how = "n/a";
  const char* int8_how = "n/a";
  double int8_saturating_gops = 0;  // AVX2 VPMADDUBSW + VPMADDWD (ONNX Runtime's path)
  double copy_gbs = 0;        // memcpy of an L2-resident buffer (read + write bytes)
};

template <typename Fn>
double best_seconds(Fn&& fn) {
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

constexpr int kPeakIters = 4000000;

#if defined(__x86_64__)
// Eight independent accumulators in registers hide the instruction latency; the empty asm
// with all eight as in/out operands keeps the compiler from folding or spilling the loop.
#define ENCORE_PEAK_LOOP(VEC, CONSTRAINT, INIT, STEP, OPS_PER_STEP)                          \
  VEC a0 = INIT, a1 = INIT, a2 = INIT, a3 = INIT, a4 = INIT, a5 = INIT, a6 = INIT, a7 = INIT; \
  for (int i = 0; i < kPeakIters; ++i) {                                                    \
    a0 = STEP(a0); a1 = STEP(a1); a2 = STEP(a2); a3 = STEP(a3);                             \
    a4 = STEP(a4); a5 = STEP(a5); a6 = STEP(a6); a7 = STEP(a7);                             \
    asm volatile("" : "+" CONSTRAINT(a0), "+" CONSTRAINT(a1), "+" CONSTRAINT(a2),           \
                 "+" CONSTRAINT(a3), "+" CONSTRAINT(a4), "+" CONSTRAINT(a5),                \
                 "+" CONSTRAINT(a6), "+" CONSTRAINT(a7));                                   \
  }                                                                                         \
  asm volatile("" : : CONSTRAINT(a0), CONSTRAINT(a1), CONSTRAINT(a2), CONSTRAINT(a3),       \
               CONSTRAINT(a4), CONSTRAINT(a5), CONSTRAINT(a6), CONSTRAINT(a7));             \
  return double(kPeakIters) * 8 * (OPS_PER_STEP)

__attribute__((target("avx2,fma"))) double fma_avx2() {
  const __m256 x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(0.9999999f);
  auto step = [&](__m256 a) __attribute__((target("avx2,fma"))) { return _mm256_fmadd_ps(x, y, a); };
  ENCORE_PEAK_LOOP(__m256, "x", _mm256_setzero_ps(), step, 8 * 2);
}

__attribute__((target("avx512f"))) double fma_avx512() {
  const __m512 x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(0.9999999f);
  auto step = [&](__m512 a) __attribute__((target("avx512f"))) { return _mm512_fmadd_ps(x, y, a); };
  ENCORE_PEAK_LOOP(__m512, "v", _mm512_setzero_ps(), step, 16 * 2);
}

// AVX2 without VNNI: int8 values widened to int16 and multiplied with VPMADDWD (two
// multiply-adds per 32-bit lane), the exact path XNNPACK's x86 qc8 kernels take. The multiply
// reads the accumulator so that it cannot be hoisted out of the loop.
__attribute__((target("avx2"))) double madd_avx2() {
  const __m256i y = _mm256_set1_epi16(-2);
  auto step = [&](__m256i a) __attribute__((target("avx2"))) {
    return _mm256_add_epi32(a, _mm256_madd_epi16(a, y));
  };
  ENCORE_PEAK_LOOP(__m256i, "x", _mm256_set1_epi16(3), step, 16 * 2);
}

// ONNX Runtime's AVX2 u8 x s8 path: VPMADDUBSW (32 multiply-adds into saturating 16-bit
// pairs) then VPMADDWD by ones into 32 bits. Not exact for full-range int8 weights; printed
// for comparison only.
__attribute__((target("avx2"))) double maddubs_avx2() {
  const __m256i y = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  auto step = [&](__m256i a) __attribute__((target("avx2"))) {
    return _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(a, y), ones));
  };
  ENCORE_PEAK_LOOP(__m256i, "x", _mm256_set1_epi8(3), step, 32 * 2);
}

__attribute__((target("avx512f,avx512vnni"))) double dpbusd_avx512() {
  const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
  auto step = [&](__m512i a) __attribute__((target("avx512f,avx512vnni"))) { return _mm512_dpbusd_epi32(a, x, y); };
  ENCORE_PEAK_LOOP(__m512i, "v", _mm512_setzero_si512(), step, 64 * 2);
}
#undef ENCORE_PEAK_LOOP
#endif

Peaks measure_peaks() {
  Peaks p;
#if defined(__x86_64__)
  // The kernel table's features (ENCORE_CPU_DISABLE applies here too).
  const encore::CpuFeatures& cpu = encore::cpu_features();
  if (cpu.avx512f) {
    double ops = fma_avx512();
    p.f32_gflops = 1e-9 * ops / best_seconds([&] { fma_avx512(); });
    p.f32_how = "AVX-512 FMA";
  } else if (cpu.avx2 && cpu.fma) {
    double ops = fma_avx2();
    p.f32_gflops = 1e-9 * ops / best_seconds([&] { fma_avx2(); });
    p.f32_how = "AVX2 FMA";
  }
  if (cpu.avx512f && cpu.avx512vnni) {
    double ops = dpbusd_avx512();
    p.int8_gops = 1e-9 * ops / best_seconds([&] { dpbusd_avx512(); });
    p.int8_how = "AVX-512 VNNI vpdpbusd";
  } else if (cpu.avx2) {
    double ops = madd_avx2();
    p.int8_gops = 1e-9 * ops / best_seconds([&] { madd_avx2(); });
    p.int8_how = "AVX2 vpmaddwd (int8 widened to int16)";
  }
  if (cpu.avx2) {
    double ops = maddubs_avx2();
    p.int8_saturating_gops = 1e-9 * ops / best_seconds([&] { maddubs_avx2(); });
  }
#endif
  std::vector<char> a(512 * 1024, 1), b(512 * 1024);
  const int reps = 2000;
  double s = best_seconds([&] {
    for (int r = 0; r < reps; ++r) {
      std::memcpy(b.data(), a.data(), a.size());
      benchmark::ClobberMemory();
    }
  });
  p.copy_gbs = 1e-9 * 2.0 * double(a.size()) * reps / s;
  return p;
}

Peaks g_peaks;

void set_ops(benchmark::State& state, double ops_per_iter, double peak_gops) {
  state.counters["GOPS"] = benchmark::Counter(ops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (peak_gops > 0) {
    state.counters["peak%"] =
        benchmark::Counter(ops_per_iter * 1e-9 * 100.0 / peak_gops, benchmark::Counter::kIsIterationInvariantRate);
  }
}

void set_bytes(benchmark::State& state, double bytes_per_iter) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (g_peaks.copy_gbs > 0) {
    state.counters["copy%"] = benchmark::Counter(bytes_per_iter * 1e-9 * 100.0 / g_peaks.copy_gbs,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  }
}

template <typename T>
std::vector<T> random_vector(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

// ------------------------------------------------------------------ XNNPACK linear layers

struct LinearShape {
  const char* name;
  int in, out;
};

// The four linear layers of one encoder layer (QKV fused) for each reference shape.
const LinearShape kLinearShapes[] = {
    {"minilm/qkv", 384, 1152},      {"minilm/attn_out", 384, 384},  {"minilm/ffn_up", 384, 1536},
    {"minilm/ffn_down", 1536, 384}, {"bert-base/qkv", 768, 2304},   {"bert-base/attn_out", 768, 768},
    {"bert-base/ffn_up", 768, 3072}, {"bert-base/ffn_down", 3072, 768},
};

// own: null runs XNNPACK, else encore's GEMM with that kernel (same results).
void bm_linear_qc8(benchmark::State& state, LinearShape shape, const encore::Qs8GemmKernel* own) {
  const size_t rows = static_cast<size_t>(state.range(0));
  auto w = random_vector<int8_t>(size_t(shape.out) * shape.in, -127, 127, 1);
  auto x = random_vector<int8_t>(rows * shape.in, -128, 127, 2);
  std::vector<float> wscale(shape.out, 0.01f), oscale(shape.out, 0.5f);
  std::vector<int32_t> bias(shape.out, 0);
  std::vector<int8_t> y(rows * shape.out);
  LinearWeights lw;
  lw.out = shape.out;
  lw.in = shape.in;
  lw.weight_i8 = w.data();
  lw.weight_scales = wscale.data();
  lw.bias_i32 = bias.data();
  auto op = LinearOp::create_qc8(lw, ActivationQuant{0.05f, 0}, oscale.data(), 0, shape.name, own);
  if (!op.ok()) {
    state.SkipWithError(op.status().message().c_str());
    return;
  }
  for (auto _ : state) {
    if (!op->run(rows, x.data(), y.data(), nullptr).ok()) state.SkipWithError("run failed");
    benchmark::DoNotOptimize(y.data());
  }
  set_ops(state, 2.0 * double(rows) * shape.in * shape.out, g_peaks.int8_gops);
}

void bm_linear_f32(benchmark::State& state, LinearShape shape) {
  const size_t rows = static_cast<size_t>(state.range(0));
  auto w = random_vector<float>(size_t(shape.out) * shape.in, -0.1f, 0.1f, 1);
  auto b = random_vector<float>(shape.out, -0.1f, 0.1f, 3);
  auto x = random_vector<float>(rows * shape.in, -1, 1, 2);
  std::vector<float> y(rows * shape.out);
  auto op = LinearOp::create_f32(shape.out, shape.in, w.data(), b.data(), shape.name);
  if (!op.ok()) {
    state.SkipWithError(op.status().message().c_str());
    return;
  }
  for (auto _ : state) {
    if (!op->run(rows, x.data(), y.data(), nullptr).ok()) state.SkipWithError("run failed");
    benchmark::DoNotOptimize(y.data());
  }
  set_ops(state, 2.0 * double(rows) * shape.in * shape.out, g_peaks.f32_gflops);
}

// ------------------------------------------------------------------ attention core

// The integer attention's softmax alone: 4 rows of scores (a query tile) to uint8 numerator
// codes; given_max 1 passes the row maxima as the score kernel returns them (the route
// attention takes when no score can be NaN), 0 lets the softmax find them and check for NaN.
void bm_softmax_codes(benchmark::State& state) {
  const size_t keys = static_cast<size_t>(state.range(0));
  const bool given_max = state.range(1) != 0;
  if (!encore::qs8_pv_supported()) {
    state.SkipWithError("no integer P x V kernel on this CPU");
    return;
  }
  constexpr size_t kRows = 4;
  auto scores = random_vector<float>(kRows * keys, -8, 8, 12);
  const size_t p_stride = (keys + 3) / 4 * 4;
  std::vector<uint8_t> codes(kRows * p_stride);
  float sums[kRows], mass[kRows];
  const int32_t scale = encore::qs8_pv_prob_scale(keys);
  float row_max[kRows];
  for (size_t r = 0; r < kRows; ++r) {
    row_max[r] = *std::max_element(scores.begin() + r * keys, scores.begin() + (r + 1) * keys);
  }
  for (auto _ : state) {
    encore::qs8_pv_softmax_rows(kRows, keys, scores.data(), keys, scale, codes.data(), p_stride, sums, mass,
                                given_max ? row_max : nullptr);
    benchmark::DoNotOptimize(sums);
    benchmark::DoNotOptimize(codes.data());
  }
  state.counters["ns/key"] = benchmark::Counter(double(kRows * keys) * double(state.iterations()),
                                                benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// One head over a fused [seq, 3 * hidden] QKV buffer, as the session calls it.
void bm_attention(benchmark::State& state, bool int8) {
  const size_t seq = static_cast<size_t>(state.range(0));
  const size_t head_dim = static_cast<size_t>(state.range(1));
  const size_t hidden = head_dim == 32 ? 384 : 768;
  const size_t stride = 3 * hidden;
  std::vector<float> scratch(encore::attention_scratch_floats(seq, head_dim));
  std::vector<float> out(seq * hidden);
  const float scale = 1.0f / std::sqrt(float(head_dim));
  if (int8) {
    auto qkv = random_vector<int8_t>(seq * stride, -100, 100, 4);
    for (auto _ : state) {
      encore::attention_head_qs8(seq, head_dim, qkv.data(), 0.02f, qkv.data() + hidden, 0.02f,
                                 qkv.data() + 2 * hidden, 0.02f, stride, nullptr, scale, scratch.data(),
                                 out.data(), hidden);
      benchmark::DoNotOptimize(out.data());
    }
  } else {
    auto qkv = random_vector<float>(seq * stride, -2, 2, 4);
    for (auto _ : state) {
      encore::attention_head_f32(seq, head_dim, qkv.data(), qkv.data() + hidden, qkv.data() + 2 * hidden, stride,
                                 nullptr, scale, scratch.data(), out.data(), hidden);
      benchmark::DoNotOptimize(out.data());
    }
  }
  // QK^T and PV are the multiply-adds; softmax's exp is extra work not counted.
  set_ops(state, 4.0 * double(seq) * seq * head_dim, g_peaks.f32_gflops);
}

// ------------------------------------------------------------------ row-wise kernels

void bm_layer_norm(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0)), cols = static_cast<size_t>(state.range(1));
  auto x = random_vector<float>(rows * cols, -3, 3, 5);
  auto g = random_vector<float>(cols, 0.5f, 1.5f, 6);
  auto b = random_vector<float>(cols, -0.1f, 0.1f, 7);
  std::vector<float> y(rows * cols);
  for (auto _ : state) {
    encore::layer_norm_f32(rows, cols, x.data(), g.data(), b.data(), 1e-12f, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 8.0 * double(rows) * cols);
}

// The int8 encoder's step around a LayerNorm: residual add, LayerNorm, quantize (rows, cols).
void bm_residual_layer_norm(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0)), cols = static_cast<size_t>(state.range(1));
  auto x0 = random_vector<float>(rows * cols, -3, 3, 5);
  auto residual = random_vector<int8_t>(rows * cols, -128, 127, 9);
  auto g = random_vector<float>(cols, 0.5f, 1.5f, 6);
  auto b = random_vector<float>(cols, -0.1f, 0.1f, 7);
  std::vector<float> x = x0;
  std::vector<int8_t> q(rows * cols);
  encore::ResidualNormQs8 io;
  io.residual = residual.data();
  io.residual_scale = 0.01f;
  io.q = q.data();
  io.q_scale = 0.03f;
  for (auto _ : state) {
    encore::residual_layer_norm(rows, cols, x.data(), g.data(), b.data(), 1e-12f, io);
    benchmark::DoNotOptimize(q.data());
  }
  set_bytes(state, 10.0 * double(rows) * cols);  // x read and written, residual read, q written
}

// n = 128 tokens x width: the element counts one layer's step touches at seq 128.
void bm_quantize(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto x = random_vector<float>(n, -4, 4, 8);
  std::vector<int8_t> y(n);
  for (auto _ : state) {
    encore::quantize_f32_qs8(n, x.data(), 0.03f, 3, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 5.0 * double(n));
}

void bm_activation(benchmark::State& state, encore::Activation act) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto x = random_vector<float>(n, -5, 5, 11);
  std::vector<float> y(n);
  for (auto _ : state) {
    encore::activation_f32(act, n, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 8.0 * double(n));
}

void bm_activation_lut(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto x = random_vector<int8_t>(n, -128, 127, 12);
  std::vector<int8_t> y(n);
  int8_t lut[256];
  encore::make_activation_lut_qs8(encore::Activation::kGeluErf, 0.05f, 0, 0.03f, -20, lut);
  for (auto _ : state) {
    encore::apply_lut_qs8(n, x.data(), lut, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2.0 * double(n));
}

void bm_f16_to_f32(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint16_t> x(n, 0x3c00);
  std::vector<float> y(n);
  for (auto _ : state) {
    encore::f16_to_f32(n, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 6.0 * double(n));
}

void register_all() {
  for (const auto& shape : kLinearShapes) {
    benchmark::RegisterBenchmark((std::string("xnnpack_qc8_linear/") + shape.name).c_str(), bm_linear_qc8, shape,
                                 nullptr)
        ->ArgName("rows")->Arg(16)->Arg(128)->Arg(512)->Unit(benchmark::kMicrosecond);
    // encore's own GEMM with each kernel this CPU runs (the portable one at 128 rows only).
    static const auto kernels = encore::qs8_gemm_supported_kernels();
    for (const auto& k : kernels) {
      std::string name = encore::qs8_gemm_kernel_name(k);  // "encore qs8 gemm avx512vnni 4x64"
      std::replace(name.begin(), name.end(), ' ', '_');
      auto* b = benchmark::RegisterBenchmark((name + "/" + shape.name).c_str(), bm_linear_qc8, shape, &k);
      b->ArgName("rows")->Arg(128)->Unit(benchmark::kMicrosecond);
      if (k != encore::Qs8GemmKernel::kPortable) b->Arg(16)->Arg(512);
    }
    benchmark::RegisterBenchmark((std::string("xnnpack_f32_linear/") + shape.name).c_str(), bm_linear_f32, shape)
        ->ArgName("rows")->Arg(128)->Unit(benchmark::kMicrosecond);
  }
  for (bool int8 : {true, false}) {
    benchmark::RegisterBenchmark(int8 ? "attention_head_qs8" : "attention_head_f32", bm_attention, int8)
        ->ArgNames({"seq", "head_dim"})
        ->ArgsProduct({{16, 128, 512}, {32, 64}})
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("softmax_codes", bm_softmax_codes)
      ->ArgNames({"keys", "given_max"})
      ->ArgsProduct({{128, 512}, {0, 1}});
  benchmark::RegisterBenchmark("layer_norm_f32", bm_layer_norm)
      ->ArgNames({"rows", "cols"})->Args({128, 384})->Args({128, 768})->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("residual_layer_norm", bm_residual_layer_norm)
      ->ArgNames({"rows", "cols"})->Args({128, 384})->Args({128, 768})->Unit(benchmark::kMicrosecond);
  for (int width : {384, 768, 3072}) {
    benchmark::RegisterBenchmark("quantize_f32_qs8", bm_quantize)->ArgName("n")->Arg(128 * width)
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("gelu_erf_f32", bm_activation, encore::Activation::kGeluErf)
      ->ArgName("n")->Arg(128 * 3072)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("gelu_tanh_f32", bm_activation, encore::Activation::kGeluTanh)
      ->ArgName("n")->Arg(128 * 3072)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("activation_lut_qs8", bm_activation_lut)->ArgName("n")->Arg(128 * 3072)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("f16_to_f32", bm_f16_to_f32)->ArgName("n")->Arg(128 * 768)
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  g_peaks = measure_peaks();
  std::printf("peaks measured on this CPU, one core:\n");
  std::printf("  f32   %7.1f GFLOPS  (%s)\n", g_peaks.f32_gflops, g_peaks.f32_how);
  std::printf("  int8  %7.1f GOPS    (%s)\n", g_peaks.int8_gops, g_peaks.int8_how);
  if (g_peaks.int8_saturating_gops > 0) {
    std::printf("  int8  %7.1f GOPS    (AVX2 vpmaddubsw + vpmaddwd: saturating u8 x s8, for comparison)\n",
                g_peaks.int8_saturating_gops);
  }
  std::printf("  copy  %7.1f GB/s    (memcpy of 512 KiB, read + write)\n", g_peaks.copy_gbs);
  std::printf("peak%%: share of the int8 (qc8 linear) or f32 (f32 linear, attention) peak; "
              "copy%%: share of the copy rate\n");
  std::printf("cpu features: %s\nkernels chosen:\n%s\n", encore::cpu_feature_list(encore::cpu_features()).c_str(),
              encore::internal::describe_kernels(encore::internal::kernel_table()).c_str());
  std::fflush(stdout);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
