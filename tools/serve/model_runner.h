// The BatchRunner that runs a model: one per worker thread, with its own TextEncoder (texts and
// pairs through the model's tokenizer) and its own Session (token-id inputs), both created once
// at start; a steady state creates no operator.
#pragma once

#include <memory>

#include "encore/model.h"
#include "encore/session.h"
#include "encore/text.h"
#include "serve/batcher.h"

namespace encore::serve {

class ModelRunner : public BatchRunner {
 public:
  // `text_options.max_length`: where inputs sent with "truncate" are cut (the server's
  // --max-input-tokens); inputs within it run whole.
  static Result<std::unique_ptr<ModelRunner>> create(std::shared_ptr<const Model> model, const SessionOptions& options,
                                                     const TextOptions& text_options, Pooling pooling);
  // Embeddings: the pooled vector, not normalized (the route normalizes after any Matryoshka
  // cut). Classification: probabilities and logits as TextEncoder::classify gives them.
  Status run(Task task, const std::vector<const Input*>& inputs, std::vector<Output>* outputs) override;

 private:
  ModelRunner() = default;
  Status embed_ids(const std::vector<const Input*>& inputs, std::vector<Output>* outputs);

  std::shared_ptr<const Model> model_;
  std::unique_ptr<TextEncoder> text_;
  std::unique_ptr<Session> session_;
  Pooling pooling_ = Pooling::kCls;
  std::vector<int32_t> ids_, mask_;  // [batch, longest], reused across batches
  std::vector<std::string> texts_, pairs_;
};

}  // namespace encore::serve
