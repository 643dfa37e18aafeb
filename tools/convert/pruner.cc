#include "convert/pruner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <sstream>

#include "core/str.h"
#include "encore/session.h"
#include "model/format.h"

namespace encore::convert {

namespace {

size_t element_size(TensorDType t) {
  switch (t) {
    case TensorDType::kF32: return 4;
    case TensorDType::kI8: return 1;
    case TensorDType::kI32: return 4;
    case TensorDType::kF16: return 2;
  }
  return 0;
}

// Keeps rows `keep` of a tensor (1-D: elements). Per-row quantization (axis 0, one entry per
// row) is sliced with them; a per-tensor one stays.
Status keep_rows(TensorData* t, const std::vector<int64_t>& keep) {
  const int64_t rows = t->shape[0];
  int64_t cols = 1;
  for (size_t i = 1; i < t->shape.size(); ++i) cols *= t->shape[i];
  const size_t row_bytes = static_cast<size_t>(cols) * element_size(t->dtype);
  std::vector<uint8_t> bytes(keep.size() * row_bytes);
  for (size_t i = 0; i < keep.size(); ++i) {
    std::memcpy(bytes.data() + i * row_bytes, t->bytes.data() + static_cast<size_t>(keep[i]) * row_bytes, row_bytes);
  }
  t->bytes = std::move(bytes);
  t->shape[0] = static_cast<int64_t>(keep.size());
  if (t->scales.size() > 1) {
    if (t->axis != 0 || t->scales.size() != static_cast<size_t>(rows)) {
      return invalid_model(cat("tensor '", t->name, "': quantization is not per row, cannot drop rows"));
    }
    std::vector<float> scales;
    std::vector<int32_t> zero_points;
    for (int64_t r : keep) {
      scales.push_back(t->scales[static_cast<size_t>(r)]);
      if (!t->zero_points.empty()) zero_points.push_back(t->zero_points[static_cast<size_t>(r)]);
    }
    t->scales = std::move(scales);
    t->zero_points = std::move(zero_points);
  }
  return Status::Ok();
}

// Keeps columns `keep` of a 2-D [out, in] weight; per-row quantization is unchanged.
Status keep_columns(TensorData* t, const std::vector<int64_t>& keep) {
  if (t->shape.size() != 2) return invalid_model(cat("tensor '", t->name, "' is not 2-D, cannot drop columns"));
  if (t->scales.size() > 1 && t->axis != 0) {
    return invalid_model(cat("tensor '", t->name, "': quantization is not per row, cannot drop columns"));
  }
  const size_t rows = static_cast<size_t>(t->shape[0]), cols = static_cast<size_t>(t->shape[1]);
  const size_t es = element_size(t->dtype);
  std::vector<uint8_t> bytes(rows * keep.size() * es);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < keep.size(); ++i) {
      std::memcpy(bytes.data() + (r * keep.size() + i) * es,
                  t->bytes.data() + (r * cols + static_cast<size_t>(keep[i])) * es, es);
    }
  }
  t->bytes = std::move(bytes);
  t->shape[1] = static_cast<int64_t>(keep.size());
  return Status::Ok();
}

Status check_kept(const std::vector<int32_t>& kept, int32_t count, const char* what, size_t layer) {
  if (kept.empty()) {
    return invalid_argument(cat("layer ", layer, ": every ", what, " would be removed; a layer keeps at least one"));
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    if (kept[i] < 0 || kept[i] >= count || (i > 0 && kept[i] <= kept[i - 1])) {
      return invalid_argument(cat("layer ", layer, ": ", what, " index ", kept[i], " is out of range [0, ", count,
                                  ") or not ascending"));
    }
  }
  return Status::Ok();
}

}  // namespace

