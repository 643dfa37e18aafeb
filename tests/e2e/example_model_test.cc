// The example model (tools/train/langid, trained by tools/train/train_langid.py): encore's
// tokenizer must give exactly the ids the training script fed PyTorch, and the int8 model must
// stay within 1 percentage point of the f32 model's accuracy on the held-out words.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "analyze/ablation.h"
#include "analyze/eval_set.h"
#include "analyze/evaluate.h"
#include "convert/converter.h"
#include "encore/text.h"
#include "io/npy.h"

namespace encore {
namespace {
namespace fs = std::filesystem;

const std::string kDir = std::string(ENCORE_FIXTURES_DIR) + "/../../tools/train/langid";

struct TestSet {
  std::vector<std::string> words, labels;
};

TestSet read_test_set() {
  TestSet t;
  std::ifstream in(kDir + "/test.tsv");
  REQUIRE(in.good());
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    t.words.push_back(line.substr(0, tab));
    t.labels.push_back(line.substr(tab + 1));
  }
  return t;
}

std::shared_ptr<const Model> convert_example(bool int8, const fs::path& dir) {
  convert::ConvertOptions o;
  o.model_dir = kDir;
  o.output = (dir / (int8 ? "langid.int8.encore" : "langid.f32.encore")).string();
  o.int8 = int8;
  if (int8) o.calib_path = kDir + "/calib_ids.npy";
  std::ostringstream out, err;
  Status st = convert::convert_model(o, out, err);
  INFO(st.message());
  REQUIRE(st.ok());
  auto m = Model::load(o.output);
  REQUIRE(m.ok());
  return m.value();
}

TEST_CASE("example model: tokenizer ids equal the training script's, int8 accuracy within 1 point of f32") {
  char tmpl[] = "/tmp/encore-langid-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  const TestSet test = read_test_set();
  auto ids = io::read_npy(kDir + "/test_ids.npy");
  REQUIRE(ids.ok());
  REQUIRE(ids->shape.size() == 2);
  REQUIRE(ids->shape[0] == static_cast<int64_t>(test.words.size()));

  // Under emulation (ARM tests in qemu) every 5th word: f32 arithmetic is emulated ~500x slower.
#ifdef ENCORE_TEST_EMULATED
  const size_t stride = 5;
#else
  const size_t stride = 1;
#endif
  double accuracy[2] = {0, 0};
  for (bool int8 : {false, true}) {
    auto model = convert_example(int8, dir);
    auto text = TextEncoder::create(model);
    REQUIRE(text.ok());
    if (!int8) {
      // Token ids: [CLS] pieces [SEP] then [PAD] (id 0) to the array's width.
      int mismatched = 0;
      const size_t width = static_cast<size_t>(ids->shape[1]);
      for (size_t i = 0; i < test.words.size(); ++i) {
        encore::TextEncodeOptions options;
        options.max_length = 32;
        auto e = (*text)->tokenizer().encode(test.words[i], options);
        REQUIRE(e.ok());
        std::vector<int64_t> want(ids->ints.begin() + static_cast<std::ptrdiff_t>(i * width),
                                  ids->ints.begin() + static_cast<std::ptrdiff_t>((i + 1) * width));
        std::vector<int64_t> got(e->ids.begin(), e->ids.end());
        got.resize(width, 0);
        mismatched += got != want;
      }
      CHECK(mismatched == 0);
    }
    int correct = 0, evaluated = 0;
    std::vector<std::string> batch;
    std::vector<std::string> labels;
    for (size_t i = 0; i < test.words.size(); i += stride) {
      batch.push_back(test.words[i]);
      labels.push_back(test.labels[i]);
      if (batch.size() == 256 || i + stride >= test.words.size()) {
        auto r = (*text)->classify(batch);
        REQUIRE(r.ok());
        for (size_t j = 0; j < batch.size(); ++j) correct += (*r)[j].label == labels[j];
        evaluated += static_cast<int>(batch.size());
        batch.clear();
        labels.clear();
      }
    }
    accuracy[int8] = double(correct) / double(evaluated);
  }
  MESSAGE("example model test accuracy: f32 " << accuracy[0] << ", int8 " << accuracy[1]);
  CHECK(accuracy[0] > 0.75);  // the training script reported 0.8019 in PyTorch float32
  CHECK(accuracy[1] >= accuracy[0] - 0.01);
  fs::remove_all(dir);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// The pruning pipeline on real data: automatic head and FFN pruning within 0.5 points of the
// tuning half (even rows of test.tsv) must also stay within 0.5 points on the held-out half
// (odd rows), measured here independently of the converter's own report; the pruned model
// must be narrower; and the ablation report must cover every head and FFN.
// Under the sanitizers (about 8x slower: 220 s) the same pipeline runs on every 9th word
// (600 of all nine languages), under qemu (the ARM legs, slower still) on every 27th with a
// fixed head list and FFN fraction instead of the searches: too few words to hold an accuracy
// bound to, so there only the structure is checked; the bound is checked by the native
// release and CI builds.
#ifdef ENCORE_TEST_EMULATED
constexpr int kEvery = 27;
#else
constexpr int kEvery = kSanitized ? 9 : 1;
#endif
TEST_CASE("example model: automatic pruning stays within 0.5 points on held-out words, ablation covers every part") {
  char tmpl[] = "/tmp/encore-langid-prune-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  auto unpruned = convert_example(true, dir);
  std::string words = kDir + "/test.tsv";
  if (kEvery > 1) {
    std::ifstream in(words);
    words = (dir / "subset.tsv").string();
    std::ofstream subset(words);
    std::string line;
    for (int i = 0; std::getline(in, line); ++i) {
      if (i % kEvery == 0) subset << line << "\n";
    }
  }
  convert::ConvertOptions o;
  o.model_dir = kDir;
  o.output = (dir / "langid.pruned.encore").string();
  o.calib_path = kDir + "/calib_ids.npy";
  o.prune.heads = "auto";
  o.prune.ffn_auto = true;
#ifdef ENCORE_TEST_EMULATED
  o.prune.heads = "1:2";
  o.prune.ffn_auto = false;
  o.prune.ffn_fraction = 0.25;
#endif
  o.prune.max_accuracy_drop = 0.5;
  o.prune.eval.path = words;
  std::ostringstream out, err;
  Status st = convert::convert_model(o, out, err);
  INFO(st.message());
  REQUIRE(st.ok());
  MESSAGE(out.str().substr(out.str().find("pruning:")));
  auto pruned = Model::load(o.output);
  REQUIRE(pruned.ok());
  const EncoderConfig& c = (*pruned)->config();
  REQUIRE(c.is_pruned());
  if (kEvery == 1) CHECK(c.total_heads() + c.intermediate_in_layer(0) + c.intermediate_in_layer(1) < 8 + 2 * 256);

  auto all = analyze::load_eval_set({words, "", ""}, *unpruned);
  REQUIRE(all.ok());
  const auto [tune, held] = analyze::split_even_odd(*all);
  auto evaluate = [&](std::shared_ptr<const Model> m) {
    auto s = Session::create(std::move(m));
    REQUIRE(s.ok());
    analyze::Evaluator eval(**s, held);
    auto r = eval.run();
    REQUIRE(r.ok());
    return *r;
  };
  const analyze::EvalResult held_before = evaluate(unpruned), held_after = evaluate(*pruned);
  const double before = held_before.accuracy, after = held_after.accuracy;
  // The search promised a drop within 0.5 points on the tuning half, at two standard errors;
  // the held-out half measures the same drop with its own sampling noise (2700 texts: a paired
  // standard error near 0.3 points), so it is held to the same bound at the same confidence:
  // its data must be consistent with a drop of at most 0.5 points, and never show more than 1.
  const double drop = analyze::accuracy_drop_bound(held_before, held_after, 0.0);
  const double drop_low = analyze::accuracy_drop_bound(held_before, held_after, -2.0);
  MESSAGE("held-out accuracy: unpruned " << before << ", pruned " << after << "; drop " << drop
                                         << " points, less two standard errors " << drop_low);
  if (kEvery == 1) {
    CHECK(drop_low <= 0.5);
    CHECK(drop <= 1.0);
  }

  auto session = Session::create(unpruned);
  REQUIRE(session.ok());
  auto report = analyze::run_ablation(**session, held, 64, nullptr);
  REQUIRE(report.ok());
  CHECK(report->baseline.accuracy == doctest::Approx(before));
  CHECK(report->heads.size() == 8);
  CHECK(report->ffn.size() == 2);
  CHECK(report->best_head_only.size() == 2);
  for (const auto& a : report->ffn) CHECK(a.result.count == held.count);
  // One head kept in the whole model: every head once, in order; the last entry equals an
  // evaluation with every other head masked by hand.
  REQUIRE(report->single_head.size() == 8);
  for (size_t i = 0; i < 8; ++i) {
    CHECK(report->single_head[i].layer == static_cast<int>(i / 4));
    CHECK(report->single_head[i].head == static_cast<int>(i % 4));
  }
  for (int l = 0; l < 2; ++l) {
    for (int h = 0; h < 4; ++h) {
      if (l != 1 || h != 3) REQUIRE((*session)->set_head_masked(l, h, true).ok());
    }
  }
  analyze::Evaluator only_last(**session, held);
  auto by_hand = only_last.run();
  REQUIRE(by_hand.ok());
  CHECK(by_hand->correct == report->single_head[7].result.correct);
  CHECK(by_hand->mean_loss == doctest::Approx(report->single_head[7].result.mean_loss).epsilon(1e-12));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace encore
