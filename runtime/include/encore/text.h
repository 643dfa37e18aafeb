// Text in, answers out: the model's own tokenizer in front of a session.
//
//   auto model = encore::Model::load("model.encore");
//   auto text = encore::TextEncoder::create(*model);
//   auto answers = (*text)->classify({"Schmetterling", "butterfly"});
//
// A batch of texts (or text pairs) goes through the model's own tokenizer (TextTokenizer::
// for_model: its tokenizer.json, or WordPiece from vocab.txt) with its special tokens
// ([CLS] a [SEP] b [SEP], <s> a </s></s> b </s>, ...), truncated to the model's maximum length
// (longest first for pairs), padded to its longest member under an attention mask, and run in
// one call; padding does not change any text's result.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "encore/model.h"
#include "encore/session.h"
#include "encore/status.h"
#include "encore/text_tokenizer.h"

namespace encore {

// kModel: the model's own sentence embedding (a sentence-transformers model's pooling, Dense and
// Normalize modules, Outputs::sentence_embedding); an error for a model without them.
enum class Pooling { kCls, kMean, kModel };

struct TextClassification {
  int32_t label_index = 0;
  std::string label;
  // In the model's label order: the softmax of the logits (ProblemType::kSingleLabel), a sigmoid
  // per label (kMultiLabel), or the logits themselves (kRegression, a one-score head), as Hugging
  // Face's text-classification pipeline applies softmax / sigmoid / none.
  std::vector<float> probabilities;
  std::vector<float> logits;  // the raw logits, in the model's label order
  ProblemType problem_type = ProblemType::kSingleLabel;
  std::vector<std::string> tokens;   // as tokenized, with the special tokens
  std::vector<TokenOffset> offsets;  // per token: byte span in its text (special tokens: 0, 0)
  std::vector<uint8_t> sequence_ids; // per token: 0 first text, 1 second of a pair, 255 special
  bool truncated = false;
};

struct TextEmbedding {
  std::vector<float> values;  // [hidden]
  std::vector<std::string> tokens;
  std::vector<TokenOffset> offsets;
  std::vector<uint8_t> sequence_ids;
  bool truncated = false;
};

struct TextOptions {
  // Tokens per text, special tokens included; 0 = the model's limit (its positions, and
  // tokenizer_config.json's model_max_length when smaller).
  size_t max_length = 0;
  TruncationStrategy truncation = TruncationStrategy::kLongestFirst;
  // Special tokens written inside a text ("[SEP]", "<mask>") are plain text instead of those
  // tokens (Hugging Face recognises them by default, and so does encore).
  bool special_tokens_as_text = false;
};

class TextEncoder {
 public:
  // Needs a model with a tokenizer (encore-convert stores the model directory's tokenizer).
  static Result<std::unique_ptr<TextEncoder>> create(std::shared_ptr<const Model> model,
                                                     const SessionOptions& options = {},
                                                     const TextOptions& text_options = {});
  ~TextEncoder();
  TextEncoder(const TextEncoder&) = delete;
  TextEncoder& operator=(const TextEncoder&) = delete;

  // Needs a classifier head. With `pairs` (as many as texts), each text is classified with its
  // second text (cross-encoders, NLI).
  Result<std::vector<TextClassification>> classify(const std::vector<std::string>& texts);
  Result<std::vector<TextClassification>> classify(const std::vector<std::string>& texts,
                                                   const std::vector<std::string>& pairs);
  // kCls: the final hidden state of [CLS]; kMean: the mean over the text's tokens (with
  // [CLS] and [SEP], as sentence-transformers' mean pooling); kModel: the model's
  // sentence-transformers embedding, each text stripped of surrounding whitespace first (as
  // sentence-transformers' Transformer.tokenize does; a prompt is part of the text: prepend
  // it). normalize: unit L2 length.
  Result<std::vector<TextEmbedding>> embed(const std::vector<std::string>& texts, Pooling pooling, bool normalize);

  const TextTokenizer& tokenizer() const;
  const Model& model() const;

 private:
  struct Impl;
  explicit TextEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore
