// Text in, answers out, for every tokenizer kind: models whose vocabularies are the tokenizer
// fixtures (tools/reference/text_models.py), converted from their Hugging Face directories with
// each kind of tokenizer file, then run on text through TextEncoder.
//
//   text_roberta  RobertaForSequenceClassification, byte-level BPE: tokenizer.json, and the same
//                 weights with the legacy vocab.json + merges.txt (+ special_tokens_map.json)
//   text_xlmr     XLMRobertaModel, SentencePiece Unigram: sentencepiece.bpe.model, and the same
//                 weights with the tokenizer.json that XLMRobertaConverter makes of it
//   text_bert     BertForSequenceClassification, cased WordPiece tokenizer.json
//
// The goldens' ids come from the independent tokenizers' golden files (JS @huggingface/tokenizers,
// python3-sentencepiece), their logits / hidden states from the PyTorch reference on those ids.
// Checked: the ids and type ids exactly, the token strings (up to the spaces an lstrip token
// takes); f32 logits / <s> row / mean-pooled row within 1e-4 of their scale; int8 argmax as
// PyTorch's (every golden's top-2 margin is > 4), cosine mean >= 0.999 and min >= 0.995; each
// token's byte span is the token's own text (ASCII texts); and the legacy files and the
// tokenizer.json give the same tokens, offsets and outputs, bit for bit.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/str.h"
#include "encore/text.h"
#include "golden_util.h"

namespace encore {
namespace {

using e2e::fixture;
namespace fs = std::filesystem;
using e2e::TempDir;
using Json = nlohmann::json;

struct Case {
  std::string text, pair;
  bool has_pair = false;
  size_t max_length = 0;
  std::vector<int32_t> ids, type_ids;
  std::vector<std::string> tokens;
  std::vector<float> logits, cls, mean;
};

std::vector<Case> read_cases(const std::string& name) {
  std::ifstream in(fixture(name) + "/text_goldens.json");
  REQUIRE(in);
  const Json j = Json::parse(in);
  std::vector<Case> cases;
  for (const auto& c : j.at("cases")) {
    Case k;
    k.text = c.at("text");
    k.has_pair = c.contains("pair");
    if (k.has_pair) k.pair = c.at("pair");
    k.max_length = c.value("max_length", size_t{0});
    k.ids = c.at("ids").get<std::vector<int32_t>>();
    k.type_ids = c.at("type_ids").get<std::vector<int32_t>>();
    k.tokens = c.at("tokens").get<std::vector<std::string>>();
    if (c.contains("logits")) k.logits = c.at("logits").get<std::vector<float>>();
    if (c.contains("cls")) k.cls = c.at("cls").get<std::vector<float>>();
    if (c.contains("mean")) k.mean = c.at("mean").get<std::vector<float>>();
    cases.push_back(std::move(k));
  }
  return cases;
}

void copy(const std::string& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  INFO(from << ": " << ec.message());
  REQUIRE(!ec);
}

// A model directory: the fixture's config and weights, and the given tokenizer files
// (source path -> name in the directory).
fs::path assemble(const TempDir& tmp, const std::string& name, const std::string& variant,
                  const std::vector<std::pair<std::string, std::string>>& files) {
  const fs::path dir = tmp.path / (name + "-" + variant);
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"}) copy(fixture(name) + "/" + f, dir / f);
  for (const auto& [from, to] : files) copy(from, dir / to);
  return dir;
}

std::shared_ptr<const Model> convert_dir(const fs::path& dir, const std::string& calib, bool int8, const TempDir& tmp) {
  convert::ConvertOptions o;
  o.model_dir = dir.string();
  o.output = (tmp.path / (dir.filename().string() + (int8 ? ".int8.encore" : ".f32.encore"))).string();
  o.int8 = int8;
  if (int8) o.calib_path = calib;
  std::ostringstream out, err;
  Status st = convert::convert_model(o, out, err);
  INFO(dir << ": " << st.message());
  REQUIRE(st.ok());
  auto m = Model::load(o.output);
  REQUIRE(m.ok());
  return m.value();
}

float relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  float err = 0.0f, scale = 1.0f;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return err / scale;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

bool ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string trim(std::string s) {
  const char* space = " \t\n";
  s.erase(0, s.find_first_not_of(space));
  const size_t end = s.find_last_not_of(space);
  s.erase(end == std::string::npos ? 0 : end + 1);
  return s;
}

// Token strings without surrounding spaces: an added token matched with lstrip / rstrip is
// reported with the spaces it took (" <mask>"), as the Rust crate's AddedVocabulary::
// split_with_indices does (the token's value is the matched slice); the goldens hold the
// vocabulary's strings of the golden ids. The ids themselves are compared exactly.
// A golden <unk> stands for any string: a Unigram model reports an unknown piece by its own
// text (tokenizers' unigram/model.rs tokenize: Token::new(id, string, offsets)), BPE and
// WordPiece by the unk token's.
std::vector<std::string> strip_all(std::vector<std::string> tokens, const std::vector<std::string>& golden = {}) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = i < golden.size() && (golden[i] == "<unk>" || golden[i] == "[UNK]") ? golden[i] : trim(tokens[i]);
  }
  return tokens;
}

