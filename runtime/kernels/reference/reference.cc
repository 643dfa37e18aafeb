#include "kernels/reference/reference.h"

#include <algorithm>
#include <cmath>

namespace encore::reference {

double activation(Activation act, double x) {
  switch (act) {
    case Activation::kGeluErf:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case Activation::kRelu:
      return std::max(x, 0.0);
  }
  return 0.0;
}

int8_t quantize(double x, double scale, int32_t zero_point) {
  if (std::isnan(x)) return static_cast<int8_t>(zero_point);
  double q = std::nearbyint(x / scale) + zero_point;
  return static_cast<int8_t>(std::clamp(q, -128.0, 127.0));
}

void layer_norm(size_t rows, size_t cols, const float* x, const float* gamma, const float* beta, double eps,
                std::vector<double>* y) {
  y->assign(rows * cols, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    double mean = 0.0;
    for (size_t c = 0; c < cols; ++c) mean += x[r * cols + c];
    mean /= double(cols);
    double var = 0.0;
    for (size_t c = 0; c < cols; ++c) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
    var /= double(cols);
    for (size_t c = 0; c < cols; ++c)
      (*y)[r * cols + c] = (x[r * cols + c] - mean) / std::sqrt(var + eps) * gamma[c] + beta[c];
  }
}

void attention(size_t seq_len, size_t head_dim, const double* q, const double* k, const double* v,
               size_t row_stride, const float* key_bias, double scale, std::vector<double>* out,
               std::vector<double>* probs) {
  out->assign(seq_len * head_dim, 0.0);
  if (probs) probs->assign(seq_len * seq_len, 0.0);
  bool any_real = false;
  for (size_t j = 0; j < seq_len; ++j) any_real |= !key_bias || key_bias[j] > -1e30f;
  std::vector<double> p(seq_len);
  for (size_t i = 0; i < seq_len; ++i) {
    // Masked keys get probability 0, unless every key is masked: then PyTorch's
    // lowest-float bias makes all scores equal and the row averages V uniformly.
    double max_s = -INFINITY;
    for (size_t j = 0; j < seq_len; ++j) {
      const bool masked = key_bias && key_bias[j] < -1e30f;
      if (masked && any_real) {
        p[j] = -INFINITY;
        continue;
      }
      double s = 0.0;
      for (size_t c = 0; c < head_dim; ++c) s += q[i * row_stride + c] * k[j * row_stride + c];
      p[j] = masked ? 0.0 : s * scale;
      max_s = std::max(max_s, p[j]);
    }
    double total = 0.0;
    for (size_t j = 0; j < seq_len; ++j) total += (p[j] = std::exp(p[j] - max_s));
    if (probs) {
      for (size_t j = 0; j < seq_len; ++j) (*probs)[i * seq_len + j] = p[j] / total;
    }
    for (size_t j = 0; j < seq_len; ++j)
      for (size_t c = 0; c < head_dim; ++c) (*out)[i * head_dim + c] += p[j] / total * v[j * row_stride + c];
  }
}

}  // namespace encore::reference
