#include "support/reference_encoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "kernels/reference/reference.h"
#include "model/format.h"

namespace encore::testing {
namespace {

const convert::FloatTensor& tensor(const convert::FloatCheckpoint& ck, const std::string& name) {
  return ck.tensors.at(name);
}

// y[r, o] = b[o] + sum_i x[r, i] W[o, i]
std::vector<double> linear(const std::vector<double>& x, size_t rows, const convert::FloatTensor& w,
                           const convert::FloatTensor& b) {
  const size_t out = static_cast<size_t>(w.shape[0]), in = static_cast<size_t>(w.shape[1]);
  std::vector<double> y(rows * out);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t o = 0; o < out; ++o) {
      double acc = b.values[o];
      for (size_t i = 0; i < in; ++i) acc += x[r * in + i] * double(w.values[o * in + i]);
      y[r * out + o] = acc;
    }
  }
  return y;
}

void layer_norm(std::vector<double>* x, size_t rows, size_t cols, const convert::FloatTensor& g,
                const convert::FloatTensor& b, double eps) {
  for (size_t r = 0; r < rows; ++r) {
    double* v = x->data() + r * cols;
    double mean = 0.0, var = 0.0;
    for (size_t c = 0; c < cols; ++c) mean += v[c];
    mean /= double(cols);
    for (size_t c = 0; c < cols; ++c) var += (v[c] - mean) * (v[c] - mean);
    var /= double(cols);
    for (size_t c = 0; c < cols; ++c) v[c] = (v[c] - mean) / std::sqrt(var + eps) * g.values[c] + b.values[c];
  }
}

}  // namespace

ReferenceOutputs reference_forward(const convert::FloatCheckpoint& ck, int64_t batch, int64_t seq,
                                   const int32_t* ids, const int32_t* mask, const int32_t* types) {
  const EncoderConfig& c = ck.config;
  const size_t B = static_cast<size_t>(batch), S = static_cast<size_t>(seq), H = static_cast<size_t>(c.hidden_size);
  const size_t d = static_cast<size_t>(c.head_dim()), M = B * S;
  ReferenceOutputs out;
  std::vector<double> x(M * H);
  const auto& word = tensor(ck, "embeddings.word");
  const auto& pos = tensor(ck, "embeddings.position");
  const auto& type = tensor(ck, "embeddings.token_type");
  for (size_t t = 0; t < M; ++t) {
    const size_t id = static_cast<size_t>(ids[t]), ty = types ? static_cast<size_t>(types[t]) : 0;
    for (size_t i = 0; i < H; ++i) {
      x[t * H + i] = double(word.values[id * H + i]) + pos.values[(t % S) * H + i] + type.values[ty * H + i];
    }
  }
  layer_norm(&x, M, H, tensor(ck, "embeddings.norm.gamma"), tensor(ck, "embeddings.norm.beta"), c.layer_norm_eps);

  for (int l = 0; l < c.layer_count; ++l) {
    auto t = [&](const char* s) -> const convert::FloatTensor& { return tensor(ck, format::layer_name(l, s)); };
    // Q, K and V are the three thirds of the qkv rows; heads = A / head_dim.
    const std::vector<double> qkv = linear(x, M, t("qkv.weight"), t("qkv.bias"));
    const size_t A = static_cast<size_t>(t("qkv.weight").shape[0]) / 3, heads = A / d;
    std::vector<double> context(M * A), head_out, head_probs;
    std::vector<double>& probs = out.attention.emplace_back(B * heads * S * S);
    for (size_t b = 0; b < B; ++b) {
      std::vector<float> key_bias(S, 0.0f);
      for (size_t j = 0; j < S; ++j) {
        if (mask && !mask[b * S + j]) key_bias[j] = std::numeric_limits<float>::lowest();
      }
      for (size_t h = 0; h < heads; ++h) {
        const double* q = qkv.data() + b * S * 3 * A + h * d;
        reference::attention(S, d, q, q + A, q + 2 * A, 3 * A, key_bias.data(), 1.0 / std::sqrt(double(d)), &head_out,
                             &head_probs);
        for (size_t i = 0; i < S; ++i) {
          for (size_t k = 0; k < d; ++k) context[(b * S + i) * A + h * d + k] = head_out[i * d + k];
        }
        std::copy(head_probs.begin(), head_probs.end(), probs.begin() + static_cast<std::ptrdiff_t>((b * heads + h) * S * S));
      }
    }
    std::vector<double> proj = linear(context, M, t("attn_out.weight"), t("attn_out.bias"));
    for (size_t i = 0; i < M * H; ++i) x[i] += proj[i];
    layer_norm(&x, M, H, t("attn_norm.gamma"), t("attn_norm.beta"), c.layer_norm_eps);
    std::vector<double> up = linear(x, M, t("ffn_up.weight"), t("ffn_up.bias"));
    for (double& v : up) v = reference::activation(c.activation, v);
    std::vector<double> down = linear(up, M, t("ffn_down.weight"), t("ffn_down.bias"));
    for (size_t i = 0; i < M * H; ++i) x[i] += down[i];
    layer_norm(&x, M, H, t("ffn_norm.gamma"), t("ffn_norm.beta"), c.layer_norm_eps);
  }
  out.hidden = x;
  if (ck.tensors.count("pooler.weight")) {
    std::vector<double> cls(B * H);
    for (size_t b = 0; b < B; ++b) {
      for (size_t i = 0; i < H; ++i) cls[b * H + i] = x[b * S * H + i];
    }
    out.pooled = linear(cls, B, tensor(ck, "pooler.weight"), tensor(ck, "pooler.bias"));
    for (double& v : out.pooled) v = std::tanh(v);
    if (ck.tensors.count("classifier.weight")) {
      out.logits = linear(out.pooled, B, tensor(ck, "classifier.weight"), tensor(ck, "classifier.bias"));
    }
  }
  return out;
}

}  // namespace encore::testing