// The text a token stands for: without the byte-level space (Ġ), SentencePiece's ▁ or
// WordPiece's ## marker.
std::string token_text(std::string t) {
  for (const std::string marker : {"\xC4\xA0", "\xE2\x96\x81"}) {
    for (size_t at; (at = t.find(marker)) != std::string::npos;) t.replace(at, marker.size(), " ");
  }
  if (t.rfind("##", 0) == 0) t.erase(0, 2);
  return trim(t);
}

// For ASCII texts, every token from the text covers exactly its own characters (up to the
// spaces a token absorbs: RoBERTa's trimmed offsets leave them out, SentencePiece's ▁ takes the
// space before it). Special tokens added by the post-processor have (0, 0); <unk> stands for
// no text of its own.
template <typename R>
int check_offsets(const R& r, const Case& c) {
  int checked = 0;
  for (size_t t = 0; t < r.tokens.size(); ++t) {
    const bool added = r.sequence_ids[t] == 255;
    const std::string& source = r.sequence_ids[t] == 1 ? c.pair : c.text;
    if (added) {
      CHECK(r.offsets[t] == TokenOffset{0, 0});
      continue;
    }
    if (!ascii(source) || r.tokens[t] == "<unk>" || r.tokens[t] == "[UNK]") continue;
    const TokenOffset o = r.offsets[t];
    REQUIRE(o.begin <= o.end);
    REQUIRE(o.end <= source.size());
    INFO(c.text << " token " << t << " '" << r.tokens[t] << "' at [" << o.begin << ", " << o.end << ")");
    CHECK(trim(source.substr(o.begin, o.end - o.begin)) == token_text(r.tokens[t]));
    ++checked;
  }
  return checked;
}

// The tokenizer the model carries gives the golden ids (the truncated case with its max_length).
void check_ids(const Model& model, const std::vector<Case>& cases) {
  auto tok = TextTokenizer::for_model(model);
  REQUIRE(tok.ok());
  for (const Case& c : cases) {
    TextEncodeOptions o;
    o.max_length = c.max_length;
    o.want_tokens = true;
    auto e = c.has_pair ? (*tok)->encode_pair(c.text, c.pair, o) : (*tok)->encode(c.text, o);
    REQUIRE(e.ok());
    INFO(c.text << (c.has_pair ? " | " + c.pair : ""));
    CHECK(e->ids == c.ids);
    CHECK(e->type_ids == c.type_ids);
    CHECK(strip_all(e->tokens, c.tokens) == strip_all(c.tokens));
    CHECK(e->truncated == (c.max_length > 0));
  }
}

// One run's outputs per case, in case order: logits (classifiers) or the <s> row then the mean row.
struct Outcome {
  std::vector<std::vector<float>> values;
  std::vector<std::vector<std::string>> tokens;
  std::vector<std::vector<TokenOffset>> offsets;
  int offsets_checked = 0;
};