namespace {

// Adds the removed neurons' mean contribution, sum_j W[r, j] mean_j, to ffn_down's bias (before
// its columns are dropped). int8: W[r, j] = q[r, j] x weight_scale[r] and the bias counts
// input_scale x weight_scale[r], so the shift is sum_j q[r, j] mean_j / input_scale.
Status fold_removed_neurons(const ModelContents& c, size_t l, const PrunePlan& plan,
                            const std::map<std::string, TensorData*>& by_name) {
  const auto& means = plan.neuron_means;
  const int64_t I = c.config.intermediate_size, H = c.config.hidden_size;
  if (means.size() != plan.neurons.size() || means[l].size() != static_cast<size_t>(I)) {
    return invalid_argument(cat("layer ", l, ": neuron means for ", means.size() > l ? means[l].size() : 0, " of ", I,
                                " neurons"));
  }
  std::vector<uint8_t> removed(static_cast<size_t>(I), 1);
  for (int32_t j : plan.neurons[l]) removed[static_cast<size_t>(j)] = 0;
  const std::string base = format::layer_name(static_cast<int>(l), "ffn_down");
  auto w_it = by_name.find(base + ".weight"), b_it = by_name.find(base + ".bias");
  if (w_it == by_name.end() || b_it == by_name.end()) return invalid_model(cat("missing tensor '", base, ".*'"));
  const TensorData& w = *w_it->second;
  TensorData& b = *b_it->second;
  if (w.dtype == TensorDType::kF32) {
    std::vector<float> weight(static_cast<size_t>(H * I)), bias(static_cast<size_t>(H));
    std::memcpy(weight.data(), w.bytes.data(), weight.size() * 4);
    std::memcpy(bias.data(), b.bytes.data(), bias.size() * 4);
    for (int64_t r = 0; r < H; ++r) {
      double shift = 0.0;
      for (int64_t j = 0; j < I; ++j) {
        if (removed[static_cast<size_t>(j)]) shift += double(weight[static_cast<size_t>(r * I + j)]) * means[l][static_cast<size_t>(j)];
      }
      bias[static_cast<size_t>(r)] = static_cast<float>(bias[static_cast<size_t>(r)] + shift);
    }
    std::memcpy(b.bytes.data(), bias.data(), bias.size() * 4);
    return Status::Ok();
  }
  if (w.dtype != TensorDType::kI8 || b.dtype != TensorDType::kI32) {
    return invalid_model(cat(base, ": expected int8 weights with an int32 bias"));
  }
  const std::string input = format::layer_name(static_cast<int>(l), "ffn_down.input");
  float input_scale = 0.0f;
  for (const auto& a : c.activations) {
    if (a.name == input) input_scale = a.scale;
  }
  if (!(input_scale > 0.0f)) return invalid_model(cat("missing activation quantization '", input, "'"));
  std::vector<int32_t> bias(static_cast<size_t>(H));
  std::memcpy(bias.data(), b.bytes.data(), bias.size() * 4);
  const auto* q = reinterpret_cast<const int8_t*>(w.bytes.data());
  for (int64_t r = 0; r < H; ++r) {
    double shift = 0.0;
    for (int64_t j = 0; j < I; ++j) {
      if (removed[static_cast<size_t>(j)]) shift += double(q[r * I + j]) * means[l][static_cast<size_t>(j)];
    }
    const double v = std::nearbyint(double(bias[static_cast<size_t>(r)]) + shift / double(input_scale));
    if (!(std::fabs(v) < 2147483647.0)) return invalid_model(cat(base, ".bias: folded bias overflows int32"));
    bias[static_cast<size_t>(r)] = static_cast<int32_t>(v);
  }
  std::memcpy(b.bytes.data(), bias.data(), bias.size() * 4);
  return Status::Ok();
}

}  // namespace

PrunePlan keep_everything(const EncoderConfig& c) {
  PrunePlan plan;
  for (int l = 0; l < c.layer_count; ++l) {
    plan.heads.emplace_back(static_cast<size_t>(c.head_count));
    std::iota(plan.heads.back().begin(), plan.heads.back().end(), 0);
    plan.neurons.emplace_back(static_cast<size_t>(c.intermediate_size));
    std::iota(plan.neurons.back().begin(), plan.neurons.back().end(), 0);
  }
  return plan;
}

