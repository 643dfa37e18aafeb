// Text in, answers out: the model's own tokenizer in front of a session.
//
//   auto model = encore::Model::load("model.encore");
//   auto text = encore::TextEncoder::create(*model);
//   auto answers = (*text)->classify({"Schmetterling", "butterfly"});
//
// A batch of texts is tokenized ([CLS] text [SEP], truncated to the model's maximum length),
// padded to its longest member with [PAD] and an attention mask, and run in one call; padding
// does not change any text's result.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "encore/model.h"
#include "encore/session.h"
#include "encore/status.h"
#include "encore/tokenizer.h"

namespace encore {

// kModel: the model's own sentence embedding (a sentence-transformers model's pooling, Dense and
// Normalize modules, Outputs::sentence_embedding); an error for a model without them.
enum class Pooling { kCls, kMean, kModel };

struct TextClassification {
  int32_t label_index = 0;
  std::string label;
  std::vector<float> probabilities;  // softmax of the logits, in the model's label order
  std::vector<std::string> tokens;   // as tokenized, with [CLS] / [SEP]
  bool truncated = false;
};

struct TextEmbedding {
  std::vector<float> values;  // [hidden]
  std::vector<std::string> tokens;
  bool truncated = false;
};

class TextEncoder {
 public:
  // Needs a model with a tokenizer vocabulary (encore-convert stores vocab.txt).
  static Result<std::unique_ptr<TextEncoder>> create(std::shared_ptr<const Model> model,
                                                     const SessionOptions& options = {});
  ~TextEncoder();
  TextEncoder(const TextEncoder&) = delete;
  TextEncoder& operator=(const TextEncoder&) = delete;

  // Needs a classifier head.
  Result<std::vector<TextClassification>> classify(const std::vector<std::string>& texts);
  // kCls: the final hidden state of [CLS]; kMean: the mean over the text's tokens (with
  // [CLS] and [SEP], as sentence-transformers' mean pooling); kModel: the model's
  // sentence-transformers embedding, each text stripped of surrounding whitespace first (as
  // sentence-transformers' Transformer.tokenize does; a prompt is part of the text: prepend
  // it). normalize: unit L2 length.
  Result<std::vector<TextEmbedding>> embed(const std::vector<std::string>& texts, Pooling pooling, bool normalize);

  const Tokenizer& tokenizer() const;
  const Model& model() const;

 private:
  struct Impl;
  explicit TextEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore
