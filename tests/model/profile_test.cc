// Session profiling: the records' structure, their coverage of the run, and "off" recording nothing.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <vector>

#include "encore/session.h"
#include "kernels/gemm.h"
#include "support/tiny_model.h"

namespace encore {
namespace {

std::shared_ptr<const Model> model_for(bool int8) {
  auto cfg = testing::tiny_config();
  cfg.labels = {"a", "b"};
  auto ck = testing::random_checkpoint(cfg, 5);
  auto m = Model::load_from_memory(int8 ? testing::int8_model_bytes(ck) : testing::f32_model_bytes(ck));
  REQUIRE(m.ok());
  return m.value();
}

// The same steps for both models: the int8 GEMM inputs are quantized by the step before each
// GEMM (the LayerNorm pass or attention), not in steps of their own.
std::vector<ProfileStep> expected_layer_steps() {
  using P = ProfileStep;
  return {P::kQkvProjection, P::kAttention, P::kOutputProjection, P::kAttnResidualNorm,
          P::kFfnUp, P::kActivation, P::kFfnDown, P::kFfnResidualNorm};
}

// What the default (Int8Gemm::kAuto) runs a linear layer on: encore's own GEMM for an int8
// encoder layer on CPUs with int8 instructions Debian's XNNPACK leaves idle, XNNPACK otherwise
// (and always for the f32 pooler and classifier).
std::string linear_kernel_prefix(bool int8_layer) {
  const Qs8GemmKernel best = qs8_gemm_best_kernel();
  if (int8_layer && qs8_gemm_beats_xnnpack(best)) return qs8_gemm_kernel_name(best);
  return "xnnpack";
}

void check_profile(bool int8, int threads) {
  auto model = model_for(int8);
  SessionOptions o;
  o.profile = true;
  o.threads = threads;
  auto s = Session::create(model, o);
  REQUIRE(s.ok());
  const int64_t B = 2, S = 9;
  std::vector<int32_t> ids(B * S);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(1 + i % 40);
  Inputs in{B, S, ids.data(), nullptr, nullptr};
  Outputs out;
  for (int run = 0; run < 3; ++run) {  // records are replaced each run, not appended
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE((*s)->run(in, &out).ok());
    const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
    const auto& rec = (*s)->profile();

    // Order: embeddings, each layer's steps, pooler, classifier.
    std::vector<std::pair<int, ProfileStep>> want = {{-1, ProfileStep::kEmbeddings}};
    const int layers = model->config().layer_count;
    for (int l = 0; l < layers; ++l)
      for (ProfileStep st : expected_layer_steps()) want.push_back({l, st});
    want.push_back({-1, ProfileStep::kPooler});
    want.push_back({-1, ProfileStep::kClassifier});
    REQUIRE(rec.size() == want.size());
    uint64_t sum = 0, prev_end = 0;
    for (size_t i = 0; i < rec.size(); ++i) {
      INFO("record " << i << ": " << profile_step_name(rec[i].step) << " on " << rec[i].kernel);
      CHECK(rec[i].layer == want[i].first);
      CHECK(rec[i].step == want[i].second);
      CHECK(rec[i].kernel[0] != '\0');
      CHECK(rec[i].operations > 0);
      CHECK(rec[i].bytes > 0);
      CHECK(rec[i].start_ns >= prev_end);  // steps are sequential and do not overlap
      prev_end = rec[i].start_ns + rec[i].duration_ns;
      sum += rec[i].duration_ns;
      if (profile_step_is_linear(rec[i].step)) {
        CHECK(std::string(rec[i].kernel).rfind(linear_kernel_prefix(int8 && rec[i].layer >= 0), 0) == 0);
      }
    }
    // The steps cover the run: their sum cannot exceed the wall time around run().
    CHECK(sum <= static_cast<uint64_t>(wall.count()));
    CHECK(prev_end <= static_cast<uint64_t>(wall.count()));
    // GEMM operation counts are exact: 2 * tokens * out * in.
    const uint64_t M = B * S, H = model->config().hidden_size;
    CHECK(rec[1].operations == 2 * M * 3 * H * H);  // layer 0 qkv
  }
}

TEST_CASE("profile: int8 and f32 records, one and two threads") {
  check_profile(true, 1);
  check_profile(false, 1);
  check_profile(true, 2);
}

TEST_CASE("profile: off by default records nothing") {
  auto s = Session::create(model_for(true));
  REQUIRE(s.ok());
  std::vector<int32_t> ids = {1, 2, 3};
  Inputs in{1, 3, ids.data(), nullptr, nullptr};
  Outputs out;
  REQUIRE((*s)->run(in, &out).ok());
  CHECK((*s)->profile().empty());
}

TEST_CASE("profile: names for every step") {
  for (int i = 0; i < kProfileStepCount; ++i) {
    CHECK(std::string(profile_step_name(static_cast<ProfileStep>(i))) != "unknown");
  }
  CHECK(profile_step_is_linear(ProfileStep::kFfnDown));
  CHECK_FALSE(profile_step_is_linear(ProfileStep::kAttention));
}

}  // namespace
}  // namespace encore