// The cases as TextEncoder batches: the single texts together, the pairs together, each case
// with a max_length on an encoder with that limit.
Outcome run_cases(std::shared_ptr<const Model> model, const std::vector<Case>& cases) {
  Outcome o;
  o.values.resize(cases.size());
  o.tokens.resize(cases.size());
  o.offsets.resize(cases.size());
  const bool classifier = model->config().has_classifier();
  std::vector<std::vector<size_t>> groups;  // case indices per batch
  std::vector<size_t> max_lengths;
  for (size_t i = 0; i < cases.size(); ++i) {
    size_t g = 0;
    while (g < groups.size() && !(max_lengths[g] == cases[i].max_length &&
                                  cases[groups[g][0]].has_pair == cases[i].has_pair))
      ++g;
    if (g == groups.size()) groups.emplace_back(), max_lengths.push_back(cases[i].max_length);
    groups[g].push_back(i);
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    TextOptions options;
    options.max_length = max_lengths[g];
    auto enc = TextEncoder::create(model, {}, options);
    INFO((enc.ok() ? "" : enc.status().message()));
    REQUIRE(enc.ok());
    std::vector<std::string> texts, pairs;
    for (size_t i : groups[g]) texts.push_back(cases[i].text), pairs.push_back(cases[i].pair);
    auto take = [&](size_t k, const auto& r) {
      const size_t i = groups[g][k];
      o.tokens[i] = r.tokens;
      o.offsets[i] = r.offsets;
      CHECK(strip_all(r.tokens, cases[i].tokens) == strip_all(cases[i].tokens));
      CHECK(r.truncated == (cases[i].max_length > 0));
      o.offsets_checked += check_offsets(r, cases[i]);
    };
    if (classifier) {
      auto r = cases[groups[g][0]].has_pair ? (*enc)->classify(texts, pairs) : (*enc)->classify(texts);
      INFO((r.ok() ? "" : r.status().message()));
      REQUIRE(r.ok());
      for (size_t k = 0; k < texts.size(); ++k) o.values[groups[g][k]] = (*r)[k].logits, take(k, (*r)[k]);
    } else {
      auto cls = (*enc)->embed(texts, Pooling::kCls, false);
      auto mean = (*enc)->embed(texts, Pooling::kMean, false);
      REQUIRE(cls.ok());
      REQUIRE(mean.ok());
      for (size_t k = 0; k < texts.size(); ++k) {
        std::vector<float>& v = o.values[groups[g][k]];
        v = (*cls)[k].values;
        v.insert(v.end(), (*mean)[k].values.begin(), (*mean)[k].values.end());
        take(k, (*cls)[k]);
      }
    }
  }
  return o;
}

std::vector<float> golden_values(const Case& c) {
  if (!c.logits.empty()) return c.logits;
  std::vector<float> v = c.cls;
  v.insert(v.end(), c.mean.begin(), c.mean.end());
  return v;
}

size_t argmax(const std::vector<float>& v) { return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin()); }

// Converts `dir` (f32 and int8), checks both against the goldens; returns the f32 outcome.
Outcome check_model(const std::string& name, const fs::path& dir, const TempDir& tmp) {
  const std::vector<Case> cases = read_cases(name);
  const std::string calib = fixture(name) + "/calib_ids.npy";
  auto f32 = convert_dir(dir, calib, false, tmp);
  CHECK(!f32->tokenizer().json.empty());
  check_ids(*f32, cases);
  Outcome f = run_cases(f32, cases);
  float worst = 0.0f;
  for (size_t i = 0; i < cases.size(); ++i) worst = std::max(worst, relative_error(f.values[i], golden_values(cases[i])));
  MESSAGE(dir.filename().string() << " f32: " << cases.size() << " cases, ids exact, worst error " << worst
                                  << " of the scale; " << f.offsets_checked << " token offsets checked");
  CHECK(worst <= 1e-4f);

  auto int8 = convert_dir(dir, calib, true, tmp);
  Outcome q = run_cases(int8, cases);
  // Cosines per output row: the logits, or the <s> row and the mean row separately.
  std::vector<double> cos;
  int same = 0, classified = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<float> want = golden_values(cases[i]);
    const size_t rows = cases[i].logits.empty() ? 2 : 1, width = want.size() / rows;
    for (size_t r = 0; r < rows; ++r) {
      cos.push_back(cosine({q.values[i].begin() + r * width, q.values[i].begin() + (r + 1) * width},
                           {want.begin() + r * width, want.begin() + (r + 1) * width}));
    }
    if (!cases[i].logits.empty()) {
      ++classified;
      same += argmax(q.values[i]) == argmax(want);
      CHECK(argmax(q.values[i]) == argmax(want));
    }
    CHECK(q.tokens[i] == f.tokens[i]);
  }
  double sum = 0.0;
  for (double c : cos) sum += c;
  const double lo = *std::min_element(cos.begin(), cos.end()), avg = sum / double(cos.size());
  MESSAGE(dir.filename().string() << " int8: cosine to PyTorch float over " << cos.size() << " rows: mean " << avg << ", min "
                                  << lo << (classified ? cat(", argmax as PyTorch's on ", same, "/", classified) : ""));
  // As tests/e2e/sentence_test.cc: int8 noise of a 32-wide encoder on a text of a few tokens.
  CHECK(avg >= 0.999);
  CHECK(lo >= 0.995);
  return f;
}

