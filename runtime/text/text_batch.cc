#include "text/text_batch.h"

#include <algorithm>
#include <utility>

#include "core/str.h"

namespace encore::internal {

Result<std::unique_ptr<TextBatch>> TextBatch::create(const Model& model) {
  std::unique_ptr<TextBatch> batch(new TextBatch());
  ENCORE_ASSIGN_OR_RETURN(batch->tokenizer_, TextTokenizer::for_model(model));
  const EncoderConfig& c = model.config();
  size_t limit = static_cast<size_t>(std::max(c.max_sequence_length(), 0));
  const int64_t tokenizer_limit = model.tokenizer().model_max_length;
  if (tokenizer_limit > 0 && static_cast<uint64_t>(tokenizer_limit) < limit) limit = static_cast<size_t>(tokenizer_limit);
  // A sentence-transformers model's max_seq_length: its tokenizer truncates there.
  const int32_t st_limit = c.sentence.max_seq_length;
  if (st_limit > 0 && static_cast<size_t>(st_limit) < limit) limit = static_cast<size_t>(st_limit);
  const size_t specials = batch->tokenizer_->num_special_tokens(true);
  if (limit <= specials) {
    return invalid_model(cat("the model takes at most ", limit, " tokens, no room for a text beside the tokenizer's ",
                             specials, " special tokens"));
  }
  batch->model_limit_ = batch->max_length_ = limit;
  const TextPadding& padding = batch->tokenizer_->padding();
  if (padding.present) {
    batch->pad_id_ = padding.pad_id;
  } else if (model.tokenizer().json.empty()) {
    batch->pad_id_ = std::max(batch->tokenizer_->token_to_id("[PAD]"), 0);
  } else {
    batch->pad_id_ = c.pad_token_id;
  }
  if (batch->pad_id_ < 0 || batch->pad_id_ >= c.vocab_size) {
    return invalid_model(cat("the tokenizer's pad id ", batch->pad_id_, " is outside the vocabulary (", c.vocab_size, ")"));
  }
  batch->token_types_ = c.type_vocab_size > 0;
  batch->encode_options_.max_length = limit;
  batch->encode_options_.want_tokens = true;
  return batch;
}

Status TextBatch::set_options(const TextBatchOptions& options) {
  const size_t length = options.max_length == 0 ? model_limit_ : options.max_length;
  if (length > model_limit_) {
    return invalid_argument(cat("max length ", length, " is over the model's limit of ", model_limit_, " tokens"));
  }
  max_length_ = length;
  encode_options_.max_length = length;
  encode_options_.strategy = options.truncation;
  encode_options_.special_tokens_as_text = options.special_tokens_as_text;
  return Status::Ok();
}

Status TextBatch::encode(const std::vector<std::string_view>& texts, const std::vector<std::string_view>* pairs) {
  encodings_.clear();
  longest_ = 0;
  if (texts.empty()) return invalid_argument("no texts given");
  if (pairs && pairs->size() != texts.size()) {
    return invalid_argument(cat(texts.size(), " texts but ", pairs->size(), " second texts of pairs"));
  }
  size_t longest = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto e = pairs ? tokenizer_->encode_pair(texts[i], (*pairs)[i], encode_options_)
                   : tokenizer_->encode(texts[i], encode_options_);
    if (!e.ok()) {
      encodings_.clear();
      return e.status().with_context(cat("text ", i));
    }
    longest = std::max(longest, e->ids.size());
    encodings_.push_back(std::move(e).value());
  }
  const size_t n = texts.size() * longest;
  ids_.assign(n, pad_id_);
  mask_.assign(n, 0);
  types_.assign(n, 0);
  for (size_t b = 0; b < encodings_.size(); ++b) {
    const TextEncoding& e = encodings_[b];
    const auto row = static_cast<std::ptrdiff_t>(b * longest);
    std::copy(e.ids.begin(), e.ids.end(), ids_.begin() + row);
    if (token_types_) std::copy(e.type_ids.begin(), e.type_ids.end(), types_.begin() + row);
    std::fill_n(mask_.begin() + row, e.ids.size(), 1);
  }
  longest_ = static_cast<int64_t>(longest);
  return Status::Ok();
}

Inputs TextBatch::inputs() const {
  return Inputs{static_cast<int64_t>(encodings_.size()), longest_, ids_.data(), mask_.data(),
                token_types_ ? types_.data() : nullptr};
}

}  // namespace encore::internal
