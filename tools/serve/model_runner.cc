#include "serve/model_runner.h"

#include <algorithm>

#include "core/str.h"

namespace encore::serve {

Result<std::unique_ptr<ModelRunner>> ModelRunner::create(std::shared_ptr<const Model> model, const SessionOptions& options,
                                                         const TextOptions& text_options, Pooling pooling) {
  std::unique_ptr<ModelRunner> r(new ModelRunner());
  r->model_ = model;
  r->pooling_ = pooling;
  ENCORE_ASSIGN_OR_RETURN(r->text_, TextEncoder::create(model, options, text_options));
  ENCORE_ASSIGN_OR_RETURN(r->session_, Session::create(model, options));
  return r;
}

Status ModelRunner::run(Task task, const std::vector<const Input*>& inputs, std::vector<Output>* outputs) {
  outputs->resize(inputs.size());
  if (task == Task::kEmbedIds) return embed_ids(inputs, outputs);
  texts_.clear();
  pairs_.clear();
  for (const Input* in : inputs) {
    texts_.push_back(in->text);
    if (task == Task::kClassifyPairs) pairs_.push_back(in->pair);
  }
  if (task == Task::kEmbedText) {
    ENCORE_ASSIGN_OR_RETURN(auto embeddings, text_->embed(texts_, pooling_, false));
    for (size_t i = 0; i < inputs.size(); ++i) (*outputs)[i].values = std::move(embeddings[i].values);
    return Status::Ok();
  }
  ENCORE_ASSIGN_OR_RETURN(auto classes, task == Task::kClassifyPairs ? text_->classify(texts_, pairs_) : text_->classify(texts_));
  for (size_t i = 0; i < inputs.size(); ++i) {
    (*outputs)[i].values = std::move(classes[i].probabilities);
    (*outputs)[i].logits = std::move(classes[i].logits);
  }
  return Status::Ok();
}

// Token ids as given, padded to the longest under the attention mask, pooled as
// TextEncoder::embed pools a text's tokens (kModel: the model's sentence embedding; kCls: the
// first token's hidden state; kMean: the mean over the sequence's tokens).
Status ModelRunner::embed_ids(const std::vector<const Input*>& inputs, std::vector<Output>* outputs) {
  size_t longest = 0;
  for (const Input* in : inputs) longest = std::max(longest, in->ids.size());
  const size_t rows = inputs.size();
  ids_.assign(rows * longest, model_->config().pad_token_id);
  mask_.assign(rows * longest, 0);
  for (size_t b = 0; b < rows; ++b) {
    std::copy(inputs[b]->ids.begin(), inputs[b]->ids.end(), ids_.begin() + static_cast<std::ptrdiff_t>(b * longest));
    std::fill_n(mask_.begin() + static_cast<std::ptrdiff_t>(b * longest), inputs[b]->ids.size(), 1);
  }
  Inputs in;
  in.batch = static_cast<int64_t>(rows);
  in.seq_len = static_cast<int64_t>(longest);
  in.input_ids = ids_.data();
  in.attention_mask = mask_.data();
  Outputs out;
  ENCORE_RETURN_IF_ERROR(session_->run(in, &out));
  const size_t H = static_cast<size_t>(out.hidden);
  for (size_t b = 0; b < rows; ++b) {
    std::vector<float>& v = (*outputs)[b].values;
    const float* hidden = out.last_hidden_state + b * longest * H;
    if (pooling_ == Pooling::kModel) {
      const size_t D = static_cast<size_t>(out.sentence_dim);
      v.assign(out.sentence_embedding + b * D, out.sentence_embedding + (b + 1) * D);
    } else if (pooling_ == Pooling::kCls) {
      v.assign(hidden, hidden + H);
    } else {
      const size_t length = inputs[b]->ids.size();
      std::vector<double> sum(H, 0.0);
      for (size_t s = 0; s < length; ++s)
        for (size_t h = 0; h < H; ++h) sum[h] += hidden[s * H + h];
      v.resize(H);
      for (size_t h = 0; h < H; ++h) v[h] = static_cast<float>(sum[h] / double(length));
    }
  }
  return Status::Ok();
}

}  // namespace encore::serve
