#include "text/text_batch.h"

#include <algorithm>
#include <utility>

#include "core/str.h"

namespace encore::internal {

Result<std::unique_ptr<TextBatch>> TextBatch::create(const Model& model) {
  std::unique_ptr<TextBatch> batch(new TextBatch());
  ENCORE_ASSIGN_OR_RETURN(batch->tokenizer_, Tokenizer::create(model.tokenizer()));
  const auto& vocab = model.tokenizer().vocab;
  if (static_cast<int64_t>(vocab.size()) > model.config().vocab_size) {
    return invalid_model(cat("the tokenizer vocabulary has ", vocab.size(), " tokens, the embeddings only ",
                             model.config().vocab_size));
  }
  batch->max_length_ = static_cast<size_t>(model.config().max_positions);
  // A sentence-transformers model's max_seq_length: its tokenizer truncates there.
  const int32_t st_limit = model.config().sentence.max_seq_length;
  if (st_limit > 0) batch->max_length_ = std::min(batch->max_length_, static_cast<size_t>(st_limit));
  return batch;
}

Status TextBatch::encode(const std::vector<std::string_view>& texts) {
  encodings_.clear();
  longest_ = 0;
  if (texts.empty()) return invalid_argument("no texts given");
  size_t longest = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto e = tokenizer_->encode(texts[i], max_length_);
    if (!e.ok()) {
      encodings_.clear();
      return e.status().with_context(cat("text ", i));
    }
    longest = std::max(longest, e->ids.size());
    encodings_.push_back(std::move(e).value());
  }
  const int32_t pad = tokenizer_->pad_id() >= 0 ? tokenizer_->pad_id() : 0;
  const size_t n = texts.size() * longest;
  ids_.assign(n, pad);
  mask_.assign(n, 0);
  types_.assign(n, 0);
  for (size_t b = 0; b < encodings_.size(); ++b) {
    const Encoding& e = encodings_[b];
    const auto row = static_cast<std::ptrdiff_t>(b * longest);
    std::copy(e.ids.begin(), e.ids.end(), ids_.begin() + row);
    std::copy(e.token_type_ids.begin(), e.token_type_ids.end(), types_.begin() + row);
    std::fill_n(mask_.begin() + row, e.ids.size(), 1);
  }
  longest_ = static_cast<int64_t>(longest);
  return Status::Ok();
}

Inputs TextBatch::inputs() const {
  return Inputs{static_cast<int64_t>(encodings_.size()), longest_, ids_.data(), mask_.data(), types_.data()};
}

}  // namespace encore::internal
