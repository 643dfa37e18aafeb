// The activation buffers of one forward pass, carved out of one 64-byte aligned block.
//
// The block is planned for a (batch, seq_len) capacity and grows only when a run needs more
// tokens or a longer sequence than any run before; every run that fits reuses it untouched.
// Blocks of 2 MiB and more are anonymous mappings aligned to 2 MiB and advised as huge pages
// (MADV_HUGEPAGE, honoured where transparent huge pages are "madvise" or "always"): the first
// run touches every page of the block, and a fresh 4 KiB page costs a fault each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "encore/config.h"
#include "encore/status.h"

namespace encore::internal {

struct ActivationBuffers {
  float* hidden = nullptr;     // [tokens, hidden] residual stream (f32 in every model)
  float* context = nullptr;    // [tokens, heads x head_dim] attention output of f32 blocks
  float* key_bias = nullptr;   // [tokens] additive mask per key position
  // Packing: the rows above hold only each sequence's tokens up to its last unmasked one.
  int32_t* token_source = nullptr;  // [tokens] packed row -> flat index into the [batch, seq] inputs
  int64_t* seq_rows = nullptr;      // [batch + 1] first packed row of each sequence; [batch] = all rows
  int32_t* positions = nullptr;     // [tokens] position embedding row of each packed row
  // [tokens, embedding width] the embeddings before their projection; only when the model's
  // embeddings are narrower than its hidden size (ELECTRA)
  float* embed = nullptr;
  float* attn_scratch = nullptr;  // [scratch_slots, attention_scratch_floats(seq, head_dim)]
  size_t attn_scratch_stride = 0;
  // f32 models (and int8 models' f32 blocks)
  float* qkv_f32 = nullptr;    // [tokens, 3 * hidden] (a pruned layer uses 3 x its heads x head_dim)
  float* proj_f32 = nullptr;   // [tokens, hidden] output of attn_out / ffn_down
  float* ffn_f32 = nullptr;    // [tokens, intermediate] (the widest layer's)
  // int8 models
  int8_t* hidden_q = nullptr;  // [tokens, max(hidden, intermediate)] GEMM input
  int8_t* qkv_q = nullptr;     // [tokens, 3 * hidden]
  int8_t* proj_q = nullptr;    // [tokens, hidden]
  int8_t* ffn_q = nullptr;     // [tokens, intermediate]
  float* row_scales = nullptr;  // [tokens] int8 ModernBERT: each token's FFN-down input scale
  // Attention probabilities of every layer (only when kept): per layer [batch, heads, seq, seq]
  // for the run's batch and seq, layers one after another.
  float* attention_probs = nullptr;
  // pooler / classifier, [batch, ...]
  float* cls = nullptr;
  float* pooled = nullptr;
  float* logits = nullptr;
  // Per-token heads: [tokens, token_logit_width] (packed rows, then [batch, seq]); the masked
  // LM's transform output [tokens, mlm width]. Null without such a head.
  float* token_logits = nullptr;
  float* mlm = nullptr;
  // sentence-transformers modules, [batch, widest of the pooled vector and the Dense outputs]:
  // pooling writes sentence_a, Dense modules alternate between the two; null without them.
  float* sentence_a = nullptr;
  float* sentence_b = nullptr;
};

// Which projection buffers a model needs: f32 models the f32 ones, int8 models the int8 ones,
// int8 models with f32 blocks (format version 7) both.
enum class BufferSet { kF32, kInt8, kBoth };

class ActivationArena {
 public:
  // Makes sure the buffers fit (batch, seq_len); allocates only when they do not. A block
  // larger than max_bytes (0 = unbounded) is refused and the current one kept.
  // keep_attention adds room for every layer's attention probabilities.
  Status reserve(const EncoderConfig& config, BufferSet set, size_t scratch_slots, int64_t batch,
                 int64_t seq_len, uint64_t max_bytes = 0, bool keep_attention = false);
  const ActivationBuffers& buffers() const { return buffers_; }
  size_t bytes() const { return bytes_; }
  // True when the block is a huge-page-advised mapping (the advice may still be declined).
  bool huge_page_advised() const { return block_.get_deleter().mapped_bytes > 0; }

 private:
  // Frees a block from either allocator: mapped_bytes > 0 means munmap.
  struct BlockDeleter {
    BlockDeleter() noexcept : mapped_bytes(0) {}
    explicit BlockDeleter(size_t mapped) noexcept : mapped_bytes(mapped) {}
    size_t mapped_bytes;
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, BlockDeleter> block_;
  size_t bytes_ = 0;
  int64_t token_capacity_ = 0, seq_capacity_ = 0, batch_capacity_ = 0;
  ActivationBuffers buffers_;
};

}  // namespace encore::internal
