// The text-mode post-processing of the per-token heads (runtime/text/heads_text.h) on cases
// computed by hand from the Hugging Face pipelines' rules (token_classification.py "simple",
// question_answering.py select_starts_ends / decode_spans, fill_mask.py top-k).
#include <doctest/doctest.h>

#include <cmath>

#include "text/heads_text.h"

namespace encore::text {
namespace {

const std::vector<std::string> kLabels = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};

// A row of logits: `value` at label `hot`, 0 elsewhere.
void row(std::vector<float>* logits, size_t hot, float value) {
  std::vector<float> r(kLabels.size(), 0.0f);
  r[hot] = value;
  logits->insert(logits->end(), r.begin(), r.end());
}

// p of a label at logit v among four others at 0.
double p_of(double v) { return std::exp(v) / (std::exp(v) + 4.0); }

TEST_CASE("token classification: simple aggregation groups B-/I- runs, skips specials and O") {
  const std::string text = "John lives in New York";
  // [CLS] John lives in New York [SEP]
  const std::vector<CharSpan> offsets = {{0, 0}, {0, 4}, {5, 10}, {11, 13}, {14, 17}, {18, 22}, {0, 0}};
  const std::vector<uint8_t> special = {1, 0, 0, 0, 0, 0, 1};
  std::vector<float> logits;
  row(&logits, 3, 9.0f);  // [CLS]: B-LOC, but special: never an entity
  row(&logits, 1, 2.0f);  // John B-PER
  row(&logits, 0, 2.0f);  // lives O
  row(&logits, 0, 2.0f);  // in O
  row(&logits, 3, 2.0f);  // New B-LOC
  row(&logits, 4, 3.0f);  // York I-LOC
  row(&logits, 4, 9.0f);  // [SEP]
  auto e = group_entities_simple(logits.data(), 7, kLabels, offsets.data(), special.data(), text);
  REQUIRE(e.size() == 2);
  CHECK(e[0].label == "PER");
  CHECK(e[0].word == "John");
  CHECK(e[0].start == 0);
  CHECK(e[0].end == 4);
  CHECK(e[0].score == doctest::Approx(p_of(2.0)));
  CHECK(e[1].label == "LOC");
  CHECK(e[1].word == "New York");
  CHECK(e[1].start == 14);
  CHECK(e[1].end == 22);
  CHECK(e[1].first_token == 4);
  CHECK(e[1].last_token == 5);
  CHECK(e[1].score == doctest::Approx((p_of(2.0) + p_of(3.0)) / 2));  // 0.74136

  SUBCASE("a second B- of the same tag starts a new group; an I- of another tag too") {
    std::vector<float> l2;
    row(&l2, 3, 2.0f);  // B-LOC
    row(&l2, 3, 2.0f);  // B-LOC: new group
    row(&l2, 2, 2.0f);  // I-PER: new group, labelled PER
    row(&l2, 2, 2.0f);  // I-PER: joins
    const std::vector<CharSpan> o2 = {{0, 1}, {2, 3}, {4, 5}, {6, 7}};
    auto g = group_entities_simple(l2.data(), 4, kLabels, o2.data(), nullptr, "a b c d");
    REQUIRE(g.size() == 3);
    CHECK(g[0].word == "a");
    CHECK(g[1].word == "b");
    CHECK(g[2].label == "PER");
    CHECK(g[2].word == "c d");
  }
  SUBCASE("ignore_labels empty keeps the O groups") {
    auto all = group_entities_simple(logits.data(), 7, kLabels, offsets.data(), special.data(), text, {});
    REQUIRE(all.size() == 3);
    CHECK(all[1].label == "O");
    CHECK(all[1].word == "lives in");
  }
}

TEST_CASE("question answering: context-masked softmax, best span, windows, impossible answer") {
  const std::string context = "abc defgh ijkl";
  // [CLS] q [SEP] abc defgh ijkl
  const std::vector<CharSpan> offsets = {{0, 0}, {0, 0}, {0, 0}, {0, 3}, {4, 9}, {10, 14}};
  const std::vector<uint8_t> ctx = {0, 0, 0, 1, 1, 1};
  const std::vector<float> start = {5, 0, 0, 1, 3, 0}, end = {5, 0, 0, 0, 1.5f, 4};
  QaWindow a{start.data(), end.data(), 6, ctx.data(), offsets.data(), nullptr};
  // p_start over {abc, defgh, ijkl} = softmax(1, 3, 0); p_end = softmax(0, 1.5, 4).
  const double ps4 = std::exp(3.0) / (std::exp(1.0) + std::exp(3.0) + 1.0);
  const double pe5 = std::exp(4.0) / (1.0 + std::exp(1.5) + std::exp(4.0));
  const double pe4 = std::exp(1.5) / (1.0 + std::exp(1.5) + std::exp(4.0));
  auto best = select_answers({a}, context);
  REQUIRE(best.size() == 1);
  CHECK(best[0].answer == "defgh ijkl");
  CHECK(best[0].start == 4);
  CHECK(best[0].end == 14);
  CHECK(best[0].score == doctest::Approx(ps4 * pe5));  // 0.7668

  auto short_span = select_answers({a}, context, 1, /*max_answer_len=*/1);
  REQUIRE(short_span.size() == 1);
  CHECK(short_span[0].answer == "defgh");
  CHECK(short_span[0].score == doctest::Approx(ps4 * pe4));

  // A second window holding only "ijkl": its one context token takes all the probability.
  const std::vector<CharSpan> offsets_b = {{0, 0}, {0, 0}, {0, 0}, {10, 14}};
  const std::vector<uint8_t> ctx_b = {0, 0, 0, 1};
  const std::vector<float> start_b = {0, 0, 0, 0}, end_b = {0, 0, 0, 0};
  QaWindow b{start_b.data(), end_b.data(), 4, ctx_b.data(), offsets_b.data(), nullptr};
  auto two = select_answers({a, b}, context, 2);
  REQUIRE(two.size() == 2);
  CHECK(two[0].answer == "ijkl");
  CHECK(two[0].window == 1);
  CHECK(two[0].score == doctest::Approx(1.0));
  CHECK(two[1].answer == "defgh ijkl");
  CHECK(two[1].window == 0);

  // The pipeline leaves [CLS] unmasked (p_mask[cls] = 0): its probabilities give the null score.
  const std::vector<uint8_t> ctx_cls = {1, 0, 0, 1, 1, 1};
  QaWindow c{start.data(), end.data(), 6, ctx_cls.data(), offsets.data(), nullptr};
  const double zs = std::exp(5.0) + std::exp(1.0) + std::exp(3.0) + 1.0;
  const double ze = std::exp(5.0) + 1.0 + std::exp(1.5) + std::exp(4.0);
  auto none = select_answers({c}, context, 2, 15, /*handle_impossible_answer=*/true);
  REQUIRE(none.size() == 2);
  CHECK(none[0].answer.empty());
  CHECK(none[0].start == 0);
  CHECK(none[0].end == 0);
  CHECK(none[0].score == doctest::Approx(std::exp(5.0) / zs * std::exp(5.0) / ze));  // 0.6134
  CHECK(none[1].answer == "defgh ijkl");
  CHECK(none[1].score == doctest::Approx(std::exp(3.0) / zs * std::exp(4.0) / ze));
}

TEST_CASE("question answering: align_to_words widens a span to its words") {
  const std::string context = "abc defgh";
  const std::vector<CharSpan> offsets = {{0, 0}, {0, 3}, {4, 7}, {7, 9}};  // [CLS] abc def ##gh
  const std::vector<uint8_t> ctx = {0, 1, 1, 1};
  const std::vector<int32_t> words = {-1, 0, 1, 1};
  const std::vector<float> start = {0, 0, 0, 9}, end = {0, 0, 0, 9};
  QaWindow plain{start.data(), end.data(), 4, ctx.data(), offsets.data(), nullptr};
  QaWindow aligned{start.data(), end.data(), 4, ctx.data(), offsets.data(), words.data()};
  CHECK(select_answers({plain}, context)[0].answer == "gh");
  CHECK(select_answers({aligned}, context)[0].answer == "defgh");
}

TEST_CASE("fill-mask: softmax over the vocabulary, top k, ties to the lower id") {
  const std::vector<float> logits = {1, 3, 3, 0};
  auto top = fill_mask_top_k(logits.data(), 4, 2);
  REQUIRE(top.size() == 2);
  const double z = std::exp(1.0) + 2 * std::exp(3.0) + 1.0;
  CHECK(top[0].token_id == 1);
  CHECK(top[1].token_id == 2);
  CHECK(top[0].score == doctest::Approx(std::exp(3.0) / z));  // 0.4576
  CHECK(fill_mask_top_k(logits.data(), 4, 10).size() == 4);
  CHECK(fill_mask_top_k(logits.data(), 4, 10)[3].token_id == 3);
}

}  // namespace
}  // namespace encore::text