Result<ModelContents> prune_contents(const ModelContents& in, const PrunePlan& plan) {
  const EncoderConfig& c = in.config;
  if (c.is_pruned()) return invalid_model("the model is already pruned; prune the unpruned model instead");
  const size_t layers = static_cast<size_t>(c.layer_count);
  if (plan.heads.size() != layers || plan.neurons.size() != layers) {
    return invalid_argument(cat("pruning plan covers ", plan.heads.size(), " / ", plan.neurons.size(), " layers of ",
                                layers));
  }
  ModelContents out = in;
  std::map<std::string, TensorData*> by_name;
  for (auto& t : out.tensors) by_name[t.name] = &t;
  auto get = [&](size_t l, const char* suffix) -> Result<TensorData*> {
    auto it = by_name.find(format::layer_name(static_cast<int>(l), suffix));
    if (it == by_name.end()) return invalid_model(cat("missing tensor '", format::layer_name(static_cast<int>(l), suffix), "'"));
    return it->second;
  };
  const int64_t H = c.hidden_size, d = c.head_dim();
  for (size_t l = 0; l < layers; ++l) {
    ENCORE_RETURN_IF_ERROR(check_kept(plan.heads[l], c.head_count, "head", l));
    ENCORE_RETURN_IF_ERROR(check_kept(plan.neurons[l], c.intermediate_size, "FFN neuron", l));
    // Q, K and V rows of the kept heads, in that order (the runtime's fused layout); the output
    // projection's matching input columns.
    std::vector<int64_t> qkv_rows, columns;
    for (int64_t part = 0; part < 3; ++part) {
      for (int32_t h : plan.heads[l]) {
        for (int64_t i = 0; i < d; ++i) qkv_rows.push_back(part * H + h * d + i);
      }
    }
    for (int32_t h : plan.heads[l]) {
      for (int64_t i = 0; i < d; ++i) columns.push_back(h * d + i);
    }
    const std::vector<int64_t> neurons(plan.neurons[l].begin(), plan.neurons[l].end());
    if (!plan.neuron_means.empty()) ENCORE_RETURN_IF_ERROR(fold_removed_neurons(out, l, plan, by_name));
    for (const char* name : {"qkv.weight", "qkv.bias"}) {
      ENCORE_ASSIGN_OR_RETURN(TensorData * t, get(l, name));
      ENCORE_RETURN_IF_ERROR(keep_rows(t, qkv_rows));
    }
    ENCORE_ASSIGN_OR_RETURN(TensorData * attn_out, get(l, "attn_out.weight"));
    ENCORE_RETURN_IF_ERROR(keep_columns(attn_out, columns));
    for (const char* name : {"ffn_up.weight", "ffn_up.bias"}) {
      ENCORE_ASSIGN_OR_RETURN(TensorData * t, get(l, name));
      ENCORE_RETURN_IF_ERROR(keep_rows(t, neurons));
    }
    ENCORE_ASSIGN_OR_RETURN(TensorData * down, get(l, "ffn_down.weight"));
    ENCORE_RETURN_IF_ERROR(keep_columns(down, neurons));
  }
  out.config.layer_heads = plan.heads;
  out.config.layer_intermediate_sizes.clear();
  for (const auto& n : plan.neurons) out.config.layer_intermediate_sizes.push_back(static_cast<int32_t>(n.size()));
  return out;
}

Status remove_listed_heads(const std::string& list, const EncoderConfig& c, PrunePlan* plan) {
  std::stringstream items(list);
  std::string item;
  while (std::getline(items, item, ',')) {
    const size_t colon = item.find(':');
    int layer = -1, head = -1;
    size_t used_l = 0, used_h = 0;
    try {
      if (colon == std::string::npos) throw std::invalid_argument(item);
      layer = std::stoi(item.substr(0, colon), &used_l);
      head = std::stoi(item.substr(colon + 1), &used_h);
    } catch (const std::exception&) {
      used_l = 0;
    }
    if (used_l == 0 || used_l != colon || used_h != item.size() - colon - 1) {
      return invalid_argument(cat("--prune-heads: '", item, "' is not LAYER:HEAD (e.g. 0:3,1:0)"));
    }
    if (layer < 0 || layer >= c.layer_count || head < 0 || head >= c.head_count) {
      return invalid_argument(cat("--prune-heads: ", item, " is outside the model's ", c.layer_count, " layers x ",
                                  c.head_count, " heads"));
    }
    auto& kept = plan->heads[static_cast<size_t>(layer)];
    auto it = std::find(kept.begin(), kept.end(), head);
    if (it == kept.end()) return invalid_argument(cat("--prune-heads: ", item, " is listed twice"));
    kept.erase(it);
    if (kept.empty()) {
      return invalid_argument(cat("--prune-heads: removes every head of layer ", layer,
                                  "; a layer keeps at least one (bypass its attention with encore-analyze instead)"));
    }
  }
  return Status::Ok();
}

