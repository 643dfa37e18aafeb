#include "kernels/kernel_table.h"

#include "kernels/arm_kernels.h"
#include "kernels/loop_kernels.h"
#include "kernels/x86_kernels.h"

namespace encore::internal {
namespace {

#define ENCORE_SET_LOOP_KERNELS(t, suffix, name)                                   \
  do {                                                                             \
    (t).level = name;                                                              \
    (t).attention_f32 = attention_head_f32_##suffix;                               \
    (t).attention_qs8 = attention_head_qs8_##suffix;                               \
    (t).attention_name = "encore attention " name;                                 \
    (t).attention_window_f32 = attention_window_f32_##suffix;                      \
    (t).attention_window_qs8 = attention_window_qs8_##suffix;                      \
    (t).rotary_f32 = rotary_f32_##suffix;                                          \
    (t).rotary_qs8 = rotary_qs8_##suffix;                                          \
    (t).geglu_qs8 = geglu_qs8_##suffix;                                            \
    (t).geglu_rows_qs8 = geglu_rows_qs8_##suffix;                                  \
    (t).geglu_erf_f32 = geglu_erf_f32_##suffix;                                    \
    (t).layer_norm = layer_norm_f32_##suffix;                                      \
    (t).layer_norm_name = "encore f32 layer norm " name;                           \
    (t).residual_layer_norm = residual_layer_norm_##suffix;                        \
    (t).residual_layer_norm_name = "encore f32 residual layer norm " name;         \
    (t).add = add_f32_##suffix;                                                    \
    (t).f16_to_f32 = f16_to_f32_##suffix;                                          \
    (t).quantize = quantize_f32_qs8_##suffix;                                      \
    (t).elementwise_name = "encore f32 elementwise " name;                         \
  } while (0)

}  // namespace

KernelTable make_kernel_table(const CpuFeatures& f) {
  KernelTable t;
  t.features = f;

  // Plain-loop kernels: the highest x86-64 level the CPU has.
  ENCORE_SET_LOOP_KERNELS(t, default, "default");
#ifdef ENCORE_X86_LEVELS
  if (f.x86_64_v4()) {
    ENCORE_SET_LOOP_KERNELS(t, x86_64_v4, "x86-64-v4");
  } else if (f.x86_64_v3()) {
    ENCORE_SET_LOOP_KERNELS(t, x86_64_v3, "x86-64-v3");
  }
#endif

  // Int8 GEMM.
  const auto kernel_index = [](Qs8GemmKernel k) { return static_cast<size_t>(k); };
  t.gemm_supported[kernel_index(Qs8GemmKernel::kPortable)] = true;
#ifdef ENCORE_X86_KERNELS
  t.gemm_supported[kernel_index(Qs8GemmKernel::kAvx512Vnni)] = f.avx512f && f.avx512vnni;
  t.gemm_supported[kernel_index(Qs8GemmKernel::kAvxVnni)] = f.avx2 && f.avxvnni;
#endif
#ifdef ENCORE_ARM_DOT_KERNELS
  t.gemm_supported[kernel_index(Qs8GemmKernel::kNeonDot)] = f.dot;
  t.gemm_supported[kernel_index(Qs8GemmKernel::kNeonI8mm)] = f.i8mm;
#endif
  t.gemm = Qs8GemmKernel::kPortable;
  for (auto k : {Qs8GemmKernel::kAvx512Vnni, Qs8GemmKernel::kAvxVnni, Qs8GemmKernel::kNeonI8mm,
                 Qs8GemmKernel::kNeonDot}) {
    if (t.gemm_supported[kernel_index(k)]) {
      t.gemm = k;
      break;
    }
  }
  t.gemm_tile = qs8_gemm_tile(t.gemm);
  t.gemm_name = qs8_gemm_kernel_name(t.gemm);
  t.gemm_beats_xnnpack = qs8_gemm_beats_xnnpack(t.gemm);

  // Attention's int8 steps.
#ifdef ENCORE_X86_KERNELS
  if (f.avx512f && f.avx512vnni) {
    t.scores = qs8_scores_avx512vnni;
    t.scores_pack_keys = qs8_scores_pack_keys_avx512vnni;
    t.scores_input_offset = 128;  // vpdpbusd reads the query as q + 128
    t.scores_sets_row_max = true;
    t.scores_name = "encore qs8 scores avx512vnni 4x64";
  }
  // The softmax half and the V packing use AVX-512 BW (+ VL) byte loads and stores.
  if (f.avx512f && f.avx512vnni && f.avx512bw && f.avx512vl) {
    t.pv = qs8_pv_avx512vnni;
    t.pv_pack_values = qs8_pv_pack_values_avx512vnni;
    t.softmax_codes = softmax_u8_avx512;
    t.pv_name = "encore qs8 pv avx512vnni 4x64";
    t.softmax_codes_name = "encore u8 softmax codes avx512bw";
  }
  // Explicit AVX-512 tiles for the float P x V: the vectorised loops keep only 4 accumulators
  // and measured about half of the FMA rate.
  if (f.avx512f) {
    t.f32_pv = f32_pv_avx512;
    t.f32_pv_name = "encore f32 pv avx512 4x64";
  }
  // Explicit AVX-512 where the CPU has it: the vectorised loops end each row in serial
  // reductions through memory that cost as much as the row's arithmetic at 384 columns.
  if (f.avx512f && f.avx512bw && f.avx512vl) {
    t.residual_layer_norm = residual_layer_norm_avx512;
    t.residual_layer_norm_name = "encore f32 residual layer norm avx512";
  }
  // A byte-permute table: 64 lookups per few instructions, against one load per byte
  // (measured ~5% of an int8 MiniLM run at seq 128).
  if (f.avx512f && f.avx512bw && f.avx512vbmi) {
    t.lut = lut_qs8_avx512vbmi;
    t.lut_name = "encore qs8 lut avx512vbmi";
  }
#endif
#ifdef ENCORE_ARM_DOT_KERNELS
  if (f.dot) {
    t.scores = qs8_scores_neondot;
    t.scores_input_offset = 0;  // sdot multiplies signed bytes as they are
    t.scores_name = "encore qs8 scores neondot 4x16";
  }
#endif
  return t;
}

const KernelTable& kernel_table() {
  static const KernelTable t = make_kernel_table(cpu_features());
  return t;
}

std::string describe_kernels(const KernelTable& t) {
  std::string s;
  const auto line = [&](const char* job, const std::string& name) { s += std::string(job) + ": " + name + "\n"; };
  line("gemm", t.gemm_name);
  line("attention", t.attention_name);
  line("attention scores", t.scores_name);
  line("attention pv", t.pv_name);
  line("attention softmax codes", t.softmax_codes_name);
  line("attention f32 pv", t.f32_pv_name);
  line("layer norm", t.layer_norm_name);
  line("residual layer norm", t.residual_layer_norm_name);
  line("lut", t.lut_name);
  line("elementwise", t.elementwise_name);
  return s;
}

std::string attention_kernel_name(const KernelTable& t, bool int8, size_t head_dim) {
  std::string s = std::string(t.attention_name) + (int8 ? " qs8: " : " f32: ");
  const std::string f32_pv = std::string("P x V f32 ") + t.f32_pv_name;
  // The same choice as attention_head_qs8: integer scores where a score kernel takes this
  // head size, integer P x V where there is also a P x V kernel, float otherwise.
  const bool int_scores = int8 && t.scores && head_dim > 0 && head_dim % 4 == 0;
  if (!int_scores) return s + "scores f32 loops, " + f32_pv;
  s += std::string("scores ") + t.scores_name + ", ";
  if (!t.pv) return s + "softmax f32, " + f32_pv;
  return s + "softmax codes " + t.softmax_codes_name + ", P x V " + t.pv_name;
}

}  // namespace encore::internal
