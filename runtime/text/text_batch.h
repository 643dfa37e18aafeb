// Texts to one padded batch of token ids: the step shared by TextEncoder and the C API's
// encore_session_run_text.
//
// Each text becomes [CLS] text [SEP] (the model's tokenizer, truncated to its maximum
// length); the batch is padded to its longest member with [PAD] (id 0 when the vocabulary has
// none) under attention mask 0, so padding does not change any text's result.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "encore/model.h"
#include "encore/session.h"
#include "encore/status.h"
#include "encore/tokenizer.h"

namespace encore::internal {

class TextBatch {
 public:
  // Fails for a model without a tokenizer vocabulary, or with one larger than its embeddings.
  static Result<std::unique_ptr<TextBatch>> create(const Model& model);

  // Replaces the batch with `texts` (at least one). On error the batch is empty.
  Status encode(const std::vector<std::string_view>& texts);

  // Views of the padded [texts, longest] arrays, valid until the next encode().
  Inputs inputs() const;
  // One per text, in order; callers may move the tokens out.
  std::vector<Encoding>& encodings() { return encodings_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  TextBatch() = default;

  std::unique_ptr<Tokenizer> tokenizer_;
  size_t max_length_ = 0;
  int64_t longest_ = 0;
  std::vector<Encoding> encodings_;
  std::vector<int32_t> ids_, mask_, types_;  // reused between batches
};

}  // namespace encore::internal
