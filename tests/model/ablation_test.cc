// Ablation switches and attention probabilities, against a plain double-precision encoder
// (tests/support/reference_encoder) whose weights are zeroed instead: a masked head must be
// a head whose value rows, or output-projection columns, are zero; a bypassed FFN one whose
// ffn_down weights and bias are zero. int8 models: the masked run equals, bit for bit, the
// unmasked run of the same int8 file with that head's output-projection columns zeroed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "encore/session.h"
#include "model/format.h"
#include "support/reference_encoder.h"
#include "support/tiny_model.h"

namespace encore {
namespace {

constexpr int64_t kBatch = 3, kSeq = 9, kHidden = 32, kHeads = 4, kHeadDim = 8, kLabels = 3;

convert::FloatCheckpoint checkpoint() {
  auto cfg = testing::tiny_config();
  cfg.labels = {"a", "b", "c"};
  return testing::random_checkpoint(cfg, 41);
}

// A padded batch: the second sequence has 5 real tokens, the third 1.
struct Batch {
  std::vector<int32_t> ids, mask, types;
  Batch() : ids(kBatch * kSeq), mask(kBatch * kSeq, 1), types(kBatch * kSeq, 0) {
    std::mt19937 rng(3);
    for (auto& id : ids) id = static_cast<int32_t>(rng() % 50);
    for (int64_t s = 5; s < kSeq; ++s) mask[kSeq + s] = 0;
    for (int64_t s = 1; s < kSeq; ++s) mask[2 * kSeq + s] = 0;
    for (int64_t s = kSeq / 2; s < kSeq; ++s) types[s] = 1;
  }
  Inputs inputs() const { return Inputs{kBatch, kSeq, ids.data(), mask.data(), types.data()}; }
};

void zero_rows(convert::FloatTensor* t, int64_t first, int64_t count) {
  const int64_t cols = t->shape.size() > 1 ? t->shape[1] : 1;
  std::fill(t->values.begin() + first * cols, t->values.begin() + (first + count) * cols, 0.0f);
}

void zero_columns(convert::FloatTensor* t, int64_t first, int64_t count) {
  const int64_t cols = t->shape[1];
  for (int64_t r = 0; r < t->shape[0]; ++r) {
    std::fill(t->values.begin() + r * cols + first, t->values.begin() + r * cols + first + count, 0.0f);
  }
}

// Head h of layer l silenced in the checkpoint: its V rows (weights and bias), or its
// output-projection input columns.
convert::FloatCheckpoint without_value(convert::FloatCheckpoint ck, int l, int h) {
  zero_rows(&ck.tensors.at(format::layer_name(l, "qkv.weight")), 2 * kHidden + h * kHeadDim, kHeadDim);
  zero_rows(&ck.tensors.at(format::layer_name(l, "qkv.bias")), 2 * kHidden + h * kHeadDim, kHeadDim);
  return ck;
}
convert::FloatCheckpoint without_out_columns(convert::FloatCheckpoint ck, int l, int h) {
  zero_columns(&ck.tensors.at(format::layer_name(l, "attn_out.weight")), h * kHeadDim, kHeadDim);
  return ck;
}
convert::FloatCheckpoint without_ffn(convert::FloatCheckpoint ck, int l) {
  for (const char* t : {"ffn_down.weight", "ffn_down.bias"}) {
    auto& v = ck.tensors.at(format::layer_name(l, t)).values;
    std::fill(v.begin(), v.end(), 0.0f);
  }
  return ck;
}

// Largest |session - reference| over the real tokens' hidden states and over the logits.
double max_error(const Outputs& got, const testing::ReferenceOutputs& want, const Batch& batch) {
  double err = 0.0;
  for (int64_t t = 0; t < kBatch * kSeq; ++t) {
    if (!batch.mask[static_cast<size_t>(t)]) continue;
    for (int64_t i = 0; i < kHidden; ++i) {
      err = std::max(err, std::fabs(got.last_hidden_state[t * kHidden + i] - want.hidden[static_cast<size_t>(t * kHidden + i)]));
    }
  }
  for (int64_t i = 0; i < kBatch * kLabels; ++i) err = std::max(err, std::fabs(got.logits[i] - want.logits[static_cast<size_t>(i)]));
  return err;
}

std::vector<float> hidden_and_logits(const Outputs& o) {
  std::vector<float> v(o.last_hidden_state, o.last_hidden_state + o.batch * o.seq_len * o.hidden);
  v.insert(v.end(), o.logits, o.logits + o.batch * o.labels);
  return v;
}

constexpr double kTolerance = 1e-4;  // f32 kernels against double precision

TEST_CASE("reference encoder: agrees with the f32 session (the comparisons below rest on it)") {
  const auto ck = checkpoint();
  auto model = Model::load_from_memory(testing::f32_model_bytes(ck));
  REQUIRE(model.ok());
  auto session = Session::create(*model);
  REQUIRE(session.ok());
  Batch batch;
  Outputs out;
  REQUIRE((*session)->run(batch.inputs(), &out).ok());
  const auto want = testing::reference_forward(ck, kBatch, kSeq, batch.ids.data(), batch.mask.data(), batch.types.data());
  CHECK(max_error(out, want, batch) <= kTolerance);
}

TEST_CASE("head mask (f32): equals zero value rows and zero output columns in the reference, for every head") {
  const auto ck = checkpoint();
  auto model = Model::load_from_memory(testing::f32_model_bytes(ck));
  REQUIRE(model.ok());
  auto session = Session::create(*model);
  REQUIRE(session.ok());
  Batch batch;
  Outputs unmasked;
  REQUIRE((*session)->run(batch.inputs(), &unmasked).ok());
  const std::vector<float> baseline = hidden_and_logits(unmasked);
  for (int l = 0; l < 2; ++l) {
    for (int h = 0; h < kHeads; ++h) {
      CAPTURE(l);
      CAPTURE(h);
      REQUIRE((*session)->set_head_masked(l, h, true).ok());
      CHECK((*session)->head_masked(l, h));
      Outputs out;
      REQUIRE((*session)->run(batch.inputs(), &out).ok());
      const auto by_value = testing::reference_forward(without_value(ck, l, h), kBatch, kSeq, batch.ids.data(),
                                                       batch.mask.data(), batch.types.data());
      const auto by_columns = testing::reference_forward(without_out_columns(ck, l, h), kBatch, kSeq,
                                                         batch.ids.data(), batch.mask.data(), batch.types.data());
      CHECK(max_error(out, by_value, batch) <= kTolerance);
      CHECK(max_error(out, by_columns, batch) <= kTolerance);
      // The mask must matter: the masked output is far from the unmasked one.
      const std::vector<float> masked = hidden_and_logits(out);
      double change = 0.0;
      for (size_t i = 0; i < masked.size(); ++i) change = std::max(change, double(std::fabs(masked[i] - baseline[i])));
      CHECK(change > 100 * kTolerance);
      REQUIRE((*session)->set_head_masked(l, h, false).ok());
    }
  }
  // Several heads at once, in both layers.
  REQUIRE((*session)->set_head_masked(0, 1, true).ok());
  REQUIRE((*session)->set_head_masked(0, 2, true).ok());
  REQUIRE((*session)->set_head_masked(1, 3, true).ok());
  Outputs out;
  REQUIRE((*session)->run(batch.inputs(), &out).ok());
  const auto want = testing::reference_forward(without_value(without_value(without_out_columns(ck, 0, 1), 0, 2), 1, 3),
                                               kBatch, kSeq, batch.ids.data(), batch.mask.data(), batch.types.data());
  CHECK(max_error(out, want, batch) <= kTolerance);
  // Clearing restores the unmasked result exactly.
  (*session)->clear_ablation();
  REQUIRE((*session)->run(batch.inputs(), &out).ok());
  CHECK(hidden_and_logits(out) == baseline);
}

TEST_CASE("FFN bypass (f32): equals zero ffn_down weights and bias in the reference") {
  const auto ck = checkpoint();
  auto model = Model::load_from_memory(testing::f32_model_bytes(ck));
  REQUIRE(model.ok());
  auto session = Session::create(*model);
  REQUIRE(session.ok());
  Batch batch;
  for (int l = 0; l < 2; ++l) {
    CAPTURE(l);
    REQUIRE((*session)->set_ffn_bypassed(l, true).ok());
    CHECK((*session)->ffn_bypassed(l));
    Outputs out;
    REQUIRE((*session)->run(batch.inputs(), &out).ok());
    const auto want = testing::reference_forward(without_ffn(ck, l), kBatch, kSeq, batch.ids.data(), batch.mask.data(),
                                                 batch.types.data());
    CHECK(max_error(out, want, batch) <= kTolerance);
    const auto unbypassed = testing::reference_forward(ck, kBatch, kSeq, batch.ids.data(), batch.mask.data(),
                                                       batch.types.data());
    CHECK(max_error(out, unbypassed, batch) > 100 * kTolerance);
    REQUIRE((*session)->set_ffn_bypassed(l, false).ok());
  }
}

// int8: the masked run and the run of the same file with the head's int8 output-projection
// columns set to 0 do the same integer arithmetic (the masked context quantizes to the zero
// point, which the convolution subtracts), so they agree exactly.
TEST_CASE("head mask and FFN bypass (int8): bit-identical to zeroed int8 weights") {
  const auto ck = checkpoint();
  const convert::ModelContents contents = testing::int8_contents_for(ck);
  REQUIRE(!contents.tensors.empty());
  auto load = [](const convert::ModelContents& c) {
    auto bytes = convert::serialize_model(c);
    REQUIRE(bytes.ok());
    auto m = Model::load_from_memory(std::move(bytes).value());
    REQUIRE(m.ok());
    return m.value();
  };
  auto edited = [&](const std::string& name, const auto& edit) {
    convert::ModelContents c = contents;
    for (auto& t : c.tensors) {
      if (t.name == name) edit(t);
    }
    return load(c);
  };
  auto session = Session::create(load(contents));
  REQUIRE(session.ok());
  Batch batch;
  for (int l = 0; l < 2; ++l) {
    for (int h = 0; h < kHeads; ++h) {
      CAPTURE(l);
      CAPTURE(h);
      auto zeroed = edited(format::layer_name(l, "attn_out.weight"), [&](convert::TensorData& t) {
        for (int64_t r = 0; r < kHidden; ++r) std::memset(t.bytes.data() + r * kHidden + h * kHeadDim, 0, kHeadDim);
      });
      auto plain = Session::create(zeroed);
      REQUIRE(plain.ok());
      Outputs want, got;
      REQUIRE((*plain)->run(batch.inputs(), &want).ok());
      const std::vector<float> expected = hidden_and_logits(want);
      REQUIRE((*session)->set_head_masked(l, h, true).ok());
      REQUIRE((*session)->run(batch.inputs(), &got).ok());
      CHECK(hidden_and_logits(got) == expected);
      REQUIRE((*session)->set_head_masked(l, h, false).ok());
    }
    CAPTURE(l);
    auto zeroed = load([&] {
      convert::ModelContents c = contents;
      for (auto& t : c.tensors) {
        if (t.name == format::layer_name(l, "ffn_down.weight") || t.name == format::layer_name(l, "ffn_down.bias")) {
          std::fill(t.bytes.begin(), t.bytes.end(), uint8_t{0});
        }
      }
      return c;
    }());
    auto plain = Session::create(zeroed);
    REQUIRE(plain.ok());
    Outputs want, got;
    REQUIRE((*plain)->run(batch.inputs(), &want).ok());
    const std::vector<float> expected = hidden_and_logits(want);
    REQUIRE((*session)->set_ffn_bypassed(l, true).ok());
    REQUIRE((*session)->run(batch.inputs(), &got).ok());
    CHECK(hidden_and_logits(got) == expected);
    REQUIRE((*session)->set_ffn_bypassed(l, false).ok());
  }
}

TEST_CASE("ablation switches: no allocation when toggled, identical results when off, bad indices refused") {
  auto model = Model::load_from_memory(testing::int8_model_bytes(checkpoint()));
  REQUIRE(model.ok());
  auto session = Session::create(*model);
  auto reference = Session::create(*model);
  REQUIRE(session.ok());
  REQUIRE(reference.ok());
  Batch batch;
  Outputs out, ref;
  REQUIRE((*reference)->run(batch.inputs(), &ref).ok());
  REQUIRE((*session)->run(batch.inputs(), &out).ok());
  const uint64_t bytes = (*session)->activation_bytes();
  for (int round = 0; round < 3; ++round) {
    REQUIRE((*session)->set_head_masked(round % 2, round, true).ok());
    REQUIRE((*session)->set_ffn_bypassed(1 - round % 2, true).ok());
    REQUIRE((*session)->run(batch.inputs(), &out).ok());
    CHECK((*session)->activation_bytes() == bytes);
    (*session)->clear_ablation();
    REQUIRE((*session)->run(batch.inputs(), &out).ok());
    CHECK(hidden_and_logits(out) == hidden_and_logits(ref));
  }
  CHECK((*session)->set_head_masked(2, 0, true).code() == StatusCode::kInvalidArgument);
  CHECK((*session)->set_head_masked(-1, 0, true).code() == StatusCode::kInvalidArgument);
  const Status st = (*session)->set_head_masked(1, 4, true);
  CHECK(st.code() == StatusCode::kInvalidArgument);
  CHECK(st.message().find("layer 1 has 4 heads") != std::string::npos);
  CHECK((*session)->set_ffn_bypassed(5, true).code() == StatusCode::kInvalidArgument);
  CHECK_FALSE((*session)->head_masked(9, 9));
  CHECK_FALSE((*session)->ffn_bypassed(-3));
}

TEST_CASE("attention probabilities: the reference softmax per layer and head, zeros for a masked head") {
  const auto ck = checkpoint();
  auto model = Model::load_from_memory(testing::f32_model_bytes(ck));
  REQUIRE(model.ok());
  SessionOptions with;
  with.attention_probabilities = true;
  with.threads = 2;
  auto session = Session::create(*model, with);
  auto plain = Session::create(*model);
  REQUIRE(session.ok());
  REQUIRE(plain.ok());
  CHECK((*session)->attention_probabilities(0) == nullptr);  // before any run
  Batch batch;
  Outputs out, out_plain;
  REQUIRE((*session)->run(batch.inputs(), &out).ok());
  const std::vector<float> first = hidden_and_logits(out);
  REQUIRE((*plain)->run(batch.inputs(), &out_plain).ok());
  CHECK(max_error(out, testing::reference_forward(ck, kBatch, kSeq, batch.ids.data(), batch.mask.data(),
                                                  batch.types.data()), batch) <= kTolerance);
  CHECK((*plain)->attention_probabilities(0) == nullptr);
  CHECK((*session)->attention_probabilities(2) == nullptr);
  CHECK((*session)->activation_bytes() > (*plain)->activation_bytes());

  const auto want = testing::reference_forward(ck, kBatch, kSeq, batch.ids.data(), batch.mask.data(), batch.types.data());
  for (int l = 0; l < 2; ++l) {
    const float* p = (*session)->attention_probabilities(l);
    REQUIRE(p != nullptr);
    double err = 0.0;
    // Query rows of real tokens match the reference; a sequence's rows and columns after its
    // last unmasked token are not computed and must be zero.
    bool rest_zero = true;
    for (int64_t b = 0; b < kBatch; ++b) {
      int64_t length = 0;
      for (int64_t s = 0; s < kSeq; ++s) length = batch.mask[static_cast<size_t>(b * kSeq + s)] ? s + 1 : length;
      for (int64_t h = 0; h < kHeads; ++h) {
        for (int64_t i = 0; i < kSeq; ++i) {
          for (int64_t j = 0; j < kSeq; ++j) {
            const size_t at = static_cast<size_t>(((b * kHeads + h) * kSeq + i) * kSeq + j);
            if (i < length && j < length) {
              err = std::max(err, std::fabs(p[at] - want.attention[static_cast<size_t>(l)][at]));
            } else {
              rest_zero &= p[at] == 0.0f;
            }
          }
        }
      }
    }
    CAPTURE(l);
    CHECK(err <= 1e-5);
    CHECK(rest_zero);
    // The second sequence's padded keys (positions 5..8) get nothing.
    for (int64_t h = 0; h < kHeads; ++h) {
      for (int64_t i = 0; i < kSeq; ++i) {
        for (int64_t j = 5; j < kSeq; ++j) REQUIRE(p[((1 * kHeads + h) * kSeq + i) * kSeq + j] == 0.0f);
      }
    }
  }
  // A masked head's block is all zeros; the others are unchanged in layer 0.
  std::vector<float> layer0((*session)->attention_probabilities(0),
                            (*session)->attention_probabilities(0) + kBatch * kHeads * kSeq * kSeq);
  REQUIRE((*session)->set_head_masked(0, 2, true).ok());
  REQUIRE((*session)->run(batch.inputs(), &out).ok());
  const float* p = (*session)->attention_probabilities(0);
  for (int64_t b = 0; b < kBatch; ++b) {
    for (int64_t h = 0; h < kHeads; ++h) {
      const int64_t at = (b * kHeads + h) * kSeq * kSeq;
      bool zero = true, same = true;
      for (int64_t i = 0; i < kSeq * kSeq; ++i) {
        zero &= p[at + i] == 0.0f;
        same &= p[at + i] == layer0[static_cast<size_t>(at + i)];
      }
      CAPTURE(h);
      CHECK((h == 2 ? zero : same));
    }
  }
  // A smaller run afterwards reads its own shape.
  Inputs one{1, 4, batch.ids.data(), nullptr, nullptr};
  (*session)->clear_ablation();
  REQUIRE((*session)->run(one, &out).ok());
  const auto want_one = testing::reference_forward(ck, 1, 4, batch.ids.data(), nullptr, nullptr);
  double err = 0.0;
  for (size_t i = 0; i < want_one.attention[1].size(); ++i) {
    err = std::max(err, std::fabs((*session)->attention_probabilities(1)[i] - want_one.attention[1][i]));
  }
  CHECK(err <= 1e-5);
  // Keeping probabilities changes no output.
  REQUIRE((*session)->run(batch.inputs(), &out).ok());
  CHECK(hidden_and_logits(out) == first);
  const std::vector<float> without = hidden_and_logits(out_plain);
  double diff = 0.0;  // two threads against one: the same arithmetic, split differently
  for (size_t i = 0; i < first.size(); ++i) diff = std::max(diff, double(std::fabs(first[i] - without[i])));
  CHECK(diff <= 1e-6);
}

}  // namespace
}  // namespace encore
