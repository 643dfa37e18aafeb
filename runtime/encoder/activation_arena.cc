#include "encoder/activation_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "core/checked_math.h"
#include "core/str.h"
#include "kernels/attention.h"

namespace encore::internal {

void ActivationArena::BlockDeleter::operator()(uint8_t* p) const {
  if (mapped_bytes > 0) {
    ::munmap(p, mapped_bytes);
  } else {
    std::free(p);
  }
}

namespace {
constexpr size_t kHugePage = size_t{2} << 20;

// A 2 MiB aligned anonymous mapping of round_up(bytes, 2 MiB), advised as huge pages; null if
// the mapping fails (the caller falls back to the heap). Over-maps by one huge page and trims
// both ends, since mmap only promises 4 KiB alignment.
uint8_t* map_huge_aligned(size_t bytes, size_t* mapped) {
#if defined(MADV_HUGEPAGE)
  const size_t size = round_up(bytes, kHugePage);
  void* raw = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const uintptr_t tail = aligned + size, end = start + size + kHugePage;
  if (end > tail) ::munmap(reinterpret_cast<void*>(tail), end - tail);
  // Advice only: a kernel without transparent huge pages keeps 4 KiB pages, which still works.
  ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  *mapped = size;
  return reinterpret_cast<uint8_t*>(aligned);
#else
  (void)bytes;
  (void)mapped;
  return nullptr;
#endif
}

// Hands out 64-byte aligned slices of a block; with base == nullptr it only measures.
class Carver {
 public:
  explicit Carver(uint8_t* base) : base_(base) {}
  template <typename T>
  T* take(uint64_t count) {
    size_t at = offset_;
    offset_ = round_up(offset_ + count * sizeof(T), 64);
    return base_ ? reinterpret_cast<T*>(base_ + at) : nullptr;
  }
  size_t size() const { return offset_; }

