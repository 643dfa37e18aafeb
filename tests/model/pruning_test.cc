// Pruned models (tools/convert/pruner): a model with heads and FFN neurons removed must
// compute what the unpruned model computes with those heads masked (Session::set_head_masked)
// and those neurons' down-projection columns zero: int8 bit for bit, f32 within float
// summation-order noise. And the loader must hold every per-layer shape to its tensors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "convert/pruner.h"
#include "encore/session.h"
#include "model/format.h"
#include "support/reference_encoder.h"
#include "support/tiny_model.h"

namespace encore {
namespace {

using convert::ModelContents;
using convert::PrunePlan;
using convert::TensorData;

constexpr int64_t kBatch = 2, kSeq = 11, kHidden = 32, kHeadDim = 8, kIntermediate = 64;

convert::FloatCheckpoint checkpoint() {
  auto cfg = testing::tiny_config();
  cfg.labels = {"x", "y", "z"};
  return testing::random_checkpoint(cfg, 57);
}

// Layer 0 keeps heads 0, 2, 3 and the even neurons; layer 1 keeps head 1 and neurons 0..47.
PrunePlan plan_for_tests(const EncoderConfig& c) {
  PrunePlan plan = convert::keep_everything(c);
  plan.heads[0] = {0, 2, 3};
  plan.heads[1] = {1};
  plan.neurons[0].clear();
  for (int32_t j = 0; j < kIntermediate; j += 2) plan.neurons[0].push_back(j);
  plan.neurons[1].resize(48);
  return plan;
}

std::shared_ptr<const Model> load(const ModelContents& c) {
  auto bytes = convert::serialize_model(c);
  REQUIRE(bytes.ok());
  auto m = Model::load_from_memory(std::move(bytes).value());
  INFO((m.ok() ? std::string() : m.status().message()));
  REQUIRE(m.ok());
  return m.value();
}

Status load_status(const ModelContents& c) {
  auto bytes = convert::serialize_model(c);
  REQUIRE(bytes.ok());
  auto m = Model::load_from_memory(std::move(bytes).value());
  return m.ok() ? Status::Ok() : m.status();
}

TensorData* find(ModelContents& c, const std::string& name) {
  for (auto& t : c.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}
const TensorData* find(const ModelContents& c, const std::string& name) {
  for (const auto& t : c.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The unpruned contents with the down-projection columns of the neurons the plan removes set
// to zero (what removing them means for the rest of the network).
ModelContents zero_removed_neurons(ModelContents c, const PrunePlan& plan) {
  for (int l = 0; l < 2; ++l) {
    TensorData* t = find(c, format::layer_name(l, "ffn_down.weight"));
    REQUIRE(t != nullptr);
    const size_t es = t->dtype == convert::TensorDType::kI8 ? 1 : 4;
    const auto& kept = plan.neurons[static_cast<size_t>(l)];
    for (int64_t j = 0; j < kIntermediate; ++j) {
      if (std::find(kept.begin(), kept.end(), j) != kept.end()) continue;
      for (int64_t r = 0; r < kHidden; ++r) std::memset(t->bytes.data() + (r * kIntermediate + j) * es, 0, es);
    }
  }
  return c;
}

struct Batch {
  std::vector<int32_t> ids, mask;
  Batch() : ids(kBatch * kSeq), mask(kBatch * kSeq, 1) {
    std::mt19937 rng(8);
    for (auto& id : ids) id = static_cast<int32_t>(rng() % 50);
    for (int64_t s = 6; s < kSeq; ++s) mask[kSeq + s] = 0;
  }
  Inputs inputs() const { return Inputs{kBatch, kSeq, ids.data(), mask.data(), nullptr}; }
};

std::vector<float> outputs_of(Session& s, const Batch& batch) {
  Outputs o;
  REQUIRE(s.run(batch.inputs(), &o).ok());
  std::vector<float> v(o.last_hidden_state, o.last_hidden_state + o.batch * o.seq_len * o.hidden);
  v.insert(v.end(), o.logits, o.logits + o.batch * o.labels);
  return v;
}

// A session on the unpruned model with the plan's removed heads masked.
std::unique_ptr<Session> masked_session(std::shared_ptr<const Model> model, const PrunePlan& plan) {
  auto s = Session::create(std::move(model));
  REQUIRE(s.ok());
  for (int l = 0; l < 2; ++l) {
    const auto& kept = plan.heads[static_cast<size_t>(l)];
    for (int h = 0; h < 4; ++h) {
      if (std::find(kept.begin(), kept.end(), h) == kept.end()) REQUIRE((*s)->set_head_masked(l, h, true).ok());
    }
  }
  return std::move(s).value();
}

TEST_CASE("pruned int8 model equals the masked unpruned model bit for bit (heads, then heads + FFN)") {
  const ModelContents full = testing::int8_contents_for(checkpoint());
  REQUIRE(!full.tensors.empty());
  const PrunePlan plan = plan_for_tests(full.config);
  Batch batch;

  PrunePlan heads_only = convert::keep_everything(full.config);
  heads_only.heads = plan.heads;
  auto pruned_heads = convert::prune_contents(full, heads_only);
  REQUIRE(pruned_heads.ok());
  auto small = Session::create(load(*pruned_heads));
  REQUIRE(small.ok());
  const std::vector<float> want = outputs_of(*masked_session(load(full), plan), batch);
  CHECK(outputs_of(**small, batch) == want);

  auto pruned = convert::prune_contents(full, plan);
  REQUIRE(pruned.ok());
  auto model = load(*pruned);
  CHECK(model->config().layer_heads == plan.heads);
  CHECK(model->config().layer_intermediate_sizes == std::vector<int32_t>{32, 48});
  CHECK(model->config().heads_in_layer(1) == 1);
  CHECK(model->config().original_head(0, 1) == 2);
  auto s = Session::create(model);
  REQUIRE(s.ok());
  const std::vector<float> want_ffn = outputs_of(*masked_session(load(zero_removed_neurons(full, plan)), plan), batch);
  CHECK(outputs_of(**s, batch) == want_ffn);
  CHECK(want_ffn != want);  // the removed neurons mattered
  // Smaller: fewer int8 weights.
  auto full_bytes = convert::serialize_model(full);
  auto pruned_bytes = convert::serialize_model(*pruned);
  REQUIRE(full_bytes.ok());
  REQUIRE(pruned_bytes.ok());
  CHECK(pruned_bytes->size() < full_bytes->size());
}

TEST_CASE("pruned f32 model equals the masked unpruned model and the reference on the sliced weights") {
  const auto ck = checkpoint();
  const ModelContents full = convert::f32_contents(ck, {});
  const PrunePlan plan = plan_for_tests(full.config);
  auto pruned = convert::prune_contents(full, plan);
  REQUIRE(pruned.ok());
  auto s = Session::create(load(*pruned));
  REQUIRE(s.ok());
  Batch batch;
  const std::vector<float> got = outputs_of(**s, batch);
  const std::vector<float> want = outputs_of(*masked_session(load(zero_removed_neurons(full, plan)), plan), batch);
  double err = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool padding = i < static_cast<size_t>(kBatch * kSeq * kHidden) && !batch.mask[i / kHidden];
    if (!padding) err = std::max(err, double(std::fabs(got[i] - want[i])));
  }
  CHECK(err <= 1e-5);

  // The reference encoder runs the pruned weights (it reads widths from the tensors).
  convert::FloatCheckpoint sliced = ck;
  for (const auto& t : pruned->tensors) {
    auto& dst = sliced.tensors[t.name];
    dst.shape = t.shape;
    dst.values.resize(t.bytes.size() / 4);
    std::memcpy(dst.values.data(), t.bytes.data(), t.bytes.size());
  }
  const auto ref = testing::reference_forward(sliced, kBatch, kSeq, batch.ids.data(), batch.mask.data(), nullptr);
  err = 0.0;
  for (int64_t t = 0; t < kBatch * kSeq; ++t) {
    if (!batch.mask[static_cast<size_t>(t)]) continue;
    for (int64_t i = 0; i < kHidden; ++i) {
      err = std::max(err, std::fabs(double(got[static_cast<size_t>(t * kHidden + i)]) - ref.hidden[static_cast<size_t>(t * kHidden + i)]));
    }
  }
  CHECK(err <= 1e-4);
}

TEST_CASE("pruned model: masks and attention probabilities follow each layer's own heads") {
  const ModelContents full = testing::int8_contents_for(checkpoint());
  auto pruned = convert::prune_contents(full, plan_for_tests(full.config));
  REQUIRE(pruned.ok());
  auto model = load(*pruned);
  SessionOptions o;
  o.attention_probabilities = true;
  auto s = Session::create(model, o);
  REQUIRE(s.ok());
  CHECK((*s)->set_head_masked(0, 2, true).ok());
  CHECK((*s)->set_head_masked(0, 3, true).code() == StatusCode::kInvalidArgument);  // layer 0 has 3 heads now
  CHECK((*s)->set_head_masked(1, 1, true).code() == StatusCode::kInvalidArgument);  // layer 1 has 1
  Batch batch;
  outputs_of(**s, batch);
  // Layer 0: [batch, 3, S, S], the third head (was head 3) masked; layer 1: [batch, 1, S, S].
  const float* p0 = (*s)->attention_probabilities(0);
  const float* p1 = (*s)->attention_probabilities(1);
  REQUIRE(p0 != nullptr);
  REQUIRE(p1 != nullptr);
  // Rows of real tokens sum to 1 (0 for the masked head); the second sequence's trailing
  // padding rows (6..10) are not computed and sum to 0.
  for (int64_t b = 0; b < kBatch; ++b) {
    const int64_t length = b == 0 ? kSeq : 6;
    for (int64_t h = 0; h < 3; ++h) {
      for (int64_t i = 0; i < kSeq; ++i) {
        double sum = 0.0;
        for (int64_t j = 0; j < kSeq; ++j) sum += p0[((b * 3 + h) * kSeq + i) * kSeq + j];
        CHECK(std::fabs(sum - (h == 2 || i >= length ? 0.0 : 1.0)) < 1e-5);
      }
    }
    for (int64_t i = 0; i < kSeq; ++i) {
      double sum = 0.0;
      for (int64_t j = 0; j < kSeq; ++j) sum += p1[(b * kSeq + i) * kSeq + j];
      CHECK(std::fabs(sum - (i >= length ? 0.0 : 1.0)) < 1e-5);
    }
  }
}

TEST_CASE("pruning plans: bad plans and lists are refused with a reason") {
  const ModelContents full = convert::f32_contents(checkpoint(), {});
  const EncoderConfig& c = full.config;
  PrunePlan plan = convert::keep_everything(c);
  plan.heads[1].clear();
  auto r = convert::prune_contents(full, plan);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("layer 1: every head would be removed") != std::string::npos);
  plan = convert::keep_everything(c);
  plan.neurons[0] = {3, 3};
  CHECK(convert::prune_contents(full, plan).status().message().find("not ascending") != std::string::npos);
  plan = convert::keep_everything(c);
  plan.heads[0] = {0, 4};
  CHECK(convert::prune_contents(full, plan).status().message().find("out of range") != std::string::npos);
  plan.heads.pop_back();
  CHECK(convert::prune_contents(full, plan).status().code() == StatusCode::kInvalidArgument);
  auto once = convert::prune_contents(full, plan_for_tests(c));
  REQUIRE(once.ok());
  CHECK(convert::prune_contents(*once, plan_for_tests(c)).status().code() == StatusCode::kInvalidModel);

  plan = convert::keep_everything(c);
  REQUIRE(convert::remove_listed_heads("0:1,1:3,1:0", c, &plan).ok());
  CHECK(plan.heads[0] == std::vector<int32_t>{0, 2, 3});
  CHECK(plan.heads[1] == std::vector<int32_t>{1, 2});
  for (const char* bad : {"0:1,0:1", "2:0", "0:4", "0-1", "0:", ":1", "0:1x", "a:b", "0:0,0:1,0:2,0:3", ",0:1"}) {
    PrunePlan p = convert::keep_everything(c);
    CAPTURE(bad);
    CHECK(convert::remove_listed_heads(bad, c, &p).code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("FFN importance: keeps the neurons with the largest activation std x down-column norm") {
  auto cfg = testing::tiny_config();
  cfg.layer_count = 1;
  auto ck = testing::random_checkpoint(cfg, 2);
  // Down columns of norm 1 except neuron 5 (norm 10); the activation's std rises with the
  // index, its mean (which replacement by the mean keeps) is the same large value for all.
  auto& down = ck.tensors.at("layer.0.ffn_down.weight").values;
  std::fill(down.begin(), down.end(), 0.0f);
  for (int64_t j = 0; j < kIntermediate; ++j) down[static_cast<size_t>(j % kHidden * kIntermediate + j)] = j == 5 ? 10.0f : 1.0f;
  convert::FfnStatistics stats;
  stats.mean.assign(1, std::vector<double>(kIntermediate, 5.0));
  stats.mean_square.assign(1, std::vector<double>(kIntermediate));
  for (int64_t j = 0; j < kIntermediate; ++j) stats.mean_square[0][static_cast<size_t>(j)] = 25.0 + (1.0 + j) * (1.0 + j);
  const auto order = convert::neurons_by_importance(ck, stats);
  REQUIRE(order.size() == 1);
  CHECK(order[0].front() == 0);
  CHECK(order[0].back() == 63);
  PrunePlan plan = convert::keep_everything(ck.config);
  REQUIRE(convert::keep_important_neurons(order, stats, 0.9, &plan).ok());
  // floor(0.9 x 64) = 57 removed, 7 kept: neuron 5 (std 6 x 10 = 60) and 58..63 (59..64).
  CHECK(plan.neurons[0] == std::vector<int32_t>{5, 58, 59, 60, 61, 62, 63});
  CHECK(plan.neuron_means == stats.mean);
  REQUIRE(convert::keep_important_neurons(order, stats, 0.0, &plan).ok());
  CHECK(plan.neurons[0].size() == 64);
  CHECK(convert::keep_important_neurons(order, stats, 1.0, &plan).code() == StatusCode::kInvalidArgument);
  CHECK(convert::kept_neurons({4, 1, 3, 0, 2}, 2) == std::vector<int32_t>{0, 2, 3});
}

TEST_CASE("FFN statistics: over real tokens only, a padded batch gives what its sequences give alone") {
  const auto ck = checkpoint();
  auto model = Model::load_from_memory(testing::f32_model_bytes(ck));
  REQUIRE(model.ok());
  Batch batch;  // sequence 0: 11 tokens, sequence 1: 6 real + 5 padding
  auto padded = convert::ffn_statistics(*model, batch.ids.data(), batch.mask.data(), kBatch, kSeq, 1);
  auto first = convert::ffn_statistics(*model, batch.ids.data(), nullptr, 1, kSeq, 1);
  auto second = convert::ffn_statistics(*model, batch.ids.data() + kSeq, nullptr, 1, 6, 1);
  REQUIRE(padded.ok());
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(padded->tokens == 17);
  double err = 0.0;
  for (size_t l = 0; l < 2; ++l) {
    for (size_t j = 0; j < static_cast<size_t>(kIntermediate); ++j) {
      const double want = (first->mean[l][j] * 11 + second->mean[l][j] * 6) / 17;
      const double want_sq = (first->mean_square[l][j] * 11 + second->mean_square[l][j] * 6) / 17;
      err = std::max({err, std::fabs(padded->mean[l][j] - want), std::fabs(padded->mean_square[l][j] - want_sq)});
    }
  }
  CHECK(err <= 1e-5);
}

// Replacing removed neurons by their mean: the f32 pruned model against the reference encoder
// on the unpruned weights with those down columns zeroed and sum_j W[:, j] mean_j added to the
// bias (computed here in double); the int8 pruned model bit for bit against the unpruned int8
// model with those columns zeroed and the folded bias, whose shift must be what the plain
// formula gives, within one accumulator unit.
TEST_CASE("FFN pruning with mean compensation: f32 against the reference, int8 bit-exact") {
  const auto ck = checkpoint();
  PrunePlan plan = plan_for_tests(ck.config);
  plan.neuron_means.assign(2, std::vector<double>(kIntermediate));
  std::mt19937 rng(4);
  std::uniform_real_distribution<double> u(-0.2, 0.6);
  for (auto& layer : plan.neuron_means) {
    for (double& m : layer) m = u(rng);
  }
  auto removed = [&](size_t l, int64_t j) {
    const auto& kept = plan.neurons[l];
    return std::find(kept.begin(), kept.end(), j) == kept.end();
  };
  Batch batch;

  // f32
  auto pruned_f32 = convert::prune_contents(convert::f32_contents(ck, {}), plan);
  REQUIRE(pruned_f32.ok());
  auto s = Session::create(load(*pruned_f32));
  REQUIRE(s.ok());
  convert::FloatCheckpoint folded = ck;
  for (size_t l = 0; l < 2; ++l) {
    auto& w = folded.tensors.at(format::layer_name(static_cast<int>(l), "ffn_down.weight")).values;
    auto& b = folded.tensors.at(format::layer_name(static_cast<int>(l), "ffn_down.bias")).values;
    for (int64_t r = 0; r < kHidden; ++r) {
      double shift = 0.0;
      for (int64_t j = 0; j < kIntermediate; ++j) {
        if (!removed(l, j)) continue;
        shift += double(w[static_cast<size_t>(r * kIntermediate + j)]) * plan.neuron_means[l][static_cast<size_t>(j)];
        w[static_cast<size_t>(r * kIntermediate + j)] = 0.0f;
      }
      b[static_cast<size_t>(r)] = static_cast<float>(b[static_cast<size_t>(r)] + shift);
    }
    // Heads the plan removes: zero their value rows.
    auto& qkv = folded.tensors.at(format::layer_name(static_cast<int>(l), "qkv.weight")).values;
    auto& qkv_b = folded.tensors.at(format::layer_name(static_cast<int>(l), "qkv.bias")).values;
    for (int32_t h = 0; h < 4; ++h) {
      if (std::find(plan.heads[l].begin(), plan.heads[l].end(), h) != plan.heads[l].end()) continue;
      for (int64_t i = 0; i < kHeadDim; ++i) {
        const int64_t row = 2 * kHidden + h * kHeadDim + i;
        std::fill_n(qkv.begin() + row * kHidden, kHidden, 0.0f);
        qkv_b[static_cast<size_t>(row)] = 0.0f;
      }
    }
  }
  const auto ref = testing::reference_forward(folded, kBatch, kSeq, batch.ids.data(), batch.mask.data(), nullptr);
  const std::vector<float> got = outputs_of(**s, batch);
  double err = 0.0;
  for (int64_t t = 0; t < kBatch * kSeq; ++t) {
    if (!batch.mask[static_cast<size_t>(t)]) continue;
    for (int64_t i = 0; i < kHidden; ++i) {
      err = std::max(err, std::fabs(double(got[static_cast<size_t>(t * kHidden + i)]) - ref.hidden[static_cast<size_t>(t * kHidden + i)]));
    }
  }
  CHECK(err <= 1e-4);

  // int8
  const ModelContents full = testing::int8_contents_for(ck);
  auto pruned = convert::prune_contents(full, plan);
  REQUIRE(pruned.ok());
  ModelContents expected = zero_removed_neurons(full, plan);
  float input_scale[2] = {0, 0};
  for (const auto& a : full.activations) {
    for (int l = 0; l < 2; ++l) {
      if (a.name == format::layer_name(l, "ffn_down.input")) input_scale[l] = a.scale;
    }
  }
  int worst = 0;
  for (size_t l = 0; l < 2; ++l) {
    const std::string bias = format::layer_name(static_cast<int>(l), "ffn_down.bias");
    const TensorData* original = find(full, bias);
    TensorData* target = find(expected, bias);
    const TensorData* folded_bias = find(*pruned, bias);
    const TensorData* weight = find(full, format::layer_name(static_cast<int>(l), "ffn_down.weight"));
    REQUIRE(original != nullptr);
    REQUIRE(folded_bias != nullptr);
    target->bytes = folded_bias->bytes;
    const auto* q = reinterpret_cast<const int8_t*>(weight->bytes.data());
    const auto* before = reinterpret_cast<const int32_t*>(original->bytes.data());
    const auto* after = reinterpret_cast<const int32_t*>(folded_bias->bytes.data());
    for (int64_t r = 0; r < kHidden; ++r) {
      double shift = 0.0;
      for (int64_t j = 0; j < kIntermediate; ++j) {
        if (removed(l, j)) shift += q[r * kIntermediate + j] * plan.neuron_means[l][static_cast<size_t>(j)];
      }
      const double want = before[r] + shift / input_scale[l];
      worst = std::max(worst, static_cast<int>(std::ceil(std::fabs(after[r] - want))));
    }
  }
  CHECK(worst <= 1);
  auto small = Session::create(load(*pruned));
  REQUIRE(small.ok());
  CHECK(outputs_of(**small, batch) == outputs_of(*masked_session(load(expected), plan), batch));
}

TEST_CASE("loader: a pruned model's per-layer shapes are checked against its tensors") {
  const ModelContents full = testing::int8_contents_for(checkpoint());
  auto pruned = convert::prune_contents(full, plan_for_tests(full.config));
  REQUIRE(pruned.ok());
  REQUIRE(load_status(*pruned).ok());
  auto expect = [&](ModelContents c, const char* text) {
    const Status st = load_status(c);
    CAPTURE(text);
    CHECK(st.code() == StatusCode::kInvalidModel);
    CHECK(st.message().find(text) != std::string::npos);
  };
  ModelContents c = *pruned;
  c.format_version = 1;
  expect(c, "needs format version 2");
  c = *pruned;
  c.config.layer_heads.pop_back();
  c.config.layer_intermediate_sizes.pop_back();
  expect(c, "config.layers has 1 entries for 2 layers");
  c = *pruned;
  c.config.layer_heads[0] = {0, 3, 2};
  expect(c, "head index 2 is out of range or not in ascending order");
  c = *pruned;
  c.config.layer_heads[1] = {4};
  expect(c, "head index 4");
  c = *pruned;
  c.config.layer_heads[1] = {};
  expect(c, "0 heads, expected 1 to 4");
  c = *pruned;
  c.config.layer_heads[0] = {0, 1, 2, 3, 3};
  expect(c, "5 heads, expected 1 to 4");
  c = *pruned;
  c.config.layer_intermediate_sizes[1] = 65;
  expect(c, "intermediate_size 65 is outside [1, 64]");
  c = *pruned;
  c.config.layer_intermediate_sizes[1] = 0;
  expect(c, "intermediate_size 0");
  // Shapes that disagree with the tensors: one head more than the Q/K/V rows hold; a narrower FFN.
  c = *pruned;
  c.config.layer_heads[1] = {1, 2};
  expect(c, "tensor 'layer.1.qkv.weight' has shape [24, 32], expected [48, 32]");
  c = *pruned;
  c.config.layer_intermediate_sizes[0] = 31;
  expect(c, "tensor 'layer.0.ffn_up.weight' has shape [32, 32], expected [31, 32]");
  // An unpruned file is still version 1.
  auto bytes = convert::serialize_model(full);
  REQUIRE(bytes.ok());
  auto m = Model::load_from_memory(std::move(bytes).value());
  REQUIRE(m.ok());
  CHECK_FALSE((*m)->config().is_pruned());
}

}  // namespace
}  // namespace encore
