// TextEncoder's state, shared by its files: text_encoder.cc (classify, embed) and
// text_heads.cc (the per-token heads' text mode).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "encore/text.h"
#include "text/text_batch.h"

namespace encore {

struct TextEncoder::Impl {
  std::shared_ptr<const Model> model;
  std::unique_ptr<internal::TextBatch> batch;
  std::unique_ptr<Session> session;
  TextOptions text_options;
  std::vector<std::string_view> views, pair_views;  // reused between calls

  // Tokenizes and runs `texts` (with `pairs` when given) as one padded batch.
  Status run(const std::vector<std::string>& texts, const std::vector<std::string>* pairs, Outputs* out) {
    ENCORE_RETURN_IF_ERROR(encode(texts, pairs));
    return session->run(batch->inputs(), out);
  }

  // Only the tokenization of run(): batch->encodings() and batch->inputs() describe `texts`.
  Status encode(const std::vector<std::string>& texts, const std::vector<std::string>* pairs) {
    views.assign(texts.begin(), texts.end());
    if (pairs) pair_views.assign(pairs->begin(), pairs->end());
    return batch->encode(views, pairs ? &pair_views : nullptr);
  }

  // Moves text b's tokens, offsets and segment ids out of the batch into `r`.
  template <typename R>
  void take_tokens(size_t b, R* r) {
    TextEncoding& e = batch->encodings()[b];
    r->ids = e.ids;  // copied: callers may still read the batch's ids
    r->tokens = std::move(e.tokens);
    r->offsets = std::move(e.offsets);
    r->sequence_ids = std::move(e.sequence_ids);
    r->truncated = e.truncated;
  }

  Result<std::vector<TextClassification>> classify(const std::vector<std::string>& texts,
                                                   const std::vector<std::string>* pairs);
};

}  // namespace encore
