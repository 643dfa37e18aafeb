// ModernBERT against PyTorch: tiny Hugging Face directories (model_type modernbert) and goldens
// from tools/reference/modernbert.py, a PyTorch ModernBERT written from Hugging Face's
// modeling_modernbert.py (eager attention, padding masked), not from encore.
//
// modernbert_base has global layers 0 and 3 and local layers 1, 2, 4 with a 16-token window;
// its long_ set (160 tokens, one row padded to 130) is ten windows long, where the window
// changes every output (by up to 5.95 against global attention everywhere, the reference
// measures). f32: within 1e-4 of the output's scale.
//
// int8 (calibration: the fixture's 64 padded rows and their mask). encore-convert's default:
// per-token scales at the FFN-down input (the GeGLU product; format version 9) and the quality
// gate, whose held-out mean must reach 0.999; on these inputs it lands within a few 1e-4 of its
// bound (measured 0.99898-0.99937 with 1-3 of 8-10 blocks f32), so the 0.999 here is
// asked with --max-cosine-drop 0.0005 (0.99961-0.99970, 4-5 blocks f32). Every block int8:
// >= 0.997 and at least PyTorch dynamic int8's on the same tokens (torch_int8_cosine.npy):
// measured 0.9979-0.9986 vs PyTorch 0.9943-0.9963; and above the one-static-scale scheme of
// format version 8 (0.9966-0.9976), which stays readable and is checked too. A
// fake-quantization simulation of the reference (per-tensor min/max activations, per-row
// weights) found the GeGLU product the largest single int8 loss (0.99885 alone); neither more
// calibration data, percentile clipping nor SmoothQuant-style channel scaling reach 0.999
// without f32 blocks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

struct Int8Result {
  double cosine = 0.0;  // mean per-token cosine vs PyTorch float on the PREFIX inputs
  QualityGateFigures gate;
  size_t f32_blocks = 0;
};

// Converted as encore-convert does (per-token scales at the FFN-down input; the quality gate
// with `drop`, 0: off), or with one static scale there (format version 8, row_scales false).
Int8Result int8_run(const std::string& name, const std::string& prefix, double drop, bool row_scales = true) {
  TempDir tmp;
  auto ck = convert::read_hf_checkpoint(fixture(name));
  REQUIRE(ck.ok());
  std::shared_ptr<const Model> model;
  if (row_scales) {
    convert::ConvertOptions o;
    o.model_dir = fixture(name);
    o.output = (tmp.path / "m.encore").string();
    o.calib_path = fixture(name) + "/calib_ids.npy";
    o.calib_mask_path = fixture(name) + "/calib_mask.npy";
    o.quality_gate = drop > 0.0;
    if (drop > 0.0) o.max_cosine_drop = drop;
    model = e2e::convert_and_load(o);
  } else {
    auto f32 = convert_fixture(name, false, tmp);
    convert::CalibrationSet data;
    const auto ids = npy(fixture(name) + "/calib_ids.npy"), mask = npy(fixture(name) + "/calib_mask.npy");
    data.n = ids.shape[0];
    data.seq = ids.shape[1];
    data.ids.assign(ids.ints.begin(), ids.ints.end());
    data.mask.assign(mask.ints.begin(), mask.ints.end());
    auto ranges = convert::calibrate(f32, data, 1, nullptr);
    REQUIRE(ranges.ok());
    std::ostringstream report;
    auto contents = convert::int8_contents(*ck, *ranges, ModelMetadata{}, report, false);
    REQUIRE(contents.ok());
    CHECK(!contents->ffn_down_row_scales);
    auto bytes = convert::serialize_model(*contents);
    REQUIRE(bytes.ok());
    auto m = Model::load_from_memory(std::move(*bytes));
    REQUIRE(m.ok());
    model = *m;
  }
  Int8Result res;
  res.gate = model->metadata().quality_gate;
  for (const LayerPrecision& p : model->metadata().layer_precision) res.f32_blocks += p.attention_f32 + p.ffn_f32;
  Run r;
  run_inputs(model, fixture(name), prefix, &r);
  res.cosine = mean_token_cosine(r, npy(fixture(name) + "/" + prefix + "last_hidden_state.npy").floats);
  return res;
}

void check_int8(const std::string& name, const std::string& prefix = "") {
  const Int8Result gated = int8_run(name, prefix, 0.001), strict = int8_run(name, prefix, 0.0005),
                   plain = int8_run(name, prefix, 0.0), fixed = int8_run(name, prefix, 0.0, false);
  MESSAGE(name << " " << prefix << "int8, per-token cosine mean vs PyTorch float: quality gate (default) "
          << gated.cosine << " with " << gated.f32_blocks << " blocks f32 (held out: " << gated.gate.mean_cosine
          << "); --max-cosine-drop 0.0005 " << strict.cosine << " with " << strict.f32_blocks
          << "; every block int8 " << plain.cosine << " (one static FFN-down scale, format 8: " << fixed.cosine << ")");
  // The gate's bound holds on its held-out rows; on other inputs the mean lands within a few
  // 1e-4 of it, so the 0.999 on these inputs is asked of the 0.0005 bound.
  CHECK(gated.gate.ran);
  CHECK(gated.gate.mean_cosine >= 0.999);
  CHECK(gated.cosine >= 0.9985);
  CHECK(strict.cosine >= 0.999);
  CHECK(plain.cosine >= 0.997);
  CHECK(fixed.cosine >= 0.995);
  CHECK(plain.cosine > fixed.cosine);  // per-token scales at the FFN-down input pay
  if (prefix.empty()) {
    const auto peer = npy(fixture(name) + "/torch_int8_cosine.npy").floats;
    const double p = std::accumulate(peer.begin(), peer.end(), 0.0) / double(peer.size());
    MESSAGE(name << " PyTorch dynamic int8 on the same tokens: mean " << p);
    CHECK(plain.cosine >= p);
  }
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
  check_int8("modernbert_mean");
  check_int8("modernbert_token");
}

