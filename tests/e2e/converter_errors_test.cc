// encore-convert's error paths: each gives one message naming the problem and leaves no file.
#include <doctest/doctest.h>

#include <fstream>
#include <filesystem>
#include <sstream>

#include "convert/converter.h"
#include "support/hf_dir.h"

namespace encore {
namespace {

namespace fs = std::filesystem;

struct Workspace {
  fs::path root;
  Workspace() {
    char tmpl[] = "/tmp/encore-convert-XXXXXX";
    root = mkdtemp(tmpl);
    fs::create_directories(root / "model");
    fs::create_directories(root / "out");
  }
  ~Workspace() { fs::remove_all(root); }
  std::string model() const { return (root / "model").string(); }
  std::string out() const { return (root / "out" / "m.encore").string(); }
  bool out_dir_empty() const { return fs::is_empty(root / "out"); }
};

struct Converted {
  Status status;
  std::string report, warnings;
};

Converted convert(const Workspace& w, bool int8 = true, std::string calib = "") {
  convert::ConvertOptions o;
  o.model_dir = w.model();
  o.output = w.out();
  o.int8 = int8;
  o.calib_path = std::move(calib);
  o.synthetic_sequences = 4;
  std::ostringstream out, err;
  Converted c;
  c.status = convert::convert_model(o, out, err);
  c.report = out.str();
  c.warnings = err.str();
  return c;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_CASE("convert: a good checkpoint converts, with extras skipped and a warning for synthetic calibration") {
  Workspace w;
  auto d = testing::HfDir::bert("bert.");
  d.tensors["bert.embeddings.position_ids"] = {"I64", {1, 8}, {0, 1, 2, 3, 4, 5, 6, 7}};
  d.tensors["cls.predictions.bias"] = {"F32", {40}, std::vector<float>(40, 0.5f)};
  d.write(w.model());
  for (bool int8 : {true, false}) {
    auto c = convert(w, int8);
    INFO(c.status.message());
    REQUIRE(c.status.ok());
    CHECK(fs::exists(w.out()));
    CHECK(contains(c.report, "skipped 2 tensor(s)"));
    CHECK(contains(c.report, "bert.embeddings.position_ids"));
    CHECK(contains(c.report, "cls.predictions.bias"));
    if (int8) {
      CHECK(contains(c.warnings, "no --calib given"));
      CHECK(contains(c.report, "SQNR"));
    }
    auto m = Model::load(w.out());
    REQUIRE(m.ok());
    CHECK((*m)->is_quantized() == int8);
    CHECK((*m)->tokenizer().vocab.size() == 40);
    CHECK((*m)->config().has_pooler);
    fs::remove(w.out());
  }
}

TEST_CASE("convert: bad checkpoints fail with a clear message and leave no output") {
  Workspace w;
  auto d = testing::HfDir::bert();
  std::string expect;
  SUBCASE("unsupported model_type") {
    d.config["model_type"] = "\"roberta\"";
    expect = "roberta";
  }
  SUBCASE("unsupported activation") {
    d.config["hidden_act"] = "\"swish\"";
    expect = "swish";
  }
  SUBCASE("missing tensor") {
    d.tensors.erase("encoder.layer.1.output.dense.weight");
    expect = "missing tensor 'encoder.layer.1.output.dense.weight'";
  }
  SUBCASE("shape disagrees with config") {
    d.config["intermediate_size"] = "64";
    expect = "encoder.layer.0.intermediate.dense.weight' has shape [32, 16] but the config implies [64, 16]";
  }
  SUBCASE("more layers in the file than in the config") {
    d.config["num_hidden_layers"] = "1";
    expect = "num_hidden_layers = 1";
  }
  SUBCASE("classifier rows disagree with id2label") {
    d.tensors["classifier.weight"] = {"F32", {3, 16}, std::vector<float>(48, 0.1f)};
    d.tensors["classifier.bias"] = {"F32", {3}, std::vector<float>(3, 0.0f)};
    d.config["id2label"] = R"({"0": "a", "1": "b"})";
    expect = "classifier.weight has 3 rows but config.json names 2 labels";
  }
  d.write(w.model());
  auto c = convert(w);
  CHECK_FALSE(c.status.ok());
  CAPTURE(c.status.message());
  CHECK(contains(c.status.message(), expect));
  CHECK(c.status.message().find('\n') == std::string::npos);
  CHECK(w.out_dir_empty());
}

TEST_CASE("convert: missing files and bad paths") {
  Workspace w;
  SUBCASE("not a directory") {
    convert::ConvertOptions o;
    o.model_dir = w.model() + "/nope";
    o.output = w.out();
    std::ostringstream out, err;
    CHECK(contains(convert::convert_model(o, out, err).message(), "not a directory"));
  }
  SUBCASE("pytorch_model.bin only") {
    auto d = testing::HfDir::bert();
    d.write(w.model());
    fs::rename(fs::path(w.model()) / "model.safetensors", fs::path(w.model()) / "pytorch_model.bin");
    CHECK(contains(convert(w).status.message(), "safe_serialization"));
  }
  SUBCASE("output directory does not exist") {
    testing::HfDir::bert().write(w.model());
    convert::ConvertOptions o;
    o.model_dir = w.model();
    o.output = w.out() + ".d/x/m.encore";
    std::ostringstream out, err;
    Status st = convert::convert_model(o, out, err);
    CHECK(st.code() == StatusCode::kIoError);
  }
  SUBCASE("calibration ids out of range") {
    testing::HfDir::bert().write(w.model());
    auto calib = (w.root / "calib.npy").string();
    // A hand-made int64 [1, 2] .npy holding ids 1 and 999.
    std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }";
    while ((10 + header.size() + 1) % 64) header += ' ';
    header += '\n';
    std::ofstream f(calib, std::ios::binary);
    f.write("\x93NUMPY\x01\x00", 8);
    uint16_t len = static_cast<uint16_t>(header.size());
    f.write(reinterpret_cast<const char*>(&len), 2);
    f << header;
    int64_t ids[2] = {1, 999};
    f.write(reinterpret_cast<const char*>(ids), 16);
    f.close();
    auto c = convert(w, true, calib);
    CHECK(contains(c.status.message(), "token id 999"));
  }
  CHECK(w.out_dir_empty());
}

}  // namespace
}  // namespace encore
