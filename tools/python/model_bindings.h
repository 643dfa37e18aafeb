// The Python Model (encore.Model): a loaded .encore file, shared by every session made from it.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "bindings.h"
#include "encore/model.h"
#include "encore/session.h"
#include "encore/text.h"
#include "text/text_batch.h"

namespace encore::python {

// Parses truncation="longest_first" | "only_first" | "only_second".
TruncationStrategy truncation_strategy(const std::string& name);

class PyModel {
 public:
  PyModel(const std::string& path, std::shared_ptr<const Model> model) : path_(path), model_(std::move(model)) {}

  const std::string& path() const { return path_; }
  const std::shared_ptr<const Model>& model() const { return model_; }
  const EncoderConfig& config() const { return model_->config(); }

  // The padded batch of `texts` (and `pairs`) as the model's sessions see it, with each token's
  // string, character offsets and segment. Thread-safe (one batcher per model, locked).
  py::dict tokenize(const py::handle& texts, const py::object& pairs, size_t max_length,
                    const std::string& truncation, bool special_tokens_as_text);
  // The longest text the model takes, in tokens (its positions, tokenizer_config.json's
  // model_max_length and sentence-transformers' max_seq_length, whichever is smallest).
  int64_t max_length();

 private:
  Status ensure_batch();  // creates batch_ on first use; callers hold mu_, not the GIL

  std::string path_;
  std::shared_ptr<const Model> model_;
  std::mutex mu_;
  std::unique_ptr<internal::TextBatch> batch_;
};

}  // namespace encore::python
