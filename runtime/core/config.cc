#include "encore/config.h"

#include <algorithm>

namespace encore {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kGeluErf: return "gelu";
    case Activation::kGeluTanh: return "gelu_tanh";
    case Activation::kRelu: return "relu";
  }
  return "unknown";
}

const char* family_name(Family f) {
  switch (f) {
    case Family::kBert: return "bert";
    case Family::kDistilBert: return "distilbert";
    case Family::kRoberta: return "roberta";
    case Family::kElectra: return "electra";
    case Family::kModernBert: return "modernbert";
  }
  return "unknown";
}

const char* head_kind_name(HeadKind h) {
  switch (h) {
    case HeadKind::kPooled: return "pooled";
    case HeadKind::kTokenClassification: return "token-classification";
    case HeadKind::kQuestionAnswering: return "question-answering";
    case HeadKind::kMaskedLm: return "fill-mask";
  }
  return "unknown";
}

const char* problem_type_name(ProblemType p) {
  switch (p) {
    case ProblemType::kSingleLabel: return "single_label_classification";
    case ProblemType::kMultiLabel: return "multi_label_classification";
    case ProblemType::kRegression: return "regression";
  }
  return "unknown";
}

int32_t EncoderConfig::max_intermediate_size() const {
  int32_t m = 0;
  for (int l = 0; l < layer_count; ++l) m = std::max(m, intermediate_in_layer(l));
  return m;
}

int64_t EncoderConfig::total_heads() const {
  int64_t n = 0;
  for (int l = 0; l < layer_count; ++l) n += heads_in_layer(l);
  return n;
}

int32_t SentenceEmbeddingConfig::pooled_width(int32_t hidden_size) const {
  int32_t modes = 0;
  for (uint32_t bit = 1; bit <= kSentencePoolingAll; bit <<= 1) modes += (pooling & bit) ? 1 : 0;
  return modes * hidden_size;
}

int32_t SentenceEmbeddingConfig::dimension(int32_t hidden_size) const {
  if (!enabled()) return 0;
  return dense.empty() ? pooled_width(hidden_size) : dense.back().out_features;
}

const std::string* SentenceEmbeddingConfig::prompt(const std::string& name) const {
  for (const auto& [key, text] : prompts) {
    if (key == name) return &text;
  }
  return nullptr;
}

}  // namespace encore
