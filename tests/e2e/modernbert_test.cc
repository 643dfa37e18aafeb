// ModernBERT against PyTorch: tiny Hugging Face directories (model_type modernbert) and goldens
// from tools/reference/modernbert.py, a PyTorch ModernBERT written from Hugging Face's
// modeling_modernbert.py (eager attention, padding masked), not from encore.
//
// modernbert_base has global layers 0 and 3 and local layers 1, 2, 4 with a 16-token window;
// its long_ set (160 tokens, one row padded to 130) is ten windows long, where the window
// changes every output (by up to 5.95 against global attention everywhere, the reference
// measures). f32: within 1e-4 of the output's scale; int8: per-token cosine mean >= 0.999.
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

// Max abs error over each sequence's tokens up to its last unmasked one of a [B, S, width]
// output, relative to the golden's scale (at least 1); later positions must be zero.
float token_error(const Run& r, const float* got, const std::vector<float>& want, int64_t width) {
  const int64_t S = r.out.seq_len;
  REQUIRE(want.size() == static_cast<size_t>(r.out.batch * S * width));
  float err = 0.0f, scale = 1.0f;
  for (float v : want) scale = std::max(scale, std::fabs(v));
  for (int64_t b = 0; b < r.out.batch; ++b) {
    int64_t length = S;
    while (length > 0 && r.mask.ints[static_cast<size_t>(b * S + length - 1)] == 0) --length;
    for (int64_t p = 0; p < S; ++p) {
      for (int64_t i = 0; i < width; ++i) {
        const size_t at = static_cast<size_t>((b * S + p) * width + i);
        if (p < length) {
          err = std::max(err, std::fabs(got[at] - want[at]));
        } else {
          CHECK(got[at] == 0.0f);
        }
      }
    }
  }
  return err / scale;
}

double mean_token_cosine(const Run& r, const std::vector<float>& want) {
  const int64_t H = r.out.hidden;
  double sum = 0.0;
  int n = 0;
  for (int64_t t = 0; t < r.out.batch * r.out.seq_len; ++t) {
    if (r.mask.ints[static_cast<size_t>(t)] == 0) continue;
    double dot = 0, na = 0, nb = 0;
    for (int64_t i = 0; i < H; ++i) {
      const double a = r.out.last_hidden_state[t * H + i], b = want[static_cast<size_t>(t * H + i)];
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    sum += dot / std::sqrt(na * nb);
    ++n;
  }
  return sum / n;
}

// last_hidden_state, and the head's logits where the fixture has them, on the PREFIX set.
void check_f32(const std::string& name, const std::string& prefix = "") {
  TempDir tmp;
  auto model = convert_fixture(name, false, tmp);
  CHECK(model->config().family == Family::kModernBert);
  const std::string dir = fixture(name);
  Run r;
  run_inputs(model, dir, prefix, &r);
  const float err =
      token_error(r, r.out.last_hidden_state, npy(dir + "/" + prefix + "last_hidden_state.npy").floats, r.out.hidden);
  MESSAGE(name << " " << prefix << "f32: last_hidden_state error " << err << " of its scale");
  CHECK(err <= 1e-4f);
  const std::string logits = dir + "/" + prefix + "logits.npy";
  if (!e2e::fs::exists(logits)) {
    CHECK(r.out.logits == nullptr);
    CHECK(r.out.token_logits == nullptr);
    return;
  }
  const auto want = npy(logits).floats;
  float logit_err = 0.0f;
  if (model->config().has_classifier()) {
    REQUIRE(r.out.logits != nullptr);
    REQUIRE(want.size() == static_cast<size_t>(r.out.batch * r.out.labels));
    float scale = 1.0f;
    for (size_t i = 0; i < want.size(); ++i) {
      logit_err = std::max(logit_err, std::fabs(r.out.logits[i] - want[i]));
      scale = std::max(scale, std::fabs(want[i]));
    }
    logit_err /= scale;
  } else {
    REQUIRE(r.out.token_logits != nullptr);
    logit_err = token_error(r, r.out.token_logits, want, r.out.token_logit_width);
  }
  MESSAGE(name << " " << prefix << "f32: logits error " << logit_err << " of their scale");
  CHECK(logit_err <= 1e-4f);
}

void check_int8(const std::string& name, const std::string& prefix = "") {
  TempDir tmp;
  auto model = convert_fixture(name, true, tmp);
  const std::string dir = fixture(name);
  Run r;
  run_inputs(model, dir, prefix, &r);
  const double cos = mean_token_cosine(r, npy(dir + "/" + prefix + "last_hidden_state.npy").floats);
  MESSAGE(name << " " << prefix << "int8: per-token cosine mean vs PyTorch float " << cos);
  CHECK(cos >= 0.999);
}

TEST_CASE("modernbert f32: base model (local and global layers, padding, a hole in the mask)") {
  check_f32("modernbert_base");
}
TEST_CASE("modernbert f32: 160-token sequences, ten windows long, one padded") {
  check_f32("modernbert_base", "long_");
}
TEST_CASE("modernbert f32: fill-mask with every optional bias") { check_f32("modernbert_bias_mlm"); }
TEST_CASE("modernbert f32: sequence classifier, cls pooling") { check_f32("modernbert_cls"); }
TEST_CASE("modernbert f32: sequence classifier, mean pooling") { check_f32("modernbert_mean"); }
TEST_CASE("modernbert f32: token classifier") { check_f32("modernbert_token"); }

TEST_CASE("modernbert int8: base model") { check_int8("modernbert_base"); }
TEST_CASE("modernbert int8: 160-token sequences") { check_int8("modernbert_base", "long_"); }
TEST_CASE("modernbert int8: fill-mask encoder") { check_int8("modernbert_bias_mlm"); }
TEST_CASE("modernbert int8: classifiers' encoders") {
  check_int8("modernbert_cls");
  check_int8("modernbert_token");
}

}  // namespace
}  // namespace encore
