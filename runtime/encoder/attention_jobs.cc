// Attention of one layer as (sequence, head) jobs: each sequence attends over its own packed
// rows only, and each job writes its head's columns of the context. One task per scratch slot
// walks its share of the jobs, so no two concurrent jobs share scratch. A masked head's context
// is written as zeros (what zero value rows or zero output-projection columns give) and its
// work skipped.
#include <algorithm>
#include <cmath>

#include "encoder/encoder.h"
#include "encoder/parallel.h"
#include "kernels/attention.h"
#include "model/format.h"

namespace encore::internal {
namespace fmt = format;

namespace {

// The job's geometry within the run.
struct HeadJob {
  size_t row0, rows;   // first packed row of the sequence, its packed length
  size_t col0;         // first context column of the head (h x head_dim)
  float* probs;        // [seq, seq] block of the kept probabilities, or null
};

void zero_context(bool q8, const HeadJob& j, size_t A, size_t d, float* out, const ContextQs8& q) {
  for (size_t r = 0; r < j.rows; ++r) {
    if (q8) {
      std::fill(q.out + r * A, q.out + r * A + d, static_cast<int8_t>(q.zero_point));
    } else {
      std::fill(out + r * A, out + r * A + d, 0.0f);
    }
  }
}

}  // namespace

void run_attention(const Encoder& e, size_t layer, const Inputs& in, const ActivationBuffers& b) {
  const EncoderConfig& c = *e.config;
  const ModelWeights& w = *e.weights;
  const size_t S_full = static_cast<size_t>(in.seq_len);
  const size_t heads = static_cast<size_t>(c.heads_in_layer(static_cast<int>(layer)));
  const size_t d = static_cast<size_t>(c.head_dim()), A = heads * d;
  const size_t jobs = static_cast<size_t>(in.batch) * heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const size_t slots = std::min(e.scratch_slots, jobs);
  const uint8_t* masked = e.ablation.heads_of(layer);
  float* probs = e.attention_probs(layer, in.batch, in.seq_len);  // [batch, heads, S, S] or null
  const auto& act = w.layers[layer].act;
  // int8 unless the model is f32 or this layer's attention block is kept in f32.
  const bool q8 = w.quantized && !w.layers[layer].attention_f32;
  const bool global = c.layer_is_global(static_cast<int>(layer));
  const size_t half_window = static_cast<size_t>(c.local_attention / 2);
  parallel_tasks(e.threads(), slots, [&](size_t slot) {
    float* scratch = b.attn_scratch + slot * b.attn_scratch_stride;
    for (size_t job = slot; job < jobs; job += slots) {
      const size_t seq = job / heads, h = job % heads;
      HeadJob j{static_cast<size_t>(b.seq_rows[seq]), 0, h * d, nullptr};
      j.rows = static_cast<size_t>(b.seq_rows[seq + 1]) - j.row0;
      float* out = q8 ? nullptr : b.context + j.row0 * A + j.col0;  // f32 blocks' context
      // Probabilities keep the caller's [seq_len, seq_len] layout: the rows x rows block
      // computed, zeros for positions after the last unmasked token (not computed).
      j.probs = probs ? probs + job * S_full * S_full : nullptr;
      if (j.probs) std::fill(j.probs, j.probs + S_full * S_full, 0.0f);
      ContextQs8 context_q{nullptr, 1.0f, 0};
      if (q8) {
        const ActivationQuant& aq = act[fmt::kAttnOutInput];
        context_q = {b.hidden_q + j.row0 * A + j.col0, aq.scale, aq.zero_point};
      }
      if (masked[h]) {
        zero_context(q8, j, A, d, out, context_q);
        continue;
      }
      const float* bias = b.key_bias + j.row0;
      if (!global) {  // ModernBERT's local layers: the sliding window
        if (q8) {
          const int8_t* q = b.qkv_q + j.row0 * 3 * A + j.col0;
          attention_window_qs8(j.rows, d, half_window, q, act[fmt::kQOutput].scale, q + A, act[fmt::kKOutput].scale,
                               q + 2 * A, act[fmt::kVOutput].scale, 3 * A, bias, scale, scratch, nullptr, A,
                               &context_q);
        } else {
          const float* q = b.qkv_f32 + j.row0 * 3 * A + j.col0;
          attention_window_f32(j.rows, d, half_window, q, q + A, q + 2 * A, 3 * A, bias, scale, scratch, out, A);
        }
        continue;
      }
      if (q8) {
        const int8_t* q = b.qkv_q + j.row0 * 3 * A + j.col0;
        attention_head_qs8(j.rows, d, q, act[fmt::kQOutput].scale, q + A, act[fmt::kKOutput].scale, q + 2 * A,
                           act[fmt::kVOutput].scale, 3 * A, bias, scale, scratch, nullptr, A, j.probs, S_full,
                           &context_q);
      } else {
        const float* q = b.qkv_f32 + j.row0 * 3 * A + j.col0;
        attention_head_f32(j.rows, d, q, q + A, q + 2 * A, 3 * A, bias, scale, scratch, out, A, j.probs, S_full);
      }
    }
  });
}

}  // namespace encore::internal