// The base fixture with its config.json edited by `edit`; the conversion's status.
template <typename Edit>
Status convert_edited(const Edit& edit) {
  TempDir tmp;
  const auto dir = tmp.path / "model";
  e2e::fs::create_directory(dir);
  for (const char* f : {"config.json", "model.safetensors"}) e2e::fs::copy_file(fixture("modernbert_base") + "/" + f, dir / f);
  nlohmann::json j;
  std::ifstream(dir / "config.json") >> j;
  edit(j);
  std::ofstream(dir / "config.json") << j.dump(2);
  convert::ConvertOptions o;
  o.model_dir = dir.string();
  o.output = (tmp.path / "out.encore").string();
  std::ostringstream out, err;
  Status st = convert::convert_model(o, out, err);
  if (!st.ok()) CHECK(!e2e::fs::exists(o.output));  // nothing written on failure
  return st;
}

void check_refused(const Status& st, const std::string& words) {
  INFO(st.message());
  CHECK(!st.ok());
  CHECK(st.message().find(words) != std::string::npos);
  CHECK(st.message().find('\n') == std::string::npos);
}

TEST_CASE("modernbert: what encore does not compute is refused, naming the field") {
  using nlohmann::json;
  check_refused(convert_edited([](json& j) { j["hidden_activation"] = "silu"; }), "hidden_activation 'silu'");
  check_refused(convert_edited([](json& j) { j["classifier_activation"] = "swish"; }), "classifier_activation 'swish'");
  check_refused(convert_edited([](json& j) { j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}}; }),
                "rope_scaling");
  check_refused(convert_edited([](json& j) {
                  j["rope_parameters"] = {{"full_attention", {{"rope_type", "yarn"}, {"rope_theta", 160000.0}}}};
                }),
                "rope_parameters.full_attention.rope_type");
  check_refused(convert_edited([](json& j) {
                  j["layer_types"] = json::array({"full_attention", "full_attention", "sliding_attention",
                                                  "full_attention", "sliding_attention"});
                }),
                "layer_types[1]");
  check_refused(convert_edited([](json& j) { j["head_dim"] = 8; }), "head_dim 8");
  check_refused(convert_edited([](json& j) { j["classifier_pooling"] = "max"; }), "classifier_pooling 'max'");
  check_refused(convert_edited([](json& j) { j["architectures"] = {"ModernBertForQuestionAnswering"}; }),
                "ModernBertForQuestionAnswering");
  // A bias the config turns off must not be in the checkpoint (or the other way round).
  check_refused(convert_edited([](json& j) { j["attention_bias"] = true; }), "layers.0.attn.Wqkv.bias");
}

// Long inputs: the activations grow linearly with the sequence (no seq x seq buffer in any
// layer; with one, the fixture's 2 heads x seq^2 floats would dominate at 512 tokens: 2 MiB
// against ~0.5 MiB for everything else), and the model's longest input runs.
TEST_CASE("modernbert: activations grow linearly with the sequence, up to max_position_embeddings") {
  TempDir tmp;
  for (bool int8 : {false, true}) {
    auto model = convert_fixture("modernbert_base", int8, tmp);
    const int32_t longest = model->config().max_sequence_length();
    REQUIRE(longest == 512);
    uint64_t bytes[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      const int32_t S = i == 0 ? longest / 2 : longest;
      auto s = Session::create(model);
      REQUIRE(s.ok());
      std::vector<int32_t> ids(static_cast<size_t>(S));
      for (int32_t p = 0; p < S; ++p) ids[static_cast<size_t>(p)] = 4 + p % 150;
      Outputs out;
      Inputs in{1, S, ids.data(), nullptr, nullptr};
      REQUIRE((*s)->run(in, &out).ok());
      bytes[i] = (*s)->activation_bytes();
      for (int64_t k = 0; k < int64_t{S} * out.hidden; ++k) REQUIRE(std::isfinite(out.last_hidden_state[k]));
    }
    MESSAGE(std::string(int8 ? "int8" : "f32") << ": activations " << bytes[0] << " bytes at seq 256, " << bytes[1]
                                    << " at seq 512");
    CHECK(double(bytes[1]) <= 2.2 * double(bytes[0]));
  }
}

TEST_CASE("modernbert: sessions refuse attention probabilities (sliding-window layers)") {
  TempDir tmp;
  auto model = convert_fixture("modernbert_base", false, tmp);
  SessionOptions o;
  o.attention_probabilities = true;
  auto s = Session::create(model, o);
  REQUIRE(!s.ok());
  CHECK(s.status().message().find("attention_probabilities") != std::string::npos);
}

}  // namespace
}  // namespace encore
