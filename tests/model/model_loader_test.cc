// Loader validation: good models load; every kind of damage gives its specific error.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <unistd.h>

#include "encore/model.h"
#include "encore/session.h"
#include "support/tiny_model.h"

namespace encore {
namespace {

using convert::ModelContents;
using convert::TensorData;

Status load_status(std::vector<uint8_t> bytes) {
  auto m = Model::load_from_memory(std::move(bytes));
  return m.ok() ? Status::Ok() : m.status();
}

Status load_contents(const ModelContents& c) {
  auto bytes = convert::serialize_model(c);
  REQUIRE(bytes.ok());
  return load_status(std::move(bytes).value());
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

ModelContents good_int8() {
  auto cfg = testing::tiny_config();
  cfg.labels = {"a", "b"};
  return testing::int8_contents_for(testing::random_checkpoint(cfg, 1));
}

TensorData* find(ModelContents& c, const std::string& name) {
  for (auto& t : c.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST_CASE("loader: f32 and int8 models load with their config") {
  auto cfg = testing::tiny_config();
  cfg.labels = {"neg", "pos"};
  auto ck = testing::random_checkpoint(cfg, 3);
  auto f32 = Model::load_from_memory(testing::f32_model_bytes(ck));
  REQUIRE(f32.ok());
  CHECK_FALSE((*f32)->is_quantized());
  CHECK((*f32)->config().hidden_size == 32);
  CHECK((*f32)->config().labels == std::vector<std::string>{"neg", "pos"});
  CHECK((*f32)->config().has_pooler);
  auto i8 = Model::load_from_memory(testing::int8_model_bytes(ck));
  REQUIRE(i8.ok());
  CHECK((*i8)->is_quantized());
  CHECK((*i8)->config().layer_count == 2);
}

TEST_CASE("loader: files that are not encore models") {
  Status st = load_status({});
  CHECK(st.code() == StatusCode::kInvalidModel);
  st = load_status(std::vector<uint8_t>(100, 0));
  CHECK(contains(st.message(), "not an encore model"));

  auto r = Model::load("/nonexistent/dir/model.encore");
  CHECK(r.status().code() == StatusCode::kIoError);
  CHECK(contains(r.status().message(), "/nonexistent/dir/model.encore"));
  r = Model::load("/tmp");
  CHECK(r.status().code() == StatusCode::kIoError);
  CHECK(contains(r.status().message(), "not a regular file"));

  char path[] = "/tmp/encore-empty-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  r = Model::load(path);
  CHECK(contains(r.status().message(), "empty"));
  std::remove(path);
}

TEST_CASE("loader: wrong format version") {
  auto c = good_int8();
  c.format_version = 99;
  Status st = load_contents(c);
  CHECK(st.code() == StatusCode::kInvalidModel);
  CHECK(contains(st.message(), "format version 99"));
}

// Model.ffn_down_row_scales (format version 9) changes what the int8 FFN-down computes: only
// int8 ModernBERT models have it, and an older version number with it is a corrupt file.
TEST_CASE("loader: per-token FFN-down scales only in int8 ModernBERT models of version 9") {
  auto c = good_int8();
  c.ffn_down_row_scales = true;
  Status st = load_contents(c);
  CHECK(st.code() == StatusCode::kUnsupported);
  CHECK(contains(st.message(), "ffn_down_row_scales in a model that is not ModernBERT"));
  c.format_version = 8;
  st = load_contents(c);
  CHECK(st.code() == StatusCode::kInvalidModel);
  CHECK(contains(st.message(), "ffn_down_row_scales needs format version 9, the file says 8"));
  auto f = convert::f32_contents(testing::random_checkpoint(testing::tiny_config(), 2), ModelMetadata{});
  f.ffn_down_row_scales = true;
  st = load_contents(f);
  CHECK(st.code() == StatusCode::kInvalidModel);
  CHECK(contains(st.message(), "ffn_down_row_scales in a model that is not int8"));
}

TEST_CASE("loader: every truncation is rejected") {
  auto bytes = convert::serialize_model(good_int8());
  REQUIRE(bytes.ok());
  const auto& full = bytes.value();
  REQUIRE(load_status(full).ok());
  size_t step = std::max<size_t>(1, full.size() / 400);
  for (size_t len = 0; len < full.size(); len += step) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
    CAPTURE(len);
    CHECK_FALSE(load_status(std::move(cut)).ok());
  }
}

TEST_CASE("loader: bit flips never crash, models that still load still run") {
  auto bytes = convert::serialize_model(good_int8());
  REQUIRE(bytes.ok());
  const auto& full = bytes.value();
  size_t header = 4 + (full[0] | full[1] << 8 | full[2] << 16 | static_cast<size_t>(full[3]) << 24);
  int loaded = 0, rejected = 0;
  for (size_t at = 0; at < header; at += 3) {
    std::vector<uint8_t> flipped = full;
    flipped[at] ^= static_cast<uint8_t>(1u << (at % 8));
    auto m = Model::load_from_memory(std::move(flipped));
    if (!m.ok()) {
      ++rejected;
      CHECK_FALSE(m.status().message().empty());
      continue;
    }
    ++loaded;
    auto s = Session::create(m.value());
    if (!s.ok()) continue;
    std::vector<int32_t> ids(4, 1);
    Inputs in;
    in.seq_len = 4;
    in.input_ids = ids.data();
    Outputs out;
    (void)(*s)->run(in, &out);
  }
  CHECK(rejected > 0);
  MESSAGE("bit flips in the header: " << rejected << " rejected, " << loaded << " still valid");
}

TEST_CASE("loader: semantic errors name the problem") {
  SUBCASE("missing tensor") {
    auto c = good_int8();
    c.tensors.erase(c.tensors.begin() + 5);
    Status st = load_contents(c);
    CHECK(contains(st.message(), "missing tensor"));
  }
  SUBCASE("shape disagrees with config") {
    auto c = good_int8();
    TensorData* t = find(c, "layer.1.attn_norm.gamma");
    REQUIRE(t);
    t->shape = {16, 2};
    CHECK(contains(load_contents(c).message(), "'layer.1.attn_norm.gamma' has shape [16, 2], expected [32]"));
  }
  SUBCASE("buffer size disagrees with shape") {
    auto c = good_int8();
    TensorData* t = find(c, "embeddings.position");
    t->bytes.resize(t->bytes.size() - 4);
    CHECK(contains(load_contents(c).message(), "'embeddings.position': buffer holds"));
  }
  SUBCASE("non-finite weight scale") {
    auto c = good_int8();
    find(c, "layer.0.qkv.weight")->scales[3] = std::nanf("");
    CHECK(contains(load_contents(c).message(), "scale nan"));
  }
  SUBCASE("wrong scale count") {
    auto c = good_int8();
    auto* t = find(c, "layer.0.ffn_up.weight");
    t->scales.pop_back();
    t->zero_points.pop_back();
    CHECK(contains(load_contents(c).message(), "63 scales for 64 channels"));
  }
  SUBCASE("zero point out of range") {
    auto c = good_int8();
    c.activations[2].zero_point = 300;
    CHECK(contains(load_contents(c).message(), "zero point 300"));
  }
  SUBCASE("missing activation quantization") {
    auto c = good_int8();
    c.activations.pop_back();
    CHECK(contains(load_contents(c).message(), "missing activation quantization 'layer.1.ffn_down.output'"));
  }
  SUBCASE("negative dimension") {
    auto c = good_int8();
    find(c, "classifier.bias")->shape = {-2};
    CHECK(contains(load_contents(c).message(), "dimension -2"));
  }
  SUBCASE("wrong dtype") {
    auto c = good_int8();
    find(c, "layer.0.attn_out.bias")->dtype = convert::TensorDType::kF32;
    CHECK(contains(load_contents(c).message(), "'layer.0.attn_out.bias' is f32, expected int32"));
  }
  SUBCASE("duplicate tensor") {
    auto c = good_int8();
    c.tensors.push_back(c.tensors[0]);
    CHECK(contains(load_contents(c).message(), "appears twice"));
  }
  SUBCASE("config: hidden not divisible by heads") {
    auto c = good_int8();
    c.config.head_count = 5;
    CHECK(contains(load_contents(c).message(), "not divisible"));
  }
  SUBCASE("config: huge dimensions") {
    auto c = good_int8();
    c.config.vocab_size = 2000000000;
    CHECK(contains(load_contents(c).message(), "vocab_size"));
  }
  SUBCASE("tokenizer vocab size disagrees") {
    auto c = good_int8();
    c.tokenizer.vocab = {"[PAD]", "a"};
    CHECK(contains(load_contents(c).message(), "tokenizer has 2 tokens"));
  }
}

}  // namespace
}  // namespace encore
