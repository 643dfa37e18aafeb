// Session plumbing on small random models: input validation, padding, threads, shapes.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

#include "encore/session.h"
#include "support/tiny_model.h"

namespace encore {
namespace {

std::shared_ptr<const Model> tiny_model(bool int8, std::vector<std::string> labels = {"a", "b", "c"}) {
  auto cfg = testing::tiny_config();
  cfg.labels = std::move(labels);
  auto ck = testing::random_checkpoint(cfg, 11);
  auto m = Model::load_from_memory(int8 ? testing::int8_model_bytes(ck) : testing::f32_model_bytes(ck));
  REQUIRE(m.ok());
  return m.value();
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_CASE("session: invalid inputs give errors, not crashes") {
  auto session = Session::create(tiny_model(true));
  REQUIRE(session.ok());
  std::vector<int32_t> ids = {1, 2, 3, 4};
  Inputs in;
  in.seq_len = 4;
  in.input_ids = ids.data();
  Outputs out;
  REQUIRE((*session)->run(in, &out).ok());

  ids[2] = 50;
  Status st = (*session)->run(in, &out);
  CHECK(st.code() == StatusCode::kOutOfRange);
  CHECK(contains(st.message(), "input_ids[0][2] = 50 is outside the vocabulary [0, 50)"));
  ids[2] = -1;
  CHECK((*session)->run(in, &out).code() == StatusCode::kOutOfRange);
  ids[2] = 3;

  std::vector<int32_t> mask = {1, 1, 2, 0};
  in.attention_mask = mask.data();
  CHECK(contains((*session)->run(in, &out).message(), "must be 0 or 1"));
  in.attention_mask = nullptr;

  std::vector<int32_t> types = {0, 1, 2, 0};
  in.token_type_ids = types.data();
  CHECK(contains((*session)->run(in, &out).message(), "token_type_ids[0][2] = 2"));
  in.token_type_ids = nullptr;

  in.seq_len = 0;
  CHECK((*session)->run(in, &out).code() == StatusCode::kInvalidArgument);
  std::vector<int32_t> long_ids(17, 1);
  in.input_ids = long_ids.data();
  in.seq_len = 17;
  st = (*session)->run(in, &out);
  CHECK(st.code() == StatusCode::kOutOfRange);
  CHECK(contains(st.message(), "exceeds the model's maximum of 16"));
  in.input_ids = nullptr;
  in.seq_len = 2;
  CHECK((*session)->run(in, &out).code() == StatusCode::kInvalidArgument);
  CHECK((*session)->run(in, nullptr).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("session: options are checked") {
  SessionOptions o;
  o.threads = 0;
  CHECK_FALSE(Session::create(tiny_model(false), o).ok());
  CHECK_FALSE(Session::create(nullptr).ok());
}

// The padded rows of a batch must give, on their real tokens, what each sequence gives alone
// (padding is packed away, and every step is row-independent); trailing padding is zero.
// Bit for bit where the math is integer (the int8 model's hidden states). Float GEMMs agree only
// to rounding: XNNPACK may pick another microkernel for a one-row GEMM (its Cortex-A72 config
// does), which sums in another order; the pooler/classifier run on B rows batched, 1 alone.
void check_padding_matches_alone(bool int8) {
  auto model = tiny_model(int8);
  auto session = Session::create(model);
  REQUIRE(session.ok());
  const int64_t B = 3, S = 12, H = 32;
  const int64_t lengths[B] = {12, 5, 1};
  std::mt19937 rng(5);
  std::vector<int32_t> ids(B * S, 0), mask(B * S, 0), types(B * S, 0);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t s = 0; s < lengths[b]; ++s) {
      ids[b * S + s] = static_cast<int32_t>(rng() % 50);
      mask[b * S + s] = 1;
      types[b * S + s] = s >= lengths[b] / 2 ? 1 : 0;
    }
  }
  Inputs in{B, S, ids.data(), mask.data(), types.data()};
  Outputs out;
  REQUIRE((*session)->run(in, &out).ok());
  std::vector<float> batched(out.last_hidden_state, out.last_hidden_state + B * S * H);
  std::vector<float> batched_logits(out.logits, out.logits + B * 3);
  for (int64_t b = 0; b < B; ++b) {
    Inputs alone{1, lengths[b], ids.data() + b * S, nullptr, types.data() + b * S};
    Outputs o;
    REQUIRE((*session)->run(alone, &o).ok());
    float hidden_diff = 0.0f, logits_diff = 0.0f;
    for (int64_t i = 0; i < lengths[b] * H; ++i) {
      hidden_diff = std::max(hidden_diff, std::fabs(o.last_hidden_state[i] - batched[b * S * H + i]));
    }
    for (int64_t i = 0; i < 3; ++i) logits_diff = std::max(logits_diff, std::fabs(o.logits[i] - batched_logits[b * 3 + i]));
    int nonzero_padding = 0;
    for (int64_t i = lengths[b] * H; i < S * H; ++i) nonzero_padding += batched[b * S * H + i] != 0.0f;
    CAPTURE(b);
    if (int8) {
      CHECK(hidden_diff == 0.0f);
    } else {
      CHECK(hidden_diff <= 1e-5f);  // LayerNorm outputs, magnitude ~1: a few ulp
    }
    CHECK(logits_diff <= 1e-5f);
    CHECK(nonzero_padding == 0);
  }
}

TEST_CASE("session: padded batch equals each sequence alone (f32)") { check_padding_matches_alone(false); }
TEST_CASE("session: padded batch equals each sequence alone (int8)") { check_padding_matches_alone(true); }

TEST_CASE("session: two threads give the one-thread result, shapes vary without reload") {
  for (bool int8 : {false, true}) {
    auto model = tiny_model(int8);
    SessionOptions two;
    two.threads = 2;
    auto s1 = Session::create(model);
    auto s2 = Session::create(model, two);
    REQUIRE(s1.ok());
    REQUIRE(s2.ok());
    std::mt19937 rng(9);
    for (auto [B, S] : {std::pair<int64_t, int64_t>{1, 1}, {2, 16}, {4, 7}, {1, 13}, {3, 16}}) {
      std::vector<int32_t> ids(static_cast<size_t>(B * S));
      for (auto& id : ids) id = static_cast<int32_t>(rng() % 50);
      Inputs in{B, S, ids.data(), nullptr, nullptr};
      Outputs a, b;
      REQUIRE((*s1)->run(in, &a).ok());
      std::vector<float> first(a.last_hidden_state, a.last_hidden_state + B * S * 32);
      REQUIRE((*s2)->run(in, &b).ok());
      float max_diff = 0.0f;
      for (size_t i = 0; i < first.size(); ++i) max_diff = std::max(max_diff, std::fabs(first[i] - b.last_hidden_state[i]));
      CAPTURE(int8);
      CAPTURE(B);
      CAPTURE(S);
      CHECK(max_diff <= 1e-6f);
      CHECK(b.batch == B);
      CHECK(b.seq_len == S);
      for (size_t i = 0; i < first.size(); ++i) REQUIRE(std::isfinite(first[i]));
    }
  }
}

// Every int8 GEMM choice requantizes as XNNPACK does, so whole runs agree bit for bit.
TEST_CASE("session: int8 runs give the same bits on encore's own GEMM and on XNNPACK") {
  auto model = tiny_model(true);
  SessionOptions xnn, own;
  xnn.int8_gemm = Int8Gemm::kXnnpack;
  own.int8_gemm = Int8Gemm::kOwn;
  xnn.threads = own.threads = 2;
  own.profile = true;
  auto a = Session::create(model, xnn);
  auto b = Session::create(model, own);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  std::mt19937 rng(21);
  for (auto [B, S] : {std::pair<int64_t, int64_t>{1, 1}, {2, 16}, {3, 7}, {1, 13}}) {
    std::vector<int32_t> ids(static_cast<size_t>(B * S));
    for (auto& id : ids) id = static_cast<int32_t>(rng() % 50);
    Inputs in{B, S, ids.data(), nullptr, nullptr};
    Outputs x, y;
    REQUIRE((*a)->run(in, &x).ok());
    std::vector<float> hidden(x.last_hidden_state, x.last_hidden_state + B * S * 32);
    std::vector<float> logits(x.logits, x.logits + B * 3);
    REQUIRE((*b)->run(in, &y).ok());
    int differ = 0;
    for (size_t i = 0; i < hidden.size(); ++i) differ += hidden[i] != y.last_hidden_state[i];
    for (size_t i = 0; i < logits.size(); ++i) differ += logits[i] != y.logits[i];
    CAPTURE(B);
    CAPTURE(S);
    CHECK(differ == 0);
  }
  // The profile names the kernel that ran.
  bool named = false;
  for (const auto& r : (*b)->profile()) named |= std::string(r.kernel).rfind("encore qs8 gemm", 0) == 0;
  CHECK(named);
}

TEST_CASE("session: an observer is refused for int8 models") {
  struct Null : ActivationObserver {
    void observe(std::string_view, const float*, size_t, size_t, size_t) override {}
  } observer;
  SessionOptions o;
  o.observer = &observer;
  CHECK(Session::create(tiny_model(true), o).status().code() == StatusCode::kInvalidArgument);
  CHECK(Session::create(tiny_model(false), o).ok());
}

TEST_CASE("session: an operator that cannot be created names its layer and projection") {
  // An output scale so small that the requantization scale leaves XNNPACK's range [2^-32, 256).
  auto contents = testing::int8_contents_for(testing::random_checkpoint(testing::tiny_config(), 3));
  bool edited = false;
  for (auto& a : contents.activations) {
    if (a.name == "layer.1.attn_out.output") a.scale = 1e-30f, edited = true;
  }
  REQUIRE(edited);
  auto bytes = convert::serialize_model(contents);
  REQUIRE(bytes.ok());
  auto model = Model::load_from_memory(std::move(bytes).value());
  REQUIRE(model.ok());
  for (Int8Gemm gemm : {Int8Gemm::kAuto, Int8Gemm::kXnnpack}) {
    SessionOptions o;
    o.int8_gemm = gemm;
    auto s = Session::create(model.value(), o);
    REQUIRE_FALSE(s.ok());
    CAPTURE(s.status().message());
    CHECK(s.status().code() == StatusCode::kUnsupported);
    CHECK(s.status().message().rfind("layer 1 attn_out: requantization scale ", 0) == 0);
  }
}

TEST_CASE("session: the observer sees every activation point in order, and no FFN point of a bypassed FFN") {
  struct Names : ActivationObserver {
    std::vector<std::string> seen;
    std::vector<size_t> rows;
    void observe(std::string_view name, const float*, size_t r, size_t, size_t) override {
      seen.emplace_back(name);
      rows.push_back(r);
    }
  } observer;
  SessionOptions o;
  o.observer = &observer;
  auto s = Session::create(tiny_model(false), o);
  REQUIRE(s.ok());
  REQUIRE((*s)->set_ffn_bypassed(1, true).ok());
  std::vector<int32_t> ids = {1, 2, 3, 4, 5, 0, 0, 7, 8, 9, 0, 0};
  std::vector<int32_t> mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  Inputs in{2, 6, ids.data(), mask.data(), nullptr};
  Outputs out;
  REQUIRE((*s)->run(in, &out).ok());
  const std::vector<std::string> layer0 = {"qkv.input",      "q.output",     "k.output",      "v.output",
                                           "attn_out.input", "attn_out.output", "ffn_up.input", "ffn_up.output",
                                           "ffn_down.input", "ffn_down.output"};
  std::vector<std::string> want;
  for (const auto& p : layer0) want.push_back("layer.0." + p);
  for (size_t i = 0; i < 6; ++i) want.push_back("layer.1." + layer0[i]);  // FFN bypassed
  CHECK(observer.seen == want);
  // Rows are the packed real tokens: 6 of the first sequence, 4 of the second (up to its last
  // unmasked token).
  for (size_t r : observer.rows) CHECK(r == 10);
}

}  // namespace
}  // namespace encore