void check_same(const Outcome& a, const Outcome& b) {
  REQUIRE(a.values.size() == b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    CHECK(a.values[i] == b.values[i]);  // bit for bit: the same ids give the same outputs
    CHECK(a.tokens[i] == b.tokens[i]);
    CHECK(a.offsets[i] == b.offsets[i]);
  }
}

const std::string kTok = fixture("text_tokenizer");

TEST_CASE("text models: RoBERTa byte-level BPE from tokenizer.json and from vocab.json + merges.txt") {
  TempDir tmp;
  const Outcome json = check_model("text_roberta", fixture("text_roberta"), tmp);
  const fs::path legacy = assemble(tmp, "text_roberta", "legacy",
                                   {{kTok + "/legacy_roberta/vocab.json", "vocab.json"},
                                    {kTok + "/legacy_roberta/merges.txt", "merges.txt"},
                                    {kTok + "/legacy_roberta/special_tokens_map.json", "special_tokens_map.json"},
                                    {kTok + "/legacy_roberta/tokenizer_config.json", "tokenizer_config.json"}});
  check_same(json, check_model("text_roberta", legacy, tmp));

  // <mask> is lstrip (RobertaTokenizerFast): its token is the matched text with the space before
  // it, as the Rust crate reports it (AddedVocabulary::split_with_indices: the value is the
  // matched slice), and RobertaProcessing's trim_offsets leaves the space out of its offsets
  // (byte_level.rs process_offsets counts leading whitespace).
  auto model = convert_dir(fixture("text_roberta"), "", false, tmp);
  auto tok = TextTokenizer::for_model(*model);
  REQUIRE(tok.ok());
  TextEncodeOptions o;
  o.want_tokens = true;
  auto e = (*tok)->encode("The <mask> sat on the mat.", o);
  REQUIRE(e.ok());
  REQUIRE(e->tokens.size() > 2);
  CHECK(e->tokens[2] == " <mask>");
  CHECK(e->ids[2] == 1760);
  CHECK(e->offsets[2] == TokenOffset{4, 10});
}

TEST_CASE("text models: XLM-R SentencePiece Unigram from sentencepiece.bpe.model and from tokenizer.json") {
  TempDir tmp;
  const std::string config = fixture("text_xlmr") + "/tokenizer_config.json";
  const fs::path spm = assemble(tmp, "text_xlmr", "spm",
                                {{kTok + "/unigram.model", "sentencepiece.bpe.model"}, {config, "tokenizer_config.json"}});
  const fs::path json = assemble(tmp, "text_xlmr", "json",
                                 {{kTok + "/unigram_xlmr.json", "tokenizer.json"}, {config, "tokenizer_config.json"}});
  check_same(check_model("text_xlmr", spm, tmp), check_model("text_xlmr", json, tmp));
}

TEST_CASE("text models: cased BERT WordPiece tokenizer.json (no lowercasing), pairs with token types") {
  TempDir tmp;
  check_model("text_bert", fixture("text_bert"), tmp);
}

}  // namespace
}  // namespace encore