 private:
  uint8_t* base_;
  size_t offset_ = 0;
};

void carve(Carver& c, const EncoderConfig& cfg, BufferSet set, size_t slots, uint64_t batch, uint64_t seq,
           bool keep_attention, ActivationBuffers* b) {
  const uint64_t tokens = batch * seq;
  // Sized for the widest layer: a pruned layer has at most hidden_size attention columns.
  const uint64_t H = static_cast<uint64_t>(cfg.hidden_size), I = static_cast<uint64_t>(cfg.max_intermediate_size());
  // ModernBERT: the FFN up projection writes both GeGLU halves (2 I); the GeGLU's output goes
  // to the QKV buffer (f32) or the GEMM input (int8), and the pre-norms' f32 output to the
  // context buffer in either dtype (the stream itself is the residual).
  const bool modern = cfg.is_modernbert();
  const uint64_t up = modern ? 2 * I : I;
  b->hidden = c.take<float>(tokens * H);
  b->key_bias = c.take<float>(tokens);
  b->token_source = c.take<int32_t>(tokens);
  b->seq_rows = c.take<int64_t>(batch + 1);
  b->attn_scratch_stride = round_up(attention_scratch_floats(seq, static_cast<size_t>(cfg.head_dim())), 16);
  b->attn_scratch = c.take<float>(slots * b->attn_scratch_stride);
  if (set != BufferSet::kF32) {
    b->hidden_q = c.take<int8_t>(tokens * std::max(H, I));
    b->qkv_q = c.take<int8_t>(tokens * 3 * H);
    b->proj_q = c.take<int8_t>(tokens * H);
    b->ffn_q = c.take<int8_t>(tokens * up);
    if (modern && set == BufferSet::kInt8) b->context = c.take<float>(tokens * H);  // the pre-norms' output
    if (modern) b->row_scales = c.take<float>(tokens);
  }
  if (set != BufferSet::kInt8) {
    b->context = c.take<float>(tokens * H);  // int8 models' attention writes int8 (hidden_q)
    b->qkv_f32 = c.take<float>(tokens * (modern ? std::max(3 * H, I) : 3 * H));
    b->proj_f32 = c.take<float>(tokens * H);
    b->ffn_f32 = c.take<float>(tokens * up);
  }
  b->attention_probs =
      keep_attention ? c.take<float>(static_cast<uint64_t>(cfg.total_heads()) * tokens * seq) : nullptr;
  b->cls = c.take<float>(batch * H);
  b->pooled = c.take<float>(batch * H);
  b->logits = c.take<float>(batch * std::max<uint64_t>(cfg.labels.size(), 1));
  b->positions = c.take<int32_t>(tokens);
  const uint64_t E = static_cast<uint64_t>(cfg.embedding_width());
  b->embed = E != H ? c.take<float>(tokens * E) : nullptr;
  // Carved last, so the buffers above sit where they did before per-token heads existed.
  const uint64_t W = static_cast<uint64_t>(cfg.token_logit_width());
  b->token_logits = W > 0 ? c.take<float>(tokens * W) : nullptr;
  const bool transformed = cfg.head == HeadKind::kMaskedLm || (modern && cfg.head == HeadKind::kTokenClassification);
  b->mlm = transformed ? c.take<float>(tokens * static_cast<uint64_t>(cfg.mlm_width())) : nullptr;
  uint64_t sentence_width = static_cast<uint64_t>(cfg.sentence.pooled_width(cfg.hidden_size));
  for (const SentenceDense& d : cfg.sentence.dense) {
    sentence_width = std::max(sentence_width, static_cast<uint64_t>(d.out_features));
  }
  b->sentence_a = cfg.has_sentence_embedding() ? c.take<float>(batch * sentence_width) : nullptr;
  b->sentence_b = cfg.has_sentence_embedding() ? c.take<float>(batch * sentence_width) : nullptr;
}
}  // namespace

Status ActivationArena::reserve(const EncoderConfig& cfg, BufferSet set, size_t slots, int64_t batch,
                                int64_t seq_len, uint64_t max_bytes, bool keep_attention) {
  if (batch * seq_len <= token_capacity_ && seq_len <= seq_capacity_ && batch <= batch_capacity_) {
    return Status::Ok();
  }
  int64_t new_batch = std::max(batch, batch_capacity_);
  int64_t new_seq = std::max(seq_len, seq_capacity_);
  int64_t new_tokens = std::max(batch * seq_len, token_capacity_);
  // Plan for the new token count as batch x seq, with separate batch and seq capacities.
  Carver measure(nullptr);
  ActivationBuffers unused;
  // Token-sized buffers use new_tokens; measure with batch=new_tokens/new_seq rounded up.
  uint64_t plan_batch = static_cast<uint64_t>(std::max(new_batch, (new_tokens + new_seq - 1) / new_seq));
  if (keep_attention) {
    // heads x tokens x seq floats can exceed 64 bits for a crafted config; the other buffers
    // cannot (tokens <= 2^24, widths <= 2^20).
    uint64_t floats = 0, attention_bytes = 0;
    if (!checked_mul(static_cast<uint64_t>(cfg.total_heads()), plan_batch * static_cast<uint64_t>(new_seq), &floats) ||
        !checked_mul(floats, static_cast<uint64_t>(new_seq) * sizeof(float), &attention_bytes) ||
        attention_bytes > (uint64_t{1} << 46)) {
      return resource_exhausted(cat("batch ", batch, " x seq ", seq_len,
                                    ": the attention probabilities of every layer would not fit in memory"));
    }
  }
  carve(measure, cfg, set, slots, plan_batch, static_cast<uint64_t>(new_seq), keep_attention, &unused);
  size_t bytes = measure.size();
  if (max_bytes > 0 && bytes > max_bytes) {
    return resource_exhausted(cat("batch ", batch, " x seq ", seq_len, " needs ", bytes,
                                  " bytes of activations, over the session's limit of ", max_bytes,
                                  " (SessionOptions::max_activation_bytes)"));
  }
  block_.reset();  // the old block goes first, so peak memory is not old + new
  size_t mapped = 0;
  uint8_t* p = bytes >= kHugePage ? map_huge_aligned(bytes, &mapped) : nullptr;
  if (!p) {
    void* heap = nullptr;
    if (posix_memalign(&heap, 64, std::max<size_t>(bytes, 64)) != 0 || !heap) {
      token_capacity_ = seq_capacity_ = batch_capacity_ = 0;
      buffers_ = ActivationBuffers{};
      return resource_exhausted(cat("cannot allocate ", bytes, " bytes of activations for batch ", batch,
                                    " x seq ", seq_len));
    }
    p = static_cast<uint8_t*>(heap);
  }
  block_ = std::unique_ptr<uint8_t, BlockDeleter>(p, BlockDeleter(mapped));
  bytes_ = bytes;
  Carver real(block_.get());
  carve(real, cfg, set, slots, plan_batch, static_cast<uint64_t>(new_seq), keep_attention, &buffers_);
  batch_capacity_ = static_cast<int64_t>(plan_batch);
  seq_capacity_ = new_seq;
  token_capacity_ = static_cast<int64_t>(plan_batch) * new_seq;
  return Status::Ok();
}

}  // namespace encore::internal
