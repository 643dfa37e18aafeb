// The heads of every family against PyTorch: token classification, question answering and
// fill-mask (per-token logits), and sequence classifiers with a problem_type (multi-label,
// one-label regression). Fixtures and goldens from tools/reference/heads.py (PyTorch, written
// from Hugging Face's modeling files, not from encore).
//
// f32: the logits within 1e-4 of their scale (max |golden|, at least 1) on the real tokens, zero
// on trailing padding. int8: cosine of the logits against PyTorch float (per real token; for QA
// per sequence over its start and its end logits), mean >= kMinCosine; token classification's
// argmax as float's wherever float's top-2 margin is clear (5% of the logit scale); fill-mask's
// top-1 likewise and its top-5 overlap reported.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "golden_util.h"

namespace encore {
namespace {

using e2e::convert_fixture;
using e2e::fixture;
using e2e::npy;
using e2e::Run;
using e2e::run_inputs;
using e2e::TempDir;

// Length of sequence b up to its last unmasked token.
int64_t real_length(const Run& r, int64_t b) {
  const int64_t S = r.out.seq_len;
  int64_t n = S;
  while (n > 0 && r.mask.ints[static_cast<size_t>(b * S + n - 1)] == 0) --n;
  return n;
}

// The rows of real tokens (mask 1) of a [B, S, W] output.
template <typename F>
void for_real_tokens(const Run& r, F&& f) {
  const int64_t S = r.out.seq_len;
  for (int64_t b = 0; b < r.out.batch; ++b) {
    for (int64_t p = 0; p < S; ++p) {
      if (r.mask.ints[static_cast<size_t>(b * S + p)] != 0) f(b * S + p);
    }
  }
}

struct Expected {
  HeadKind head;
  int64_t width;
};

Expected expected(const std::string& name) {
  if (name.find("_token") != std::string::npos) return {HeadKind::kTokenClassification, 5};
  if (name.find("_qa") != std::string::npos) return {HeadKind::kQuestionAnswering, 2};
  return {HeadKind::kMaskedLm, 160};
}

void check_f32(const std::string& name) {
  TempDir tmp;
  auto model = convert_fixture(name, false, tmp);
  const std::string dir = fixture(name);
  const Expected x = expected(name);
  CHECK(model->config().head == x.head);
  Run r;
  run_inputs(model, dir, "", &r);
  CHECK(r.out.logits == nullptr);
  CHECK(r.out.pooler_output == nullptr);  // the head classes have no pooler (add_pooling_layer=False)
  REQUIRE(r.out.token_logits != nullptr);
  REQUIRE(r.out.token_logit_width == x.width);
  auto want = npy(dir + "/logits.npy");
  REQUIRE(want.floats.size() == static_cast<size_t>(r.out.batch * r.out.seq_len * x.width));
  float scale = 1.0f, err = 0.0f;
  for (float v : want.floats) scale = std::max(scale, std::fabs(v));
  const int64_t S = r.out.seq_len, W = x.width;
  for (int64_t b = 0; b < r.out.batch; ++b) {
    const int64_t length = real_length(r, b);
    for (int64_t p = 0; p < S; ++p) {
      for (int64_t i = 0; i < W; ++i) {
        const size_t at = static_cast<size_t>((b * S + p) * W + i);
        if (p < length) {
          err = std::max(err, std::fabs(r.out.token_logits[at] - want.floats[at]));
        } else {
          CHECK(r.out.token_logits[at] == 0.0f);
        }
      }
    }
  }
  MESSAGE(name << " f32: logits [" << r.out.batch << ", " << S << ", " << W << "] error " << err / scale
               << " of their scale " << scale);
  CHECK(err / scale <= 1e-4f);
}

// Index of the largest and the margin to the second.
std::pair<int64_t, float> top(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) best = v[i] > v[best] ? i : best;
  float second = -INFINITY;
  for (int64_t i = 0; i < n; ++i) second = i == best ? second : std::max(second, v[i]);
  return {best, v[best] - second};
}

std::vector<int64_t> top_k(const float* v, int64_t n, int64_t k) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) { return v[a] > v[b]; });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

