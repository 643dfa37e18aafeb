// A Session runs a Model on batches of token ids.
//
// Thread-safety: a Session is used by one thread at a time (it owns its buffers, operators
// and thread pool). Any number of sessions may share one Model concurrently.
// Memory: buffers are planned for the largest batch x sequence seen so far and reused; a run
// whose shape fits allocates nothing, creates no operator and does no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "encore/model.h"
#include "encore/profile.h"
#include "encore/status.h"

namespace encore {

// Receives intermediate activations during a run (used by calibration in the converter).
// Names are the activation points of schema/README.md ("layer.3.ffn_up.output"); the data
// is `rows` rows of `cols` floats, `row_stride` floats apart, valid during the call only.
// Observing costs time; leave it null for inference.
class ActivationObserver {
 public:
  virtual ~ActivationObserver() = default;
  virtual void observe(std::string_view name, const float* data, size_t rows, size_t cols,
                       size_t row_stride) = 0;
};

// What runs the linear layers of int8 models. Every choice gives the same int8 results (the
// same requantization, bit for bit); only the speed differs.
enum class Int8Gemm {
  // encore's own GEMM where the CPU has int8 instructions Debian's XNNPACK does not use
  // (x86 AVX-512 VNNI, AVX-VNNI; aarch64 i8mm); XNNPACK everywhere else (its ARM kernels
  // already use the Armv8.2 dot product).
  kAuto,
  kXnnpack,  // always XNNPACK
  kOwn,      // always encore's GEMM, with the best kernel this CPU has (plain C++ if none: slow)
};

struct SessionOptions {
  // Threads for XNNPACK and encore's kernels; 1 runs on the calling thread only.
  int threads = 1;
  // f32 models only: calls observer->observe for every activation point of every layer.
  ActivationObserver* observer = nullptr;
  // Times every step of every run (see encore/profile.h); read them with Session::profile().
  bool profile = false;
  // Upper bound on the activation memory a run may plan (bytes; 0 = no bound beyond the 2^24
  // token limit). A run whose batch x seq needs more fails with kResourceExhausted instead.
  uint64_t max_activation_bytes = 0;
  // Keeps every layer's attention probabilities (the softmax output of every head) of each run
  // for Session::attention_probabilities(). They are planned with the activations:
  // 4 x batch x seq^2 x (heads summed over layers) more bytes. Off: nothing is copied.
  bool attention_probabilities = false;
  // int8 models: what runs the linear layers (see Int8Gemm).
  Int8Gemm int8_gemm = Int8Gemm::kAuto;
};

// One batch. All arrays are row-major [batch, seq_len] int32.
struct Inputs {
  int64_t batch = 1;
  int64_t seq_len = 0;
  const int32_t* input_ids = nullptr;       // required, each in [0, vocab_size)
  const int32_t* attention_mask = nullptr;  // optional (null = all ones); values 0 or 1
  const int32_t* token_type_ids = nullptr;  // optional (null = all zeros)
};

// Views into the session's buffers, valid until the next run() or the session's end.
struct Outputs {
  // [batch, seq_len, hidden]. Positions after a sequence's last unmasked token (trailing
  // padding) are not computed and hold zeros; what the model gives there is meaningless anyway.
  const float* last_hidden_state = nullptr;
  const float* pooler_output = nullptr;      // [batch, hidden], null without a pooler
  const float* logits = nullptr;             // [batch, labels], null without a classifier
  int64_t batch = 0, seq_len = 0, hidden = 0, labels = 0;
  // Per-token heads (EncoderConfig::head): [batch, seq_len, token_logit_width], the labels of a
  // token classifier, start and end (2) of a QA head, the vocabulary of a masked LM. Trailing
  // padding holds zeros, as in last_hidden_state. Null without such a head.
  const float* token_logits = nullptr;
  int64_t token_logit_width = 0;
  // [batch, sentence_dim]: a sentence-transformers model's sentence embedding, its pooling over
  // the attention mask, Dense and Normalize modules applied to last_hidden_state
  // (EncoderConfig::sentence); null and 0 without them.
  const float* sentence_embedding = nullptr;
  int64_t sentence_dim = 0;
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model,
                                                 const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Validates the inputs (ids in range, seq_len in [1, max_positions], mask values), then
  // runs the encoder. On error nothing in `outputs` is changed.
  Status run(const Inputs& inputs, Outputs* outputs);

  const Model& model() const;

  // Bytes of the activation block, sized for the largest (batch, seq) run so far; runs that
  // fit reuse it, so it stays constant in a steady state.
  uint64_t activation_bytes() const;

  // The steps of the last run, in execution order (a failed run leaves those before the
  // failure); empty unless SessionOptions::profile was set.
  const std::vector<ProfileRecord>& profile() const;

  // With SessionOptions::attention_probabilities: layer `layer`'s attention probabilities of
  // the last successful run, [batch, heads_in_layer(layer), seq_len, seq_len] row-major
  // (query rows, key columns; each row sums to 1; padded keys get 0 unless every key is
  // padding, when the row is uniform, as in PyTorch). Rows and columns after a sequence's
  // last unmasked token are not computed and hold zeros. A masked head's block is all zeros.
  // Valid until the next run; null without the option, before a run, or after a failed one.
  const float* attention_probabilities(int layer) const;

  // Ablation switches, for measuring what each part of the model does (encore-analyze). They
  // take effect from the next run, allocate nothing, and cost nothing when off (one flag per
  // (sequence, head) and per layer). `head` counts the heads layer `layer` has, in order (for
  // a pruned model, EncoderConfig::original_head maps it to the head it was).
  //  - A masked head contributes nothing: its context columns are zero before the output
  //    projection, exactly as if its value rows (weights and bias) or its output-projection
  //    columns were zero; its attention is not computed.
  //  - A bypassed FFN contributes nothing: the layer's output is LayerNorm(x + 0), exactly as
  //    if ffn_down's weights and bias were zero; the FFN is not computed.
  // kInvalidArgument for a layer or head outside the model.
  Status set_head_masked(int layer, int head, bool masked);
  Status set_ffn_bypassed(int layer, bool bypassed);
  bool head_masked(int layer, int head) const;
  bool ffn_bypassed(int layer) const;
  // Unmasks every head and restores every FFN.
  void clear_ablation();

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore
