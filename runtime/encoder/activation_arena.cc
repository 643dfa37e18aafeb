#include "encoder/activation_arena.h"

#include <algorithm>
#include <cstdlib>

#include "core/checked_math.h"
#include "core/str.h"
#include "kernels/attention.h"

namespace encore::internal {

void ActivationArena::FreeDeleter::operator()(void* p) const { std::free(p); }

namespace {
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

void carve(Carver& c, const EncoderConfig& cfg, bool quantized, size_t slots, uint64_t batch, uint64_t seq,
           ActivationBuffers* b) {
  const uint64_t tokens = batch * seq;
  const uint64_t H = static_cast<uint64_t>(cfg.hidden_size), I = static_cast<uint64_t>(cfg.intermediate_size);
  b->hidden = c.take<float>(tokens * H);
  b->context = c.take<float>(tokens * H);
  b->key_bias = c.take<float>(tokens);
  b->attn_scratch_stride = round_up(attention_scratch_floats(seq, static_cast<size_t>(cfg.head_dim())), 16);
  b->attn_scratch = c.take<float>(slots * b->attn_scratch_stride);
  if (quantized) {
    b->hidden_q = c.take<int8_t>(tokens * std::max(H, I));
    b->qkv_q = c.take<int8_t>(tokens * 3 * H);
    b->proj_q = c.take<int8_t>(tokens * H);
    b->ffn_q = c.take<int8_t>(tokens * I);
  } else {
    b->qkv_f32 = c.take<float>(tokens * 3 * H);
    b->proj_f32 = c.take<float>(tokens * H);
    b->ffn_f32 = c.take<float>(tokens * I);
  }
  b->cls = c.take<float>(batch * H);
  b->pooled = c.take<float>(batch * H);
  b->logits = c.take<float>(batch * std::max<uint64_t>(cfg.labels.size(), 1));
}
}  // namespace

Status ActivationArena::reserve(const EncoderConfig& cfg, bool quantized, size_t slots, int64_t batch,
                                int64_t seq_len) {
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
  carve(measure, cfg, quantized, slots, plan_batch, static_cast<uint64_t>(new_seq), &unused);
  size_t bytes = measure.size();
  void* p = nullptr;
  if (posix_memalign(&p, 64, std::max<size_t>(bytes, 64)) != 0 || !p) {
    return resource_exhausted(cat("cannot allocate ", bytes, " bytes of activations for batch ", batch,
                                  " x seq ", seq_len));
  }
  block_.reset(static_cast<uint8_t*>(p));
  bytes_ = bytes;
  Carver real(block_.get());
  carve(real, cfg, quantized, slots, plan_batch, static_cast<uint64_t>(new_seq), &buffers_);
  batch_capacity_ = static_cast<int64_t>(plan_batch);
  seq_capacity_ = new_seq;
  token_capacity_ = static_cast<int64_t>(plan_batch) * new_seq;
  return Status::Ok();
}

}  // namespace encore::internal
