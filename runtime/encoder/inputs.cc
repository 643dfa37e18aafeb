#include "encoder/inputs.h"

#include <algorithm>
#include <cstring>

#include "core/str.h"

namespace encore::internal {

Status validate_inputs(const Inputs& in, const EncoderConfig& c) {
  if (in.batch < 1) return invalid_argument(cat("batch = ", in.batch, " must be at least 1"));
  if (in.seq_len < 1) return invalid_argument(cat("sequence length ", in.seq_len, " must be at least 1"));
  if (in.seq_len > c.max_sequence_length()) {
    return out_of_range(cat("sequence length ", in.seq_len, " exceeds the model's maximum of ", c.max_sequence_length()));
  }
  if (in.batch > (int64_t{1} << 24) / in.seq_len) {
    return invalid_argument(cat("batch ", in.batch, " x sequence ", in.seq_len, " is over the limit of 2^24 tokens"));
  }
  if (!in.input_ids) return invalid_argument("input_ids is null");
  const int64_t n = in.batch * in.seq_len;
  for (int64_t i = 0; i < n; ++i) {
    int32_t id = in.input_ids[i];
    if (id < 0 || id >= c.vocab_size) {
      return out_of_range(cat("input_ids[", i / in.seq_len, "][", i % in.seq_len, "] = ", id,
                              " is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
    // A model without token types (type_vocab_size 0) takes all-zero token_type_ids as none.
    if (in.token_type_ids && (in.token_type_ids[i] < 0 || in.token_type_ids[i] >= std::max(c.type_vocab_size, 1))) {
      return out_of_range(cat("token_type_ids[", i / in.seq_len, "][", i % in.seq_len, "] = ", in.token_type_ids[i],
                              c.type_vocab_size > 0 ? cat(" is outside [0, ", c.type_vocab_size, ")")
                                                    : std::string(" is not 0, and the model has no token types")));
    }
    if (in.attention_mask && in.attention_mask[i] != 0 && in.attention_mask[i] != 1) {
      return invalid_argument(cat("attention_mask[", i / in.seq_len, "][", i % in.seq_len, "] = ",
                                  in.attention_mask[i], " must be 0 or 1"));
    }
  }
  return Status::Ok();
}

size_t pack_rows(const Inputs& in, const ActivationBuffers& b) {
  const int64_t B = in.batch, S = in.seq_len;
  int64_t rows = 0;
  for (int64_t s = 0; s < B; ++s) {
    int64_t length = S;
    if (in.attention_mask) {
      const int32_t* m = in.attention_mask + s * S;
      int64_t last = S - 1;
      while (last >= 0 && m[last] == 0) --last;
      if (last >= 0) length = last + 1;
    }
    b.seq_rows[s] = rows;
    for (int64_t p = 0; p < length; ++p) b.token_source[rows++] = static_cast<int32_t>(s * S + p);
  }
  b.seq_rows[B] = rows;
  return static_cast<size_t>(rows);
}

void fill_positions(const Inputs& in, const EncoderConfig& c, const ActivationBuffers& b) {
  const int64_t S = in.seq_len;
  for (int64_t s = 0; s < in.batch; ++s) {
    const int64_t first = b.seq_rows[s], last = b.seq_rows[s + 1];
    if (c.family != Family::kRoberta) {
      for (int64_t r = first; r < last; ++r) b.positions[r] = static_cast<int32_t>(b.token_source[r] % S);
      continue;
    }
    const int32_t pad = c.pad_token_id;
    int32_t count = 0;
    for (int64_t r = first; r < last; ++r) {
      const bool real = in.input_ids[b.token_source[r]] != pad;
      count += real;
      b.positions[r] = real ? pad + count : pad;
    }
  }
}

uint64_t packed_score_count(const Inputs& in, const ActivationBuffers& b) {
  uint64_t count = 0;
  for (int64_t s = 0; s < in.batch; ++s) {
    const uint64_t n = static_cast<uint64_t>(b.seq_rows[s + 1] - b.seq_rows[s]);
    count += n * n;
  }
  return count;
}

// Last sequence first: a packed row never lies after its place, so nothing is overwritten
// before it moves.
void unpack_rows(const Inputs& in, size_t width, float* data, const ActivationBuffers& b) {
  const size_t H = width, S = static_cast<size_t>(in.seq_len);
  for (size_t s = static_cast<size_t>(in.batch); s-- > 0;) {
    const size_t first = static_cast<size_t>(b.seq_rows[s]);
    const size_t length = static_cast<size_t>(b.seq_rows[s + 1]) - first;
    float* dst = data + s * S * H;
    if (dst != data + first * H) std::memmove(dst, data + first * H, length * H * sizeof(float));
    std::fill(dst + length * H, dst + S * H, 0.0f);
  }
}

void unpack_hidden(const Inputs& in, size_t hidden, const ActivationBuffers& b) {
  unpack_rows(in, hidden, b.hidden, b);
}

}  // namespace encore::internal
