// Calibration data for int8 conversion: --calib-text and --calib-mask parsing and their
// errors, and the outlier fixture (tools/reference/make_outlier_fixture.py) on which plain
// per-tensor min/max int8 fails.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "golden_util.h"
#include "core/str.h"
#include "encore/profile.h"
#include "io/npy.h"

namespace encore::e2e {
namespace {

const char kOutlier[] = "outlier_bert";

std::shared_ptr<const Model> f32_model(const TempDir& dir) { return convert_fixture(kOutlier, false, dir); }

std::string write_text(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = (dir.path / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string write_ids(const TempDir& dir, const std::string& name, std::vector<int64_t> shape,
                      std::vector<int64_t> values) {
  const std::string path = (dir.path / name).string();
  REQUIRE(io::write_npy_i64(path, shape, values.data()).ok());
  return path;
}

// The error's message: one line that names `what`.
void check_error(const Status& st, const std::string& what) {
  INFO(st.message());
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find(what) != std::string::npos);
  CHECK(st.message().find('\n') == std::string::npos);
}

// Per-token cosine of `model`'s last hidden state against the fixture's float64 goldens.
std::vector<double> accuracy_cosines(std::shared_ptr<const Model> model) {
  Run r;
  run_inputs(std::move(model), fixture(kOutlier), "acc_", &r);
  auto gold = npy(fixture(kOutlier) + "/acc_last_hidden_state.npy");
  const int64_t H = r.out.hidden;
  std::vector<double> cos;
  for (int64_t t = 0; t < r.out.batch * r.out.seq_len; ++t) {
    if (r.mask.ints[static_cast<size_t>(t)] == 0) continue;
    double dot = 0, na = 0, nb = 0;
    for (int64_t i = 0; i < H; ++i) {
      const double a = r.out.last_hidden_state[t * H + i], b = gold.floats[static_cast<size_t>(t * H + i)];
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    cos.push_back(dot / std::sqrt(na * nb));
  }
  return cos;
}

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }
size_t below(const std::vector<double>& v, double x) {
  return static_cast<size_t>(std::count_if(v.begin(), v.end(), [&](double c) { return c < x; }));
}

TEST_CASE("calibration text: tokenized with the model's tokenizer, as the reference encodes the same lines") {
  TempDir dir;
  auto model = f32_model(dir);
  auto set = convert::read_calibration_text(fixture(kOutlier) + "/calib.txt", *model);
  INFO(set.status().message());
  REQUIRE(set.ok());
  // make_outlier_fixture.py frames each line ([CLS] a [SEP] (b [SEP])) by vocabulary lookup.
  auto ids = npy(fixture(kOutlier) + "/calib_ids.npy"), mask = npy(fixture(kOutlier) + "/calib_mask.npy");
  REQUIRE(set->n == ids.shape[0]);
  REQUIRE(set->seq <= ids.shape[1]);
  for (int64_t r = 0; r < set->n; ++r) {
    for (int64_t p = 0; p < ids.shape[1]; ++p) {
      const size_t ref = static_cast<size_t>(r * ids.shape[1] + p);
      const bool inside = p < set->seq;
      const int64_t m = inside ? set->mask[static_cast<size_t>(r * set->seq + p)] : 0;
      CHECK(m == mask.ints[ref]);
      if (m) CHECK(set->ids[static_cast<size_t>(r * set->seq + p)] == ids.ints[ref]);
    }
  }
  CHECK(set->summary.find("96 texts (32 pairs)") != std::string::npos);
}

TEST_CASE("calibration text: bad files fail with one line naming the file and line") {
  TempDir dir;
  auto model = f32_model(dir);
  auto text = [&](const std::string& body) {
    return convert::read_calibration_text(write_text(dir, "c.txt", body), *model).status();
  };
  check_error(convert::read_calibration_text((dir.path / "missing.txt").string(), *model).status(), "missing.txt");
  check_error(text(""), "empty");
  check_error(text("ab ba\n\nab\n"), "line 2: empty line");
  check_error(text("ab\tba\tab\n"), "line 1: 3 tab-separated fields");
  check_error(text("ab\n \tba\n"), "line 2: one text of the tab-separated pair is empty");
  CHECK(text("ab ba\r\nab\tba\n").ok());
}

TEST_CASE("calibration ids: --calib-mask is checked against the ids") {
  TempDir dir;
  auto model = f32_model(dir);
  const auto& c = model->config();
  std::ostringstream err;
  const std::string ids = write_ids(dir, "ids.npy", {2, 4}, {101, 150, 102, 0, 101, 102, 0, 0});
  auto read = [&](const std::string& mask) { return convert::read_calibration_ids(ids, mask, c, err); };
  check_error(read(write_ids(dir, "m1.npy", {2, 3}, {1, 1, 1, 1, 1, 0})).status(), "m1.npy: the calibration mask");
  check_error(read(write_ids(dir, "m2.npy", {2, 4}, {1, 1, 2, 0, 1, 1, 0, 0})).status(), "mask value 2 at index 2");
  check_error(read(write_ids(dir, "m3.npy", {2, 4}, {1, 1, 1, 0, 0, 0, 0, 0})).status(), "row 1 has no token");
  auto ok = read(write_ids(dir, "m4.npy", {2, 4}, {1, 1, 1, 0, 1, 1, 0, 0}));
  REQUIRE(ok.ok());
  CHECK(ok->real_tokens(0, 2) == 5);

  convert::ConvertOptions o;
  o.model_dir = fixture(kOutlier);
  o.output = (dir.path / "never.encore").string();
  o.calib_mask_path = (dir.path / "m4.npy").string();
  std::ostringstream out;
  check_error(convert::convert_model(o, out, err), "--calib-mask needs --calib");
  o.calib_path = ids;
  o.calib_text_path = fixture(kOutlier) + "/calib.txt";
  check_error(convert::convert_model(o, out, err), "--calib-text and --calib both given");
  CHECK_FALSE(fs::exists(o.output));
}

// Plain min/max calibration on text: the same ranges as the same tokens given as ids and mask,
// and the fixture's failure (tools/reference/README.md, "Activation outliers").
TEST_CASE("outlier fixture: plain per-tensor min/max int8 fails") {
  TempDir dir;
  convert::ConvertOptions o;
  o.model_dir = fixture(kOutlier);
  o.calib_text_path = fixture(kOutlier) + "/calib.txt";
  o.output = (dir.path / "text.encore").string();
  o.quality_gate = false;
  std::ostringstream out, err;
  REQUIRE(convert::convert_model(o, out, err).ok());
  auto text_model = Model::load(o.output);
  REQUIRE(text_model.ok());
  const std::vector<double> cos = accuracy_cosines(*text_model);
  MESSAGE("outlier_bert, per-tensor min/max int8 from calib.txt: mean per-token cosine " << mean_of(cos) << ", min "
          << *std::min_element(cos.begin(), cos.end()) << ", " << below(cos, 0.99) << " of " << cos.size()
          << " tokens below 0.99");
  CHECK(mean_of(cos) < 0.995);
  CHECK(below(cos, 0.99) > cos.size() / 2);

}

// The mask keeps padding out of the ranges: the text set (token types dropped, as the ids file
// has none) and the same tokens as ids + mask calibrate alike; the ids without their mask
// also observe the [PAD] rows and do not.
TEST_CASE("calibration ids: with --calib-mask the padding is not observed") {
  TempDir dir;
  auto model = f32_model(dir);
  std::ostringstream err;
  auto text = convert::read_calibration_text(fixture(kOutlier) + "/calib.txt", *model);
  auto masked = convert::read_calibration_ids(fixture(kOutlier) + "/calib_ids.npy",
                                              fixture(kOutlier) + "/calib_mask.npy", model->config(), err);
  auto unmasked = convert::read_calibration_ids(fixture(kOutlier) + "/calib_ids.npy", "", model->config(), err);
  REQUIRE(text.ok());
  REQUIRE(masked.ok());
  REQUIRE(unmasked.ok());
  text->types.clear();
  auto a = convert::calibrate(model, *text, 1, nullptr);
  auto b = convert::calibrate(model, *masked, 1, nullptr);
  auto c = convert::calibrate(model, *unmasked, 1, nullptr);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  size_t differ = 0;
  for (const auto& [name, r] : *a) {
    CHECK(b->at(name).lo == r.lo);
    CHECK(b->at(name).hi == r.hi);
    differ += c->at(name).lo != r.lo || c->at(name).hi != r.hi;
  }
  CHECK(differ > 0);
}

// The gate on the same data: the blocks with the outliers kept in f32, the rest int8.
struct Gated {
  convert::QualityGateReport gate;
  std::shared_ptr<const Model> model;
  std::string report;
};

Gated convert_gated(const TempDir& dir, const std::string& name) {
  convert::ConvertOptions o;
  o.model_dir = fixture(kOutlier);
  o.calib_text_path = fixture(kOutlier) + "/calib.txt";
  o.output = (dir.path / name).string();
  std::ostringstream out, err;
  Gated g;
  Status st = convert::convert_model(o, out, err, &g.gate);
  INFO(st.message() << "\n" << err.str());
  REQUIRE(st.ok());
  g.report = out.str();
  auto m = Model::load(o.output);
  REQUIRE(m.ok());
  g.model = *m;
  return g;
}

TEST_CASE("outlier fixture: the quality gate keeps the outlier blocks in f32 and passes") {
  TempDir dir;
  const Gated g = convert_gated(dir, "gated.encore");
  INFO(g.report);
  REQUIRE(g.gate.ran);
  const std::vector<double> cos = accuracy_cosines(g.model);
  std::vector<std::string> kept;
  for (const auto& b : g.gate.blocks) {
    if (b.kept_f32) kept.push_back(cat("layer ", b.layer, b.ffn ? " ffn" : " attention"));
  }
  MESSAGE("outlier_bert with the quality gate: " << kept.size() << " of " << g.gate.blocks.size()
          << " blocks in f32; mean per-token cosine " << mean_of(cos) << ", min " << *std::min_element(cos.begin(), cos.end())
          << "; " << g.gate.int8_bytes << " -> " << g.gate.bytes << " bytes, held-out pass " << g.gate.int8_ms << " -> "
          << g.gate.ms << " ms");
  CHECK(g.gate.figures.passed);
  CHECK(g.gate.figures.int8_mean_cosine < 0.999);
  CHECK(mean_of(cos) >= 0.999);
  CHECK(*std::min_element(cos.begin(), cos.end()) >= 0.99);
  // The two places the fixture puts outliers, and (most blocks int8) not many more.
  CHECK(std::find(kept.begin(), kept.end(), "layer 1 ffn") != kept.end());
  CHECK(std::find(kept.begin(), kept.end(), "layer 2 attention") != kept.end());
  CHECK(kept.size() <= 4);
  // The model file records each layer's precision and the gate's figures.
  const ModelMetadata& md = g.model->metadata();
  REQUIRE(md.layer_precision.size() == 4);
  CHECK(md.layer_precision[1].ffn_f32);
  CHECK(md.layer_precision[2].attention_f32);
  CHECK(md.quality_gate.ran);
  CHECK(md.quality_gate.passed);
  CHECK(md.quality_gate.mean_cosine == doctest::Approx(g.gate.figures.mean_cosine).epsilon(1e-6));
  // The profile names the f32 kernels of the kept blocks.
  SessionOptions so;
  so.profile = true;
  auto session = Session::create(g.model, so);
  REQUIRE(session.ok());
  auto ids = npy(fixture(kOutlier) + "/acc_input_ids.npy");
  std::vector<int32_t> one(ids.ints.begin(), ids.ints.begin() + ids.shape[1]);
  Inputs in{1, ids.shape[1], one.data(), nullptr, nullptr};
  Outputs out;
  REQUIRE((*session)->run(in, &out).ok());
  std::string layer1_ffn_down, layer0_ffn_down;
  for (const ProfileRecord& r : (*session)->profile()) {
    if (r.step == ProfileStep::kFfnDown && r.layer == 1) layer1_ffn_down = r.kernel;
    if (r.step == ProfileStep::kFfnDown && r.layer == 0) layer0_ffn_down = r.kernel;
  }
  CHECK(layer1_ffn_down.find("f32") != std::string::npos);
  CHECK(layer0_ffn_down.find("f32") == std::string::npos);
}

TEST_CASE("outlier fixture: the gate's decisions are deterministic") {
  TempDir dir;
  const Gated a = convert_gated(dir, "a.encore"), b = convert_gated(dir, "b.encore");
  REQUIRE(a.gate.blocks.size() == b.gate.blocks.size());
  for (size_t i = 0; i < a.gate.blocks.size(); ++i) {
    CHECK(a.gate.blocks[i].kept_f32 == b.gate.blocks[i].kept_f32);
    CHECK(a.gate.blocks[i].mean_cosine_alone == b.gate.blocks[i].mean_cosine_alone);
  }
  CHECK(a.gate.figures.mean_cosine == b.gate.figures.mean_cosine);
  CHECK(a.gate.figures.p1_cosine == b.gate.figures.p1_cosine);
  CHECK(accuracy_cosines(a.model) == accuracy_cosines(b.model));
}

TEST_CASE("calibration methods: min/max keeps the observed range, percentile and mse clip outliers") {
  // 10^8 values uniform in [0, 2) and one at 200: that one sets min/max's step.
  convert::ActivationHistogram h;
  h.lo = 0.0f;
  h.hi = 200.0f;
  h.counts.assign(2048, 0.0);
  for (size_t i = 0; i < 20; ++i) h.counts[i] = 5e6;
  h.counts[2047] = 1.0;
  const auto minmax = convert::choose_range(h, convert::CalibrationMethod::kMinMax);
  CHECK(minmax.lo == 0.0f);
  CHECK(minmax.hi == 200.0f);
  const auto percentile = convert::choose_range(h, convert::CalibrationMethod::kPercentile);
  CHECK(percentile.hi < 2.5f);
  const auto mse = convert::choose_range(h, convert::CalibrationMethod::kMse);
  CHECK(mse.method == convert::CalibrationMethod::kMse);
  CHECK(mse.hi < 100.0f);
  CHECK(mse.mse < 0.5 * minmax.mse);
  CHECK(convert::choose_range(h, convert::CalibrationMethod::kAuto).method == convert::CalibrationMethod::kMse);
  // Values spread evenly: clipping buys nothing, auto keeps min/max.
  h.counts.assign(2048, 1.0);
  const auto even = convert::choose_range(h, convert::CalibrationMethod::kAuto);
  CHECK(even.method == convert::CalibrationMethod::kMinMax);
  CHECK(even.hi == 200.0f);
}

TEST_CASE("calibration methods: the report names each input's method and range") {
  TempDir dir;
  for (auto method : {convert::CalibrationMethod::kPercentile, convert::CalibrationMethod::kMse,
                      convert::CalibrationMethod::kAuto}) {
    convert::ConvertOptions o;
    o.model_dir = fixture(kOutlier);
    o.calib_text_path = fixture(kOutlier) + "/calib.txt";
    o.output = (dir.path / "m.encore").string();
    o.calibration = method;
    o.quality_gate = false;
    std::ostringstream out, err;
    REQUIRE(convert::convert_model(o, out, err).ok());
    auto m = Model::load(o.output);
    REQUIRE(m.ok());
    const std::vector<double> cos = accuracy_cosines(*m);
    const std::string name = convert::calibration_method_name(method);
    MESSAGE("outlier_bert, " << name << " without the gate: mean per-token cosine "
            << mean_of(cos) << ", min " << *std::min_element(cos.begin(), cos.end()) << ", " << below(cos, 0.99)
            << " of " << cos.size() << " below 0.99");
    const std::string report = out.str();
    INFO(report);
    // Each GEMM input's line names the method its range came from (auto: the one it chose).
    CHECK(report.find(method == convert::CalibrationMethod::kAuto ? "  minmax [" : "  " + name + " [") !=
          std::string::npos);
    CHECK((*m)->metadata().calibration.find(name) == 0);
  }
}


// The runtime's f32 blocks inside int8 models, per family (DistilBERT: no token types; ELECTRA:
// narrower embeddings projected before layer 0; RoBERTa: offset positions), against the
// PyTorch float64 goldens: every block f32 leaves only the f16 word embeddings between encore
// and the reference, and alternating blocks (layer 0 attention f32, its FFN int8, the next
// layer the other way round) exercise every switch between an f32 and an int8 block.
std::vector<double> mixed_cosines(const std::string& name, const std::vector<LayerPrecision>& precision,
                                  const std::string& prefix = "acc_") {
  auto ck = convert::read_hf_checkpoint(fixture(name));
  REQUIRE(ck.ok());
  TempDir dir;
  auto f32 = convert_fixture(name, false, dir);
  auto calib = npy(fixture(name) + "/calib_ids.npy");
  auto ranges = convert::calibrate(f32, as_i32(calib), calib.shape[0], calib.shape[1], 1, nullptr);
  REQUIRE(ranges.ok());
  ModelMetadata md;
  md.layer_precision = precision;
  std::ostringstream report;
  auto contents = convert::int8_contents(*ck, *ranges, md, report);
  REQUIRE(contents.ok());
  auto bytes = convert::serialize_model(*contents);
  REQUIRE(bytes.ok());
  auto model = Model::load_from_memory(std::move(*bytes));
  INFO(model.status().message());
  REQUIRE(model.ok());
  Run r;
  run_inputs(*model, fixture(name), prefix, &r);
  auto gold = npy(fixture(name) + "/" + prefix + "last_hidden_state.npy");
  const int64_t H = r.out.hidden;
  std::vector<double> cos;
  for (int64_t t = 0; t < r.out.batch * r.out.seq_len; ++t) {
    if (r.mask.ints[static_cast<size_t>(t)] == 0) continue;
    double dot = 0, na = 0, nb = 0;
    for (int64_t i = 0; i < H; ++i) {
      const double a = r.out.last_hidden_state[t * H + i], b = gold.floats[static_cast<size_t>(t * H + i)];
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    cos.push_back(dot / std::sqrt(na * nb));
  }
  return cos;
}

TEST_CASE("mixed precision: f32 blocks inside int8 models of each family compute what the reference does") {
  for (const char* name : {"distilbert_base", "electra_base", "roberta_base", "tiny_base"}) {
    auto cfg = convert::read_hf_checkpoint(fixture(name));
    REQUIRE(cfg.ok());
    const size_t layers = static_cast<size_t>(cfg->config.layer_count);
    const std::vector<LayerPrecision> all(layers, LayerPrecision{true, true});
    std::vector<LayerPrecision> alternating(layers);
    for (size_t l = 0; l < layers; ++l) alternating[l] = LayerPrecision{l % 2 == 0, l % 2 == 1};
    const std::vector<double> f32 = mixed_cosines(name, all), mixed = mixed_cosines(name, alternating),
                              int8 = mixed_cosines(name, {});
    MESSAGE(std::string(name) << ": per-token cosine vs PyTorch over " << f32.size() << " tokens, min / mean: every block f32 "
            << *std::min_element(f32.begin(), f32.end()) << " / " << mean_of(f32) << "; alternating "
            << *std::min_element(mixed.begin(), mixed.end()) << " / " << mean_of(mixed) << "; every block int8 "
            << *std::min_element(int8.begin(), int8.end()) << " / " << mean_of(int8));
    CHECK(*std::min_element(f32.begin(), f32.end()) >= 0.99999);
    CHECK(mean_of(mixed) >= 0.999);
    CHECK(mean_of(f32) > mean_of(int8));
  }
}

// ModernBERT's pre-norm layers: an f32 block reads the f32 norm output (layer 0's attention: the
// stream itself) and the norm after it adds its f32 output; both alternations, so that every
// switch (embeddings to an f32 or int8 layer 0, f32 to int8 and back, an f32 or int8 last block
// before the final norm) runs. Goldens: tools/reference/modernbert.py.
TEST_CASE("mixed precision: f32 blocks inside int8 ModernBERT models compute what the reference does") {
  for (const char* name : {"modernbert_base", "modernbert_bias_mlm"}) {
    auto cfg = convert::read_hf_checkpoint(fixture(name));
    REQUIRE(cfg.ok());
    const size_t layers = static_cast<size_t>(cfg->config.layer_count);
    const std::vector<LayerPrecision> all(layers, LayerPrecision{true, true});
    std::vector<LayerPrecision> even(layers), odd(layers);
    for (size_t l = 0; l < layers; ++l) {
      even[l] = LayerPrecision{l % 2 == 0, l % 2 == 1};
      odd[l] = LayerPrecision{l % 2 == 1, l % 2 == 0};
    }
    const std::vector<double> f32 = mixed_cosines(name, all, ""), a = mixed_cosines(name, even, ""),
                              b = mixed_cosines(name, odd, ""), int8 = mixed_cosines(name, {}, "");
    MESSAGE(std::string(name) << ": per-token cosine vs PyTorch over " << f32.size()
            << " tokens, min / mean: every block f32 " << *std::min_element(f32.begin(), f32.end()) << " / "
            << mean_of(f32) << "; alternating from f32 attention " << mean_of(a) << ", from int8 attention "
            << mean_of(b) << "; every block int8 " << *std::min_element(int8.begin(), int8.end()) << " / "
            << mean_of(int8));
    CHECK(*std::min_element(f32.begin(), f32.end()) >= 0.99999);
    CHECK(mean_of(a) > mean_of(int8));
    CHECK(mean_of(b) > mean_of(int8));
  }
}

}  // namespace
}  // namespace encore::e2e