// The fixtures are random one-layer encoders with random heads of gain 2 (logit scales 5-15),
// calibrated on 64 random sequences. Measured mean cosines: 0.9995-0.9999 for every fixture but
// heads_distilbert_qa (0.9981; with 16 calibration sequences several fell to 0.998-0.992), so
// the bound is 0.998. A margin of 5% of the logit scale counts as clear.
constexpr double kMinCosine = 0.998;

void check_int8(const std::string& name) {
  TempDir tmp;
  auto model = convert_fixture(name, true, tmp);
  const std::string dir = fixture(name);
  const Expected x = expected(name);
  Run r;
  run_inputs(model, dir, "", &r);
  REQUIRE(r.out.token_logits != nullptr);
  auto want = npy(dir + "/logits.npy");
  const int64_t W = x.width;
  std::vector<double> cos;
  int decided = 0, decided_agree = 0, top5_overlap = 0, tokens = 0;
  float scale = 1.0f;
  for (float v : want.floats) scale = std::max(scale, std::fabs(v));
  if (x.head == HeadKind::kQuestionAnswering) {
    // What the span softmax reads: each sequence's start (and end) logits over its real tokens.
    const int64_t S = r.out.seq_len;
    for (int64_t b = 0; b < r.out.batch; ++b) {
      for (int64_t k = 0; k < 2; ++k) {
        double dot = 0, na = 0, nb = 0;
        for (int64_t p = 0; p < S; ++p) {
          if (r.mask.ints[static_cast<size_t>(b * S + p)] == 0) continue;
          const double a = r.out.token_logits[(b * S + p) * 2 + k], w = want.floats[static_cast<size_t>((b * S + p) * 2 + k)];
          dot += a * w;
          na += a * a;
          nb += w * w;
        }
        cos.push_back(dot / std::sqrt(na * nb));
      }
    }
  }
  for_real_tokens(r, [&](int64_t t) {
    const float* a = r.out.token_logits + t * W;
    const float* b = want.floats.data() + t * W;
    double dot = 0, na = 0, nb = 0;
    for (int64_t i = 0; i < W; ++i) {
      dot += double(a[i]) * b[i];
      na += double(a[i]) * a[i];
      nb += double(b[i]) * b[i];
    }
    if (x.head == HeadKind::kQuestionAnswering) return;
    cos.push_back(dot / std::sqrt(na * nb));
    ++tokens;
    const auto [best, margin] = top(b, W);
    if (margin >= 0.05f * scale) {
      ++decided;
      decided_agree += top(a, W).first == best;
    }
    if (x.head == HeadKind::kMaskedLm) {
      const auto ka = top_k(a, W, 5), kb = top_k(b, W, 5);
      for (int64_t i : ka) top5_overlap += std::count(kb.begin(), kb.end(), i) > 0;
    }
  });
  const double mean = std::accumulate(cos.begin(), cos.end(), 0.0) / double(cos.size());
  const double min = *std::min_element(cos.begin(), cos.end());
  MESSAGE(name << " int8: cosine of the logits vs PyTorch float over " << cos.size()
               << std::string(x.head == HeadKind::kQuestionAnswering ? " start / end vectors of the sequences" : " tokens")
               << ": mean " << mean << ", min " << min);
  CHECK(mean >= kMinCosine);
  if (x.head != HeadKind::kQuestionAnswering) {
    MESSAGE(name << " int8: argmax as float's on " << decided_agree << "/" << decided
                 << " tokens with a float top-2 margin of 5% of the logit scale (" << 0.05f * scale << ") or more");
    CHECK(decided_agree == decided);
  }
  if (x.head == HeadKind::kMaskedLm) {
    MESSAGE(name << " int8: top-5 overlap with float's " << top5_overlap << "/" << 5 * tokens);
  }
}

