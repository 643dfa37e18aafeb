// encore-convert's error paths: each gives one message naming the problem and leaves no file.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "convert/converter.h"
#include "encore/session.h"
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
    d.config["model_type"] = "\"deberta-v2\"";
    expect = "model_type 'deberta-v2' is not supported";
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
    d.config["architectures"] = R"(["BertForSequenceClassification"])";
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

// Checkpoints that would convert but compute something other than the source model: each is
// refused with one line naming the field and its value.
TEST_CASE("convert: what encore does not compute exactly is refused, naming the field") {
  Workspace w;
  auto d = testing::HfDir::bert();
  auto add_classifier = [&](int64_t labels) {
    d.tensors["classifier.weight"] = {"F32", {labels, 16}, std::vector<float>(static_cast<size_t>(labels) * 16, 0.1f)};
    d.tensors["classifier.bias"] = {"F32", {labels}, std::vector<float>(static_cast<size_t>(labels), 0.0f)};
  };
  std::string expect, extra_file;
  StatusCode code = StatusCode::kUnsupported;
  SUBCASE("relative position embeddings") {
    d.config["position_embedding_type"] = R"("relative_key_query")";
    d.tensors["encoder.layer.0.attention.self.distance_embedding.weight"] = {"F32", {15, 8}, std::vector<float>(120)};
    expect = "config.json: position_embedding_type 'relative_key_query' is not supported";
  }
  auto add_mlm_head = [&]() {
    d.tensors["cls.predictions.transform.dense.weight"] = {"F32", {16, 16}, std::vector<float>(256, 0.1f)};
    d.tensors["cls.predictions.transform.dense.bias"] = {"F32", {16}, std::vector<float>(16, 0.0f)};
    d.tensors["cls.predictions.transform.LayerNorm.weight"] = {"F32", {16}, std::vector<float>(16, 1.0f)};
    d.tensors["cls.predictions.transform.LayerNorm.bias"] = {"F32", {16}, std::vector<float>(16, 0.0f)};
    d.tensors["cls.predictions.bias"] = {"F32", {40}, std::vector<float>(40, 0.0f)};
  };
  SUBCASE("a token classifier without its classifier") {
    d.config["architectures"] = R"(["BertForTokenClassification"])";
    code = StatusCode::kInvalidModel;
    expect = "config.json names BertForTokenClassification but model.safetensors has no classifier.weight";
  }
  SUBCASE("a question-answering head of 3 rows") {
    d.config["architectures"] = R"(["BertForQuestionAnswering"])";
    d.tensors["qa_outputs.weight"] = {"F32", {3, 16}, std::vector<float>(48, 0.1f)};
    d.tensors["qa_outputs.bias"] = {"F32", {3}, std::vector<float>(3, 0.0f)};
    code = StatusCode::kInvalidModel;
    expect = "model.safetensors: qa_outputs.weight has 3 rows; a QA head has 2 (start, end)";
  }
  SUBCASE("a question-answering head without architectures") {
    d.tensors["qa_outputs.weight"] = {"F32", {2, 16}, std::vector<float>(32, 0.1f)};
    d.tensors["qa_outputs.bias"] = {"F32", {2}, std::vector<float>(2, 0.0f)};
    expect = "config.json has no 'architectures', so the head holding qa_outputs.weight is unknown";
  }
  SUBCASE("a classifier without architectures") {
    add_classifier(3);
    expect = "config.json has no 'architectures', so the head holding classifier.weight is unknown";
  }
  SUBCASE("a masked LM without its head") {
    d.config["architectures"] = R"(["BertForMaskedLM"])";
    code = StatusCode::kInvalidModel;
    expect = "config.json names BertForMaskedLM but model.safetensors has no cls.predictions.transform.dense.weight";
  }
  SUBCASE("a masked LM without its decoder bias") {
    d.config["architectures"] = R"(["BertForMaskedLM"])";
    add_mlm_head();
    d.tensors.erase("cls.predictions.bias");
    code = StatusCode::kInvalidModel;
    expect = "config.json names BertForMaskedLM but model.safetensors has no cls.predictions.bias";
  }
  SUBCASE("a masked LM whose decoder is not the word embeddings") {
    d.config["architectures"] = R"(["BertForMaskedLM"])";
    add_mlm_head();
    d.tensors["cls.predictions.decoder.weight"] = {"F32", {40, 16}, std::vector<float>(640, 0.25f)};
    expect = "model.safetensors: cls.predictions.decoder.weight differs from the word embeddings (an untied decoder)";
  }
  SUBCASE("an architecture encore does not know") {
    d.config["architectures"] = R"(["BertForNextSentencePrediction"])";
    expect = "config.json: architectures 'BertForNextSentencePrediction' is not supported (encore converts BertModel";
  }
  SUBCASE("an unknown problem_type") {
    d.config["architectures"] = R"(["BertForSequenceClassification"])";
    d.config["problem_type"] = R"("ordinal_regression")";
    add_classifier(3);
    expect = "config.json: problem_type 'ordinal_regression' is not supported";
  }
  SUBCASE("single-label classification over one label") {
    d.config["architectures"] = R"(["BertForSequenceClassification"])";
    d.config["problem_type"] = R"("single_label_classification")";
    d.config["num_labels"] = "1";
    add_classifier(1);
    expect = "config.json: problem_type single_label_classification with num_labels 1 is not supported";
  }
  SUBCASE("a sequence classifier without its classifier") {
    d.config["architectures"] = R"(["BertForSequenceClassification"])";
    code = StatusCode::kInvalidModel;
    expect = "config.json names BertForSequenceClassification but model.safetensors has no classifier.weight";
  }
  SUBCASE("a decoder") {
    d.config["is_decoder"] = "true";
    expect = "config.json: is_decoder true is not supported";
  }
  SUBCASE("a tensor inside the encoder that encore would not compute") {
    d.tensors["encoder.layer.1.attention.self.rel_bias.weight"] = {"F32", {4}, std::vector<float>(4, 0.1f)};
    expect = "tensor 'encoder.layer.1.attention.self.rel_bias.weight' is part of the bert encoder, but not of "
             "the computation encore runs";
  }
  SUBCASE("a DistilBERT architecture on a RoBERTa checkpoint") {
    d.config["model_type"] = R"("roberta")";
    d.config["pad_token_id"] = "0";
    d.config["architectures"] = R"(["DistilBertForSequenceClassification"])";
    expect = "config.json: architectures 'DistilBertForSequenceClassification' is not supported (encore converts "
             "RobertaModel";
  }
  SUBCASE("a sentence-transformers directory without modules (sentence_test.cc has the rest)") {
    extra_file = "modules.json";
    expect = "modules.json: no Transformer module";
  }
  d.write(w.model());
  if (!extra_file.empty()) std::ofstream(w.model() + "/" + extra_file) << "[]\n";
  auto c = convert(w);
  CAPTURE(c.status.message());
  CHECK(c.status.code() == code);
  CHECK(contains(c.status.message(), expect));
  CHECK(c.status.message().find('\n') == std::string::npos);
  CHECK(w.out_dir_empty());
}

