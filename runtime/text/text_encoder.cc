#include "encore/text.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

#include "text/text_batch.h"
#include "text/text_encoder_impl.h"

namespace encore {

namespace {

// Softmax over the labels, a sigmoid per label, or the raw scores (encore/text.h).
void read_logits(ProblemType problem, const std::vector<float>& logits, std::vector<float>* out) {
  out->resize(logits.size());
  if (problem == ProblemType::kRegression) {
    *out = logits;
  } else if (problem == ProblemType::kMultiLabel) {
    for (size_t i = 0; i < logits.size(); ++i) (*out)[i] = static_cast<float>(1.0 / (1.0 + std::exp(-double(logits[i]))));
  } else {
    const float top = *std::max_element(logits.begin(), logits.end());
    double total = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
      (*out)[i] = std::exp(logits[i] - top);
      total += (*out)[i];
    }
    for (float& p : *out) p = static_cast<float>(p / total);
  }
}

}  // namespace

TextEncoder::TextEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TextEncoder::~TextEncoder() = default;

Result<std::unique_ptr<TextEncoder>> TextEncoder::create(std::shared_ptr<const Model> model,
                                                         const SessionOptions& options,
                                                         const TextOptions& text_options) {
  if (!model) return invalid_argument("TextEncoder::create: model is null");
  auto impl = std::make_unique<Impl>();
  impl->model = model;
  impl->text_options = text_options;
  ENCORE_ASSIGN_OR_RETURN(impl->batch, internal::TextBatch::create(*model));
  ENCORE_RETURN_IF_ERROR(impl->batch->set_options(
      {text_options.max_length, text_options.truncation, text_options.special_tokens_as_text}));
  ENCORE_ASSIGN_OR_RETURN(impl->session, Session::create(model, options));
  return std::unique_ptr<TextEncoder>(new TextEncoder(std::move(impl)));
}

Result<std::vector<TextClassification>> TextEncoder::classify(const std::vector<std::string>& texts) {
  return impl_->classify(texts, nullptr);
}

Result<std::vector<TextClassification>> TextEncoder::classify(const std::vector<std::string>& texts,
                                                              const std::vector<std::string>& pairs) {
  return impl_->classify(texts, &pairs);
}

Result<std::vector<TextClassification>> TextEncoder::Impl::classify(const std::vector<std::string>& texts,
                                                                    const std::vector<std::string>* pairs) {
  const auto& c = model->config();
  if (!c.has_classifier()) return invalid_argument("the model has no classifier head; use embed()");
  Outputs out;
  ENCORE_RETURN_IF_ERROR(run(texts, pairs, &out));
  std::vector<TextClassification> results(texts.size());
  for (size_t b = 0; b < texts.size(); ++b) {
    const float* logits = out.logits + static_cast<int64_t>(b) * out.labels;
    TextClassification& r = results[b];
    r.logits.assign(logits, logits + out.labels);
    r.problem_type = c.problem_type;
    read_logits(c.problem_type, r.logits, &r.probabilities);
    r.label_index = static_cast<int32_t>(std::max_element(logits, logits + out.labels) - logits);
    r.label = c.labels[static_cast<size_t>(r.label_index)];
    take_tokens(b, &r);
  }
  return results;
}

namespace {

// Python's str.isspace code points, which str.strip() removes from both ends.
bool python_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

// The code point at s[i] (UTF-8) and its length; invalid bytes are not spaces (length 1).
uint32_t code_point(const std::string& s, size_t i, size_t* length) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    *length = 1;
    return 0xfffd;
  }
  uint32_t cp = n == 1 ? c : c & (0xff >> (n + 1));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  *length = n;
  return cp;
}

// str.strip() of sentence-transformers' Transformer.tokenize, on UTF-8 text.
std::string python_strip(const std::string& s) {
  size_t begin = 0, end = 0, i = 0;
  bool seen = false;
  while (i < s.size()) {
    size_t n = 1;
    const uint32_t cp = code_point(s, i, &n);
    if (!python_space(cp)) {
      if (!seen) begin = i;
      seen = true;
      end = i + n;
    }
    i += n;
  }
  return seen ? s.substr(begin, end - begin) : std::string();
}

}  // namespace

Result<std::vector<TextEmbedding>> TextEncoder::embed(const std::vector<std::string>& texts, Pooling pooling,
                                                      bool normalize) {
  const EncoderConfig& c = impl_->model->config();
  if (pooling == Pooling::kModel && !c.has_sentence_embedding()) {
    return invalid_argument("the model has no sentence-transformers modules (pooling kModel); use kCls or kMean");
  }
  Outputs out;
  if (pooling == Pooling::kModel) {
    std::vector<std::string> stripped;
    stripped.reserve(texts.size());
    for (const auto& t : texts) stripped.push_back(python_strip(t));
    ENCORE_RETURN_IF_ERROR(impl_->run(stripped, nullptr, &out));
  } else {
    ENCORE_RETURN_IF_ERROR(impl_->run(texts, nullptr, &out));
  }
  const size_t H = static_cast<size_t>(out.hidden), S = static_cast<size_t>(out.seq_len);
  std::vector<TextEmbedding> results(texts.size());
  for (size_t b = 0; b < texts.size(); ++b) {
    TextEmbedding& r = results[b];
    r.values.assign(H, 0.0f);
    const float* rows = out.last_hidden_state + b * S * H;
    const size_t length = impl_->batch->encodings()[b].ids.size();
    if (pooling == Pooling::kModel) {
      const size_t D = static_cast<size_t>(out.sentence_dim);
      r.values.assign(out.sentence_embedding + b * D, out.sentence_embedding + (b + 1) * D);
    } else if (pooling == Pooling::kCls) {
      std::copy(rows, rows + H, r.values.begin());
    } else {
      std::vector<double> sum(H, 0.0);
      for (size_t s = 0; s < length; ++s)
        for (size_t h = 0; h < H; ++h) sum[h] += rows[s * H + h];
      for (size_t h = 0; h < H; ++h) r.values[h] = static_cast<float>(sum[h] / double(length));
    }
    if (normalize) {
      double norm = 0.0;
      for (float v : r.values) norm += double(v) * v;
      norm = std::sqrt(norm);
      if (norm > 0.0)
        for (float& v : r.values) v = static_cast<float>(v / norm);
    }
    impl_->take_tokens(b, &r);
  }
  return results;
}

const TextTokenizer& TextEncoder::tokenizer() const { return impl_->batch->tokenizer(); }
const Model& TextEncoder::model() const { return *impl_->model; }
const Session& TextEncoder::session() const { return *impl_->session; }

}  // namespace encore