const char* const kHeadFixtures[] = {
    "heads_bert_token",        "heads_bert_qa",         "heads_bert_mlm",         "heads_distilbert_token",
    "heads_distilbert_qa",     "heads_distilbert_mlm",  "heads_roberta_token",    "heads_roberta_qa",
    "heads_roberta_mlm",       "heads_xlmroberta_token", "heads_xlmroberta_qa",   "heads_xlmroberta_mlm",
    "heads_camembert_token",   "heads_camembert_qa",    "heads_camembert_mlm",    "heads_electra_token",
    "heads_electra_qa",        "heads_electra_mlm"};

TEST_CASE("heads f32: token classification, QA and fill-mask of every family match PyTorch") {
  for (const char* name : kHeadFixtures) {
    CAPTURE(name);
    check_f32(name);
  }
}

TEST_CASE("heads int8: token classification, QA and fill-mask of every family") {
  for (const char* name : kHeadFixtures) {
    CAPTURE(name);
    check_int8(name);
  }
}

// Sequence classifiers read by problem_type: the logits match PyTorch in f32 (int8 in cosine),
// and the model stores how to read them.
TEST_CASE("heads: multi-label and regression sequence classifiers") {
  for (const auto& [name, problem, labels] :
       {std::tuple{"heads_bert_multilabel", ProblemType::kMultiLabel, 3},
        std::tuple{"heads_roberta_regression", ProblemType::kRegression, 1}}) {
    CAPTURE(name);
    for (bool int8 : {false, true}) {
      TempDir tmp;
      auto model = convert_fixture(name, int8, tmp);
      CHECK(model->config().problem_type == problem);
      CHECK(model->config().has_classifier());
      Run r;
      run_inputs(model, fixture(name), "", &r);
      REQUIRE(r.out.logits != nullptr);
      REQUIRE(r.out.labels == labels);
      CHECK(r.out.token_logits == nullptr);
      auto want = npy(fixture(name) + "/logits.npy");
      float err = 0.0f, scale = 1.0f;
      for (size_t i = 0; i < want.floats.size(); ++i) {
        err = std::max(err, std::fabs(r.out.logits[i] - want.floats[i]));
        scale = std::max(scale, std::fabs(want.floats[i]));
      }
 MESSAGE(std::string(name) << std::string(int8 ? " int8" : " f32") << ": logits error " << err / scale << " of their scale " << scale);
      // int8: the random pooler and gain-2 classifier amplify the encoder's int8 error (measured
      // 0.03-0.05 of the scale); the f32 bound is the real check of the head.
      CHECK(err / scale <= (int8 ? 0.1f : 1e-4f));
    }
  }
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

// encore-convert --head base: the encoder of a task checkpoint alone, as AutoModel loads it.
// BERT's MLM fixture also holds pooler weights, so the base model has BertModel's pooler. The
// encoder is the same computation: last_hidden_state equals the fill-mask model's, bit for bit.
TEST_CASE("heads: --head base converts the encoder of a fill-mask checkpoint alone") {
  TempDir tmp;
  auto full = convert_fixture("heads_bert_mlm", false, tmp);
  convert::ConvertOptions o;
  o.model_dir = fixture("heads_bert_mlm");
  o.output = (tmp.path / "base.encore").string();
  o.int8 = false;
  o.base_only = true;
  std::ostringstream out, err;
  REQUIRE(convert::convert_model(o, out, err).ok());
  CHECK(out.str().find("cls.predictions") != std::string::npos);  // listed as skipped
  auto base = Model::load(o.output);
  REQUIRE(base.ok());
  CHECK((*base)->config().head == HeadKind::kPooled);
  CHECK_FALSE((*base)->config().has_classifier());
  Run a, b;
  run_inputs(full, fixture("heads_bert_mlm"), "", &a);
  run_inputs(*base, fixture("heads_bert_mlm"), "", &b);
  CHECK(b.out.token_logits == nullptr);
  CHECK(b.out.pooler_output != nullptr);
  const size_t n = static_cast<size_t>(a.out.batch * a.out.seq_len * a.out.hidden);
  REQUIRE(b.out.batch * b.out.seq_len * b.out.hidden == static_cast<int64_t>(n));
  CHECK(std::equal(a.out.last_hidden_state, a.out.last_hidden_state + n, b.out.last_hidden_state));
}

}  // namespace
}  // namespace encore