// The same tensors in two shards with Hugging Face's index file convert to the same model as
// one model.safetensors; a broken index is refused naming what is wrong.
TEST_CASE("convert: sharded checkpoints (model.safetensors.index.json)") {
  auto d = testing::HfDir::bert();
  Workspace one;
  d.write(one.model());
  REQUIRE(convert(one, false).status.ok());
  auto single = Model::load(one.out());
  REQUIRE(single.ok());

  // Shard 1: the embeddings and layer 0; shard 2: the rest.
  testing::HfDir a = d, b = d;
  std::string map;
  for (const auto& [name, t] : d.tensors) {
    const bool first = name.rfind("embeddings.", 0) == 0 || name.rfind("encoder.layer.0.", 0) == 0;
    (first ? b : a).tensors.erase(name);
    map += (map.empty() ? "" : ", ") + ("\"" + name + "\": \"model-0000" + (first ? "1" : "2") + "-of-00002.safetensors\"");
  }
  Workspace sharded;
  a.vocab_lines = 0;
  b.vocab_lines = 0;
  a.write(sharded.model());
  fs::rename(fs::path(sharded.model()) / "model.safetensors", fs::path(sharded.model()) / "model-00001-of-00002.safetensors");
  b.write(sharded.model());
  fs::rename(fs::path(sharded.model()) / "model.safetensors", fs::path(sharded.model()) / "model-00002-of-00002.safetensors");
  fs::create_directories(sharded.root / "vocab-only");
  d.write((sharded.root / "vocab-only").string());  // config.json and vocab.txt of the whole model
  fs::copy_file(sharded.root / "vocab-only" / "vocab.txt", fs::path(sharded.model()) / "vocab.txt");
  fs::copy_file(sharded.root / "vocab-only" / "config.json", fs::path(sharded.model()) / "config.json",
                fs::copy_options::overwrite_existing);
  const std::string index = sharded.model() + "/model.safetensors.index.json";
  std::ofstream(index) << "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {" << map << "}}\n";

  SUBCASE("converts to the same model") {
    auto c = convert(sharded, false);
    INFO(c.status.message());
    REQUIRE(c.status.ok());
    CHECK(contains(c.report, "(2 shards)"));
    auto m = Model::load(sharded.out());
    REQUIRE(m.ok());
    std::vector<int32_t> ids = {1, 5, 9, 2};
    std::vector<float> outputs[2];
    int i = 0;
    for (const auto& model : {single.value(), m.value()}) {
      auto s = Session::create(model);
      REQUIRE(s.ok());
      Outputs out;
      Inputs in{1, 4, ids.data(), nullptr, nullptr};
      REQUIRE((*s)->run(in, &out).ok());
      outputs[i++].assign(out.last_hidden_state, out.last_hidden_state + 4 * out.hidden);
    }
    CHECK(outputs[0] == outputs[1]);
  }
  SUBCASE("a missing shard") {
    fs::remove(fs::path(sharded.model()) / "model-00002-of-00002.safetensors");
    auto c = convert(sharded, false);
    CHECK(contains(c.status.message(), "model-00002-of-00002.safetensors: not found"));
  }
  SUBCASE("a tensor the index places in the wrong shard") {
    std::string text = "{\"weight_map\": {" + map + ", \"pooler.extra\": \"model-00001-of-00002.safetensors\"}}";
    std::ofstream(index) << text;
    auto c = convert(sharded, false);
    CHECK(contains(c.status.message(), "tensor 'pooler.extra' is not in its shard model-00001-of-00002.safetensors"));
  }
  SUBCASE("a shard outside the directory") {
    std::ofstream(index) << "{\"weight_map\": {\"x\": \"../model.safetensors\"}}";
    auto c = convert(sharded, false);
    CHECK(contains(c.status.message(), "shard '../model.safetensors' is not a file name in the model directory"));
  }
  CHECK(sharded.out_dir_empty() == !fs::exists(sharded.out()));
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
    // Found before any work: nothing was read or reported.
    CHECK(out.str().empty());
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
