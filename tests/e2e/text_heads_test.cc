// The per-token heads' text mode (TextEncoder::classify_tokens / answer / fill_mask) against
// tests/fixtures/heads_text/goldens.json, written by tools/reference/text_heads.py: its own
// WordPiece tokenizer, the PyTorch forward pass of the heads_bert_*, heads_distilbert_qa and
// heads_roberta_qa fixtures (float64) and a
// re-implementation of Hugging Face's TokenClassificationPipeline ("simple"),
// QuestionAnsweringPipeline (with the fast tokenizer's overflowing windows) and
// FillMaskPipeline, none of it encore's code.
//
// f32 models: labels, spans, answers, windows and token ids exactly; scores within 1e-4.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "encore/text.h"
#include "golden_util.h"

namespace encore {
namespace {

using e2e::fixture;
using e2e::TempDir;
using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr float kScoreTolerance = 1e-4f;

const Json& goldens() {
  static const Json j = [] {
    std::ifstream f(fixture("heads_text") + "/goldens.json");
    return Json::parse(f);
  }();
  return j;
}

// The heads fixture with heads_text/vocab.txt beside it (a RoBERTa-like: roberta_tokenizer.json
// as its tokenizer.json), converted and loaded.
std::shared_ptr<const Model> convert_with_vocab(const std::string& name, bool int8, const TempDir& tmp) {
  const fs::path dir = tmp.path / name;
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(fixture(name) + "/" + f, dir / f);
  if (name.find("roberta") != std::string::npos) {
    fs::copy_file(fixture("heads_text") + "/roberta_tokenizer.json", dir / "tokenizer.json");
  } else {
    fs::copy_file(fixture("heads_text") + "/vocab.txt", dir / "vocab.txt");
  }
  convert::ConvertOptions o;
  o.model_dir = dir.string();
  o.output = (tmp.path / (name + ".encore")).string();
  o.int8 = int8;
  if (int8) o.calib_path = fixture(name) + "/calib_ids.npy";
  return e2e::convert_and_load(o);
}

std::unique_ptr<TextEncoder> encoder_for(const std::string& name, bool int8, const TempDir& tmp) {
  auto e = TextEncoder::create(convert_with_vocab(name, int8, tmp));
  INFO(e.status().message());
  REQUIRE(e.ok());
  return std::move(e).value();
}

TEST_CASE("text heads: token classification entities as the pipeline's aggregation simple") {
  TempDir tmp;
  auto enc = encoder_for("heads_bert_token", false, tmp);
  std::vector<std::string> texts;
  for (const Json& g : goldens()["token"]) texts.push_back(g["text"]);
  auto r = enc->classify_tokens(texts);  // one padded batch
  REQUIRE(r.ok());
  REQUIRE(r->size() == texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const Json& g = goldens()["token"][i];
    const TokenClassificationResult& got = (*r)[i];
    INFO(texts[i]);
    REQUIRE(got.entities.size() == g["entities"].size());
    for (size_t k = 0; k < got.entities.size(); ++k) {
      const Json& want = g["entities"][k];
      CHECK(got.entities[k].label == want["entity_group"].get<std::string>());
      CHECK(got.entities[k].word == want["word"].get<std::string>());
      CHECK(got.entities[k].char_start == want["start"].get<size_t>());
      CHECK(got.entities[k].char_end == want["end"].get<size_t>());
      CHECK(std::fabs(got.entities[k].score - want["score"].get<float>()) <= kScoreTolerance);
      // Bytes index the UTF-8 text: the same word.
      CHECK(texts[i].substr(got.entities[k].start, got.entities[k].end - got.entities[k].start) == got.entities[k].word);
    }
    // Per token (special tokens skipped, as the pipeline does).
    std::vector<std::string> labels;
    for (const std::string& l : got.token_labels) {
      if (!l.empty()) labels.push_back(l);
    }
    CHECK(labels == g["token_labels"].get<std::vector<std::string>>());
  }
  // "Zoé works at" spans a two-byte character: bytes and characters differ after it.
  const TextEntity& zoe = (*r)[2].entities[0];
  CHECK(zoe.char_end + 1 == zoe.end);
}

TEST_CASE("text heads: question answering over overlapping windows") {
  TempDir tmp;
  // DistilBERT: its windows carry no token types; RoBERTa: <s> q </s></s> c </s>.
  for (const auto& [name, key] : {std::pair<std::string, std::string>{"heads_bert_qa", "qa"},
                                  {"heads_distilbert_qa", "qa_distilbert"},
                                  {"heads_roberta_qa", "qa_roberta"}}) {
    auto enc = encoder_for(name, false, tmp);
    for (const Json& g : goldens()[key]) {
      AnswerOptions o;
      o.top_k = g["top_k"];
      o.max_answer_len = g["max_answer_len"];
      o.doc_stride = g["doc_stride"];
      o.align_to_words = g["align_to_words"];
      o.handle_impossible_answer = g["handle_impossible_answer"];
      const std::string question = g["question"], context = g["context"];
      INFO(name << ": " << question << " | " << context << " | stride " << o.doc_stride);
      auto r = enc->answer(question, context, o);
      INFO(r.status().message());
      REQUIRE(r.ok());
      CHECK(r->windows == g["windows"].get<int64_t>());
      REQUIRE(r->answers.size() == g["answers"].size());
      for (size_t k = 0; k < r->answers.size(); ++k) {
        const Json& want = g["answers"][k];
        const TextAnswer& a = r->answers[k];
        CHECK(a.answer == want["answer"].get<std::string>());
        CHECK(a.char_start == want["start"].get<size_t>());
        CHECK(a.char_end == want["end"].get<size_t>());
        CHECK(a.window == want["window"].get<int64_t>());
        CHECK(std::fabs(a.score - want["score"].get<float>()) <= kScoreTolerance);
      }
    }
  }
}

TEST_CASE("text heads: fill-mask top-k at every mask token") {
  TempDir tmp;
  auto enc = encoder_for("heads_bert_mlm", false, tmp);
  for (const Json& g : goldens()["mlm"]) {
    const std::string text = g["text"];
    INFO(text);
    auto r = enc->fill_mask({text}, g["top_k"].get<int>());
    REQUIRE(r.ok());
    const FillMaskResult& got = (*r)[0];
    REQUIRE(got.masks.size() == g["masks"].size());
    for (size_t m = 0; m < got.masks.size(); ++m) {
      const Json& want = g["masks"][m];
      CHECK(got.masks[m].position == want["position"].get<int64_t>());
      REQUIRE(got.masks[m].predictions.size() == want["predictions"].size());
      for (size_t k = 0; k < got.masks[m].predictions.size(); ++k) {
        const MaskPrediction& p = got.masks[m].predictions[k];
        CHECK(p.token_id == want["predictions"][k]["token_id"].get<int32_t>());
        CHECK(p.token == want["predictions"][k]["token"].get<std::string>());
        CHECK(std::fabs(p.score - want["predictions"][k]["score"].get<float>()) <= kScoreTolerance);
      }
    }
  }
  // The sequence: this mask replaced by the token, a "##" continuation joined to its left.
  auto r = enc->fill_mask({"john [MASK] in paris."}, 5);
  REQUIRE(r.ok());
  for (const MaskPrediction& p : (*r)[0].masks[0].predictions) {
    const std::string word = p.token.rfind("##", 0) == 0 ? p.token.substr(2) : p.token;
    CHECK(p.sequence == "john " + word + " in paris.");
  }
}

TEST_CASE("text heads: int8 models give the f32 answers on these inputs") {
  TempDir tmp;
  auto token = encoder_for("heads_bert_token", true, tmp);
  auto qa = encoder_for("heads_bert_qa", true, tmp);
  auto mlm = encoder_for("heads_bert_mlm", true, tmp);
  int entities_same = 0, entities = 0;
  for (const Json& g : goldens()["token"]) {
    auto r = token->classify_tokens({g["text"].get<std::string>()});
    REQUIRE(r.ok());
    entities += static_cast<int>(g["entities"].size());
    for (size_t k = 0; k < g["entities"].size() && k < (*r)[0].entities.size(); ++k) {
      entities_same += (*r)[0].entities[k].label == g["entities"][k]["entity_group"].get<std::string>() &&
                       (*r)[0].entities[k].char_end == g["entities"][k]["end"].get<size_t>();
    }
  }
  int answers_same = 0;
  for (const Json& g : goldens()["qa"]) {
    AnswerOptions o;
    o.doc_stride = g["doc_stride"];
    o.max_answer_len = g["max_answer_len"];
    auto r = qa->answer(g["question"], g["context"], o);
    REQUIRE(r.ok());
    answers_same += !r->answers.empty() && r->answers[0].answer == g["answers"][0]["answer"].get<std::string>();
  }
  int top1_same = 0, masks = 0;
  for (const Json& g : goldens()["mlm"]) {
    auto r = mlm->fill_mask({g["text"].get<std::string>()}, 1);
    REQUIRE(r.ok());
    for (size_t m = 0; m < g["masks"].size(); ++m, ++masks) {
      top1_same += (*r)[0].masks[m].predictions[0].token_id == g["masks"][m]["predictions"][0]["token_id"].get<int32_t>();
    }
  }
  MESSAGE("int8 vs PyTorch float: entities " << entities_same << "/" << entities << ", answers " << answers_same << "/"
                                             << goldens()["qa"].size() << ", fill-mask top-1 " << top1_same << "/"
                                             << masks);
  // Random 1-layer fixtures with top-2 margins down to 0.01: int8 may flip a close token; most
  // must agree.
  CHECK(entities_same * 4 >= entities * 3);
  CHECK(answers_same * 2 >= static_cast<int>(goldens()["qa"].size()));
  CHECK(top1_same * 2 >= masks);
}

TEST_CASE("text heads: errors are one-line kInvalidArgument") {
  TempDir tmp;
  auto qa = encoder_for("heads_bert_qa", false, tmp);
  auto mlm = encoder_for("heads_bert_mlm", false, tmp);
  auto check = [](const Status& st, const std::string& text) {
    INFO(st.message());
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CHECK(st.message().find(text) != std::string::npos);
    CHECK(st.message().find('\n') == std::string::npos);
  };
  check(qa->classify_tokens({"john"}).status(), "classify_tokens needs a token-classification head");
  check(qa->fill_mask({"john [MASK]"}).status(), "fill_mask needs a fill-mask head");
  check(mlm->answer("who?", "john").status(), "answer needs a question-answering head");
  check(mlm->fill_mask({"john [MASK] paris", "no mask here"}).status(), "text 1: no mask token [MASK] in the text");
  check(mlm->fill_mask({"john [MASK]"}, 0).status(), "top_k 0 must be at least 1");
  // 16 positions: [CLS] q [SEP] c [SEP] leaves 13 for question and context.
  check(qa->answer("who was born in the north of the big old city near the river?", "john").status(),
        "leaves no room for the context within max_seq_len 16");
  AnswerOptions o;
  o.doc_stride = 11;  // "where?" = 2 tokens: windows hold 11 context tokens
  check(qa->answer("where?", goldens()["qa"][1]["context"].get<std::string>(), o).status(),
        "doc_stride 11 must be less than the 11 context tokens a window holds");
  o.doc_stride = 17;
  check(qa->answer("where?", "john", o).status(), "doc_stride 17 is larger than max_seq_len 16");
  o = AnswerOptions();
  o.max_seq_len = 17;
  check(qa->answer("where?", "john", o).status(), "max_seq_len 17 is over the model's limit of 16");
  // A context that fits is one window, whatever the stride.
  o = AnswerOptions();
  o.doc_stride = 0;
  auto one = qa->answer("who?", "john smith");
  REQUIRE(one.ok());
  CHECK(one->windows == 1);
}

}  // namespace
}  // namespace encore
