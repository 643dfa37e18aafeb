// Texts (or text pairs) to one padded batch of token ids: the step shared by TextEncoder and
// the C API's encore_session_run_text.
//
// Each text goes through the model's own tokenizer (TextTokenizer::for_model) with its special
// tokens, truncated to max_length() tokens; the batch is padded to its longest member under
// attention mask 0, so padding does not change any text's result. The pad id is tokenizer.json's
// padding id, else the WordPiece [PAD] (0 without one) for a vocab.txt model, else the model's
// pad_token_id. A model without token types (DistilBERT) gets no token_type_ids.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "encore/model.h"
#include "encore/session.h"
#include "encore/status.h"
#include "encore/text_tokenizer.h"

namespace encore::internal {

struct TextBatchOptions {
  // Tokens per text, special tokens included; 0 = the model's limit (its positions, and
  // tokenizer_config.json's model_max_length when smaller). More than the limit is an error.
  size_t max_length = 0;
  TruncationStrategy truncation = TruncationStrategy::kLongestFirst;
  // Special tokens written inside a text are plain text (TextEncodeOptions).
  bool special_tokens_as_text = false;
};

class TextBatch {
 public:
  // Fails for a model without a tokenizer, or one whose ids exceed its embeddings.
  static Result<std::unique_ptr<TextBatch>> create(const Model& model);

  // kInvalidArgument when options.max_length exceeds the model's limit.
  Status set_options(const TextBatchOptions& options);
  // The longest a text may be, in tokens.
  size_t max_length() const { return max_length_; }
  // The model's own limit (set_options accepts up to this).
  size_t model_max_length() const { return model_limit_; }

  // Replaces the batch with `texts` (at least one), or pairs (texts[i], pairs[i]) when `pairs`
  // is given (the same count). On error the batch is empty and the error names the text.
  Status encode(const std::vector<std::string_view>& texts, const std::vector<std::string_view>* pairs = nullptr);

  // Views of the padded [texts, longest] arrays, valid until the next encode().
  Inputs inputs() const;
  // One per text, in order, with token strings and offsets; callers may move them out.
  std::vector<TextEncoding>& encodings() { return encodings_; }
  const TextTokenizer& tokenizer() const { return *tokenizer_; }
  int32_t pad_id() const { return pad_id_; }
  // Whether inputs() carries token_type_ids (not for a model without token types).
  bool has_token_types() const { return token_types_; }

 private:
  TextBatch() = default;

  std::unique_ptr<TextTokenizer> tokenizer_;
  size_t model_limit_ = 0;
  size_t max_length_ = 0;
  TextEncodeOptions encode_options_;
  int32_t pad_id_ = 0;
  bool token_types_ = true;
  int64_t longest_ = 0;
  std::vector<TextEncoding> encodings_;
  std::vector<int32_t> ids_, mask_, types_;  // reused between batches
};

}  // namespace encore::internal
