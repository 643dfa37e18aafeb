// Hugging Face config.json / tokenizer_config.json / vocab.txt parsing.
#include <doctest/doctest.h>

#include "io/hf_config.h"
#include "io_test_util.h"

namespace encore::io {
namespace {

using testing::contains;
using testing::TempDir;

const char* kBertBase = R"({
  "architectures": ["BertForSequenceClassification"], "model_type": "bert",
  "hidden_size": 768, "num_attention_heads": 12, "num_hidden_layers": 12, "intermediate_size": 3072,
  "hidden_act": "gelu", "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "vocab_size": 30522,
  "type_vocab_size": 2, "pad_token_id": 0, "hidden_dropout_prob": 0.1,
  "id2label": {"1": "positive", "0": "negative"}, "label2id": {"negative": 0, "positive": 1}
})";

// kBertBase with one key overridden: added last, since the parser keeps the last duplicate.
std::string with(const std::string& key_value) {
  std::string s = kBertBase;
  return s.insert(s.rfind('}'), ", " + key_value);
}

TEST_CASE("hf config: a BERT-base classifier config") {
  auto r = parse_hf_config(kBertBase);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const EncoderConfig& c = r->encoder;
  CHECK(c.hidden_size == 768);
  CHECK(c.head_count == 12);
  CHECK(c.layer_count == 12);
  CHECK(c.intermediate_size == 3072);
  CHECK(c.max_positions == 512);
  CHECK(c.vocab_size == 30522);
  CHECK(c.type_vocab_size == 2);
  CHECK(c.activation == Activation::kGeluErf);
  CHECK(c.layer_norm_eps == 1e-12f);
  CHECK(c.labels == std::vector<std::string>{"negative", "positive"});  // id order, not file order
  CHECK(r->architectures == std::vector<std::string>{"BertForSequenceClassification"});
}

TEST_CASE("hf config: defaults, activations, num_labels") {
  auto r = parse_hf_config(R"({"model_type": "bert", "hidden_size": 8, "num_attention_heads": 2,
      "num_hidden_layers": 1, "intermediate_size": 16, "vocab_size": 10, "max_position_embeddings": 4})");
  REQUIRE(r.ok());
  CHECK(r->encoder.type_vocab_size == 2);
  CHECK(r->encoder.layer_norm_eps == 1e-12f);
  CHECK(r->encoder.activation == Activation::kGeluErf);
  CHECK(r->encoder.labels.empty());
  for (auto [name, act] : {std::pair{"gelu_new", Activation::kGeluTanh}, {"gelu_pytorch_tanh", Activation::kGeluTanh},
                           {"relu", Activation::kRelu}}) {
    auto a = parse_hf_config(with(std::string(R"("hidden_act": ")") + name + "\""));
    REQUIRE(a.ok());
    CHECK(a->encoder.activation == act);
  }
  std::string no_id2label = kBertBase;
  no_id2label.erase(no_id2label.find(",\n  \"id2label\""), std::string::npos);
  auto n = parse_hf_config(no_id2label + R"(, "num_labels": 3})");
  INFO(n.status().message());
  REQUIRE(n.ok());
  CHECK(n->encoder.labels == std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2"});
}

TEST_CASE("hf config: unsupported and malformed configs name the problem") {
  struct Case {
    std::string text;
    StatusCode code;
    const char* message;
  };
  const Case cases[] = {
      {"{", StatusCode::kInvalidModel, "not valid JSON"},
      {"[1]", StatusCode::kInvalidModel, "not a JSON object"},
      {with(R"("model_type": "deberta-v2")"), StatusCode::kUnsupported, "model_type 'deberta-v2'"},
      {with(R"("hidden_act": "swish")"), StatusCode::kUnsupported, "hidden_act 'swish'"},
      {with(R"("num_attention_heads": 7)"), StatusCode::kInvalidModel, "not divisible"},
      {with(R"("hidden_size": 768.5)"), StatusCode::kInvalidModel, "'hidden_size' is not an integer"},
      {with(R"("hidden_size": "768")"), StatusCode::kInvalidModel, "'hidden_size' is not an integer"},
      {with(R"("num_hidden_layers": 0)"), StatusCode::kInvalidModel, "'num_hidden_layers' = 0"},
      {with(R"("vocab_size": 100000000000)"), StatusCode::kInvalidModel, "'vocab_size'"},
      {with(R"("layer_norm_eps": -1)"), StatusCode::kInvalidModel, "layer_norm_eps"},
      {with(R"("id2label": {"0": "a", "2": "c"})"), StatusCode::kInvalidModel, "id2label ids"},
      {with(R"("id2label": {"x": "a"})"), StatusCode::kInvalidModel, "key 'x'"},
      {with(R"("num_labels": 3)"), StatusCode::kInvalidModel, "disagrees with id2label"},
      {R"({"model_type": "bert"})", StatusCode::kInvalidModel, "'hidden_size' is missing"},
  };
  for (const Case& c : cases) {
    auto r = parse_hf_config(c.text);
    INFO(c.text << " -> " << r.status().message());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == c.code);
    CHECK(contains(r.status().message(), c.message));
  }
}

TEST_CASE("hf config: directory reading with tokenizer_config.json") {
  TempDir dir;
  CHECK(read_hf_config(dir.path.string()).status().code() == StatusCode::kIoError);
  testing::write_bytes(dir.file("config.json"), kBertBase);
  auto r = read_hf_config(dir.path.string());
  REQUIRE(r.ok());
  CHECK(r->do_lower_case);
  CHECK_FALSE(r->strip_accents_set);
  testing::write_bytes(dir.file("tokenizer_config.json"), R"({"do_lower_case": false, "strip_accents": true})");
  r = read_hf_config(dir.path.string());
  REQUIRE(r.ok());
  CHECK_FALSE(r->do_lower_case);
  CHECK(r->strip_accents_set);
  CHECK(r->strip_accents);
  testing::write_bytes(dir.file("tokenizer_config.json"), R"({"do_lower_case": "yes"})");
  CHECK(contains(read_hf_config(dir.path.string()).status().message(), "do_lower_case"));
}

TEST_CASE("vocab: CRLF and LF lines, empty, duplicate and invalid UTF-8 lines rejected") {
  TempDir dir;
  testing::write_bytes(dir.file("v.txt"), "[PAD]\r\n[UNK]\nhello\n##lo\n\xc3\xa9t\xc3\xa9\n");
  auto v = read_vocab(dir.file("v.txt"));
  REQUIRE(v.ok());
  CHECK(*v == std::vector<std::string>{"[PAD]", "[UNK]", "hello", "##lo", "\xc3\xa9t\xc3\xa9"});
  testing::write_bytes(dir.file("v.txt"), "");
  CHECK(contains(read_vocab(dir.file("v.txt")).status().message(), "empty"));
  testing::write_bytes(dir.file("v.txt"), "a\nb\na\n");
  CHECK(contains(read_vocab(dir.file("v.txt")).status().message(), "line 3 repeats the token on line 1"));
  testing::write_bytes(dir.file("v.txt"), "a\n\xff\xfe\n");
  CHECK(contains(read_vocab(dir.file("v.txt")).status().message(), "line 2 is not valid UTF-8"));
  testing::write_bytes(dir.file("v.txt"), "a\n\xc0\x80\n");  // overlong NUL
  CHECK(contains(read_vocab(dir.file("v.txt")).status().message(), "line 2 is not valid UTF-8"));
  CHECK(read_vocab(dir.file("none.txt")).status().code() == StatusCode::kIoError);
}

}  // namespace
}  // namespace encore::io