namespace {
// Sums of the activation output and its square per neuron over the rows the session computes:
// each sequence's tokens up to its last unmasked one (a session skips trailing padding).
class StatisticsObserver : public ActivationObserver {
 public:
  StatisticsObserver(int layers, int64_t width) {
    for (int l = 0; l < layers; ++l) names_.push_back(format::layer_name(l, "ffn_down.input"));
    stats_.mean.assign(static_cast<size_t>(layers), std::vector<double>(static_cast<size_t>(width), 0.0));
    stats_.mean_square = stats_.mean;
  }
  void observe(std::string_view name, const float* data, size_t rows, size_t cols, size_t stride) override {
    for (size_t l = 0; l < names_.size(); ++l) {
      if (name != names_[l]) continue;
      if (l == 0) stats_.tokens += static_cast<int64_t>(rows);
      auto& sum = stats_.mean[l];
      auto& square = stats_.mean_square[l];
      for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < cols && c < sum.size(); ++c) {
          const double v = data[r * stride + c];
          sum[c] += v;
          square[c] += v * v;
        }
      }
    }
  }
  FfnStatistics finish() {
    const double n = double(std::max<int64_t>(stats_.tokens, 1));
    for (auto* table : {&stats_.mean, &stats_.mean_square}) {
      for (auto& layer : *table) {
        for (double& v : layer) v /= n;
      }
    }
    return stats_;
  }

 private:
  std::vector<std::string> names_;
  FfnStatistics stats_;
};
}  // namespace

Result<FfnStatistics> ffn_statistics(std::shared_ptr<const Model> model, const int32_t* ids, const int32_t* mask,
                                     int64_t n, int64_t seq, int threads) {
  const auto& c = model->config();
  StatisticsObserver observer(c.layer_count, c.intermediate_size);
  SessionOptions so;
  so.threads = threads;
  so.observer = &observer;
  ENCORE_ASSIGN_OR_RETURN(auto session, Session::create(std::move(model), so));
  for (int64_t start = 0; start < n; start += 64) {
    Inputs in;
    in.batch = std::min<int64_t>(64, n - start);
    in.seq_len = seq;
    in.input_ids = ids + start * seq;
    in.attention_mask = mask ? mask + start * seq : nullptr;
    Outputs out;
    ENCORE_RETURN_IF_ERROR(session->run(in, &out));
  }
  return observer.finish();
}

std::vector<std::vector<int32_t>> neurons_by_importance(const FloatCheckpoint& ck, const FfnStatistics& stats) {
  const EncoderConfig& c = ck.config;
  const size_t I = static_cast<size_t>(c.intermediate_size), H = static_cast<size_t>(c.hidden_size);
  std::vector<std::vector<int32_t>> orders;
  for (size_t l = 0; l < static_cast<size_t>(c.layer_count); ++l) {
    const auto& down = ck.tensors.at(format::layer_name(static_cast<int>(l), "ffn_down.weight")).values;  // [H, I]
    std::vector<double> importance(I);
    for (size_t j = 0; j < I; ++j) {
      double norm = 0.0;
      for (size_t r = 0; r < H; ++r) norm += double(down[r * I + j]) * down[r * I + j];
      const double mean = stats.mean[l][j];
      const double variance = std::max(0.0, stats.mean_square[l][j] - mean * mean);
      importance[j] = std::sqrt(variance * norm);
    }
    std::vector<int32_t> order(I);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return importance[static_cast<size_t>(a)] < importance[static_cast<size_t>(b)];
    });
    orders.push_back(std::move(order));
  }
  return orders;
}

std::vector<int32_t> kept_neurons(const std::vector<int32_t>& order, size_t removed) {
  std::vector<int32_t> kept(order.begin() + static_cast<std::ptrdiff_t>(std::min(removed, order.size())), order.end());
  std::sort(kept.begin(), kept.end());
  return kept;
}

Status keep_important_neurons(const std::vector<std::vector<int32_t>>& order, const FfnStatistics& stats,
                              double fraction, PrunePlan* plan) {
  if (!(fraction >= 0.0 && fraction < 1.0)) return invalid_argument(cat("--prune-ffn ", fraction, " is outside [0, 1)"));
  if (order.size() != plan->neurons.size() || stats.mean.size() != plan->neurons.size()) {
    return internal_error("FFN statistics do not cover every layer");
  }
  for (size_t l = 0; l < order.size(); ++l) {
    const size_t I = order[l].size();
    const size_t remove = std::min(I - 1, static_cast<size_t>(std::floor(fraction * double(I))));
    plan->neurons[l] = kept_neurons(order[l], remove);
  }
  plan->neuron_means = stats.mean;
  return Status::Ok();
}

std::string describe_plan(const EncoderConfig& c, const PrunePlan& plan) {
  std::string s;
  for (size_t l = 0; l < plan.heads.size(); ++l) {
    s += cat("    layer ", l, ": heads");
    for (size_t i = 0; i < plan.heads[l].size(); ++i) s += cat(i ? ", " : " ", plan.heads[l][i]);
    s += cat(" (", plan.heads[l].size(), " of ", c.head_count, "); FFN ", plan.neurons[l].size(), " of ",
             c.intermediate_size, " neurons\n");
  }
  return s;
}

}  // namespace encore::convert
