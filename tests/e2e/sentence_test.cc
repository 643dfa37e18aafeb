// sentence-transformers directories against PyTorch: goldens from
// tools/reference/sentence_models.py, which applies the modules (Pooling, Dense, Normalize) in
// order as sentence-transformers' code does, on Hugging Face's forward pass (not encore's).
//
// f32: sentence_embedding within 1e-4 of its scale (max |golden|, at least 1). int8: cosine to
// PyTorch float, mean >= 0.999 over the accuracy set and >= 0.995 for every sentence. Measured
// (24 sentences each): means 0.9996-0.9998; 3 of 72 sentences under 0.999 (0.9973 and 0.9981 the
// lowest, sentences of 5-6 tokens): int8 noise of these 32-wide encoders that the pooling of a
// few tokens does not average away. ModernBERT (st_modernbert, st_gte_modernbert: the layouts of
// modernbert-embed-base and gte-modernbert-base) has its own int8 bounds and figures below. A
// padded batch gives each sentence what a run of that sentence alone gives, bit for bit.
// Everything encore does not apply is refused in one line, with no output left behind.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "convert/converter.h"
#include "convert/hf_checkpoint.h"
#include "convert/model_writer.h"
#include "core/str.h"
#include "encore/text.h"
#include "golden_util.h"
#include "support/hf_dir.h"

namespace encore {
namespace {

using e2e::convert_fixture;
using e2e::fixture;
using e2e::npy;
using e2e::Run;
using e2e::run_inputs;
using e2e::TempDir;

double cosine(const float* a, const float* b, size_t n) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < n; ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

void check_f32(const std::string& name) {
  TempDir tmp;
  auto model = convert_fixture(name, false, tmp);
  REQUIRE(model->config().has_sentence_embedding());
  Run r;
  run_inputs(model, fixture(name), "", &r);
  auto want = npy(fixture(name) + "/sentence_embedding.npy");
  REQUIRE(r.out.sentence_embedding != nullptr);
  REQUIRE(want.shape == std::vector<int64_t>{r.out.batch, r.out.sentence_dim});
  float err = 0.0f, scale = 1.0f;
  for (size_t i = 0; i < want.floats.size(); ++i) {
    err = std::max(err, std::fabs(r.out.sentence_embedding[i] - want.floats[i]));
    scale = std::max(scale, std::fabs(want.floats[i]));
  }
  MESSAGE(name << " f32: sentence_embedding [" << r.out.batch << ", " << r.out.sentence_dim << "] error "
               << err / scale << " of its scale");
  CHECK(err / scale <= 1e-4f);
}

// int8 sentence embeddings against PyTorch float: cosine mean >= mean_bound and every sentence
// >= min_bound; returns the mean. max_cosine_drop: the quality gate's bound (0: the converter's
// default).
double check_int8(const std::string& name, double max_cosine_drop = 0, double mean_bound = 0.999,
                double min_bound = 0.995) {
  TempDir tmp;
  std::shared_ptr<const Model> model;
  if (max_cosine_drop == 0) {
    model = convert_fixture(name, true, tmp);
  } else {
    convert::ConvertOptions o;
    o.model_dir = fixture(name);
    o.output = (tmp.path / (name + ".int8.encore")).string();
    o.calib_path = fixture(name) + "/calib_ids.npy";
    o.max_cosine_drop = max_cosine_drop;
    model = e2e::convert_and_load(o);
  }
  Run r;
  run_inputs(model, fixture(name), "acc_", &r);
  auto want = npy(fixture(name) + "/acc_sentence_embedding.npy");
  const size_t D = static_cast<size_t>(r.out.sentence_dim);
  REQUIRE(want.floats.size() == static_cast<size_t>(r.out.batch) * D);
  double lo = 1.0, sum = 0.0;
  int64_t lo_tokens = 0, below = 0;
  for (int64_t b = 0; b < r.out.batch; ++b) {
    const double c = cosine(r.out.sentence_embedding + b * D, want.floats.data() + b * D, D);
    int64_t tokens = 0;
    for (int64_t p = 0; p < r.out.seq_len; ++p) tokens += r.mask.ints[static_cast<size_t>(b * r.out.seq_len + p)];
    if (c < lo) lo_tokens = tokens;
    lo = std::min(lo, c);
    below += c < 0.999;
    sum += c;
  }
  MESSAGE(name << " int8" << (max_cosine_drop ? cat(" (quality gate --max-cosine-drop ", max_cosine_drop, ")") : "")
               << ": sentence cosine vs PyTorch float over " << r.out.batch << " sentences: mean "
               << sum / double(r.out.batch) << ", min " << lo << " (a sentence of " << lo_tokens << " tokens), "
               << below << " under 0.999");
  CHECK(sum / double(r.out.batch) >= mean_bound);
  CHECK(lo >= min_bound);
  return sum / double(r.out.batch);
}

// Each sentence of the padded batch alone (cut after its last unmasked token) gives the same
// sentence_embedding as in the batch.
void check_padding(const std::string& name, bool int8) {
  TempDir tmp;
  auto model = convert_fixture(name, int8, tmp);
  Run batch;
  run_inputs(model, fixture(name), "", &batch);
  const int64_t S = batch.out.seq_len;
  const size_t D = static_cast<size_t>(batch.out.sentence_dim);
  std::vector<float> batched(batch.out.sentence_embedding, batch.out.sentence_embedding + batch.out.batch * D);
  auto session = Session::create(model);
  REQUIRE(session.ok());
  float worst = 0.0f;
  for (int64_t b = 0; b < batch.out.batch; ++b) {
    int64_t length = S;
    while (length > 1 && batch.mask.ints[static_cast<size_t>(b * S + length - 1)] == 0) --length;
    std::vector<int32_t> ids, mask, types;
    for (int64_t p = 0; p < length; ++p) {
      ids.push_back(static_cast<int32_t>(batch.ids.ints[static_cast<size_t>(b * S + p)]));
      mask.push_back(static_cast<int32_t>(batch.mask.ints[static_cast<size_t>(b * S + p)]));
      types.push_back(batch.types.ints.empty() ? 0 : static_cast<int32_t>(batch.types.ints[static_cast<size_t>(b * S + p)]));
    }
    Inputs in{1, length, ids.data(), mask.data(), types.data()};
    Outputs out;
    REQUIRE((*session)->run(in, &out).ok());
    for (size_t i = 0; i < D; ++i) worst = std::max(worst, std::fabs(out.sentence_embedding[i] - batched[b * D + i]));
  }
  MESSAGE(name << std::string(int8 ? " int8" : " f32") << ": padded batch vs single runs, max abs difference " << worst);
  CHECK(worst <= 1e-6f);
}

TEST_CASE("sentence-transformers f32: st_minilm (BertModel, mean pooling, Normalize)") { check_f32("st_minilm"); }
TEST_CASE("sentence-transformers f32: st_xlmr_dense (XLM-R in 0_Transformer, cls, Dense tanh, Dense identity)") {
  check_f32("st_xlmr_dense");
}
TEST_CASE("sentence-transformers f32: st_distil_pool (max + mean_sqrt_len + weightedmean + lasttoken, Dense)") {
  check_f32("st_distil_pool");
}
TEST_CASE("sentence-transformers f32: st_modernbert (modernbert-embed-base's layout: ModernBERT, mean, Normalize)") {
  check_f32("st_modernbert");
}
TEST_CASE("sentence-transformers f32: st_gte_modernbert (gte-modernbert-base's layout: ModernBERT, cls)") {
  check_f32("st_gte_modernbert");
}
TEST_CASE("sentence-transformers int8: st_minilm") { check_int8("st_minilm"); }
TEST_CASE("sentence-transformers int8: st_xlmr_dense") { check_int8("st_xlmr_dense"); }
TEST_CASE("sentence-transformers int8: st_distil_pool") { check_int8("st_distil_pool"); }
// ModernBERT: int8 is as good as the quality gate makes it, its bound being per token (held-out
// mean >= 1 - drop, 1st percentile >= 1 - 10 drop against the f32 model; 0.001 by default).
// Pooling does not average the error away: it is correlated across a sentence's tokens.
// Measured with per-token scales at the FFN-down input (format version 9): st_modernbert (mean)
// 0.99920, lowest sentence 0.99591 with the VNNI kernels, 0.99944 / 0.99870 without them
// (ENCORE_CPU_DISABLE=avx512vnni,avxvnni); st_gte_modernbert (cls: one token) 0.99919 / 0.99388,
// and 0.99914 / 0.99345 without VNNI, the lowest a 4-token sentence's [CLS]; with
// --max-cosine-drop 0.0005 0.99953 / 0.99743, and 0.99948 / 0.99546 without VNNI. The bounds
// leave room for the other kernel paths (ARM) rather than sit on these figures.
TEST_CASE("sentence-transformers int8: st_modernbert") { check_int8("st_modernbert", 0, 0.9985, 0.995); }
TEST_CASE("sentence-transformers int8: st_gte_modernbert, the default quality gate and half its drop") {
  const double by_default = check_int8("st_gte_modernbert", 0, 0.998, 0.99);
  const double tighter = check_int8("st_gte_modernbert", 0.0005, 0.9985, 0.99);
  CHECK(tighter > by_default);  // the gate's blocks at 0.0005 include those at 0.001
}

TEST_CASE("sentence-transformers: a padded batch gives each sentence its single-run embedding") {
  for (const char* name : {"st_minilm", "st_xlmr_dense", "st_distil_pool", "st_modernbert", "st_gte_modernbert"}) {
    check_padding(name, false);
    check_padding(name, true);
  }
}

TEST_CASE("sentence-transformers: the stored settings, the profile steps, plain models unchanged") {
  TempDir tmp;
  auto minilm = convert_fixture("st_minilm", false, tmp);
  const SentenceEmbeddingConfig& s = minilm->config().sentence;
  CHECK(s.pooling == kPoolMean);
  CHECK(s.dense.empty());
  CHECK(s.normalize);
  CHECK(s.max_seq_length == 12);
  REQUIRE(s.prompt("query") != nullptr);
  CHECK(*s.prompt("query") == "query: ");
  CHECK(s.default_prompt_name.empty());
  CHECK(s.similarity_fn_name == "cosine");
  CHECK(minilm->config().has_pooler_output());  // BertModel's pooler stays an output

  auto xlmr = convert_fixture("st_xlmr_dense", false, tmp);
  const SentenceEmbeddingConfig& x = xlmr->config().sentence;
  CHECK(x.pooling == kPoolCls);
  REQUIRE(x.dense.size() == 2);
  CHECK(x.dense[0].activation == DenseActivation::kTanh);
  CHECK((x.dense[1].activation == DenseActivation::kIdentity && !x.dense[1].bias));
  CHECK(xlmr->config().sentence_dimension() == 16);
  CHECK(x.default_prompt_name == "query");
  REQUIRE(x.prompt("passage") != nullptr);
  CHECK(x.prompt("document") != nullptr);  // sentence-transformers' default prompts are kept

  SessionOptions so;
  so.profile = true;
  auto session = Session::create(xlmr, so);
  REQUIRE(session.ok());
  std::vector<int32_t> ids = {0, 7, 9, 2};
  Inputs in{1, 4, ids.data(), nullptr, nullptr};
  Outputs out;
  REQUIRE((*session)->run(in, &out).ok());
  std::vector<ProfileStep> tail;
  for (const auto& rec : (*session)->profile()) {
    if (rec.step >= ProfileStep::kSentencePooling) tail.push_back(rec.step);
  }
  CHECK(tail == std::vector<ProfileStep>{ProfileStep::kSentencePooling, ProfileStep::kSentenceDense,
                                         ProfileStep::kSentenceDense});

  // A plain model has none of it.
  auto plain = convert_fixture("distilbert_base", false, tmp);
  CHECK_FALSE(plain->config().has_sentence_embedding());
  Run r;
  run_inputs(plain, fixture("distilbert_base"), "", &r);
  CHECK(r.out.sentence_embedding == nullptr);
  CHECK(r.out.sentence_dim == 0);
}

// The two ModernBERT layouts: what each directory's files say is what the model keeps.
TEST_CASE("sentence-transformers on ModernBERT: the stored settings and the profile steps") {
  TempDir tmp;
  auto embed = convert_fixture("st_modernbert", false, tmp);
  CHECK(embed->config().family == Family::kModernBert);
  const SentenceEmbeddingConfig& s = embed->config().sentence;
  CHECK(s.pooling == kPoolMean);
  CHECK(s.dense.empty());
  CHECK(s.normalize);  // modules.json names 2_Normalize; the folder itself is absent, as on the Hub
  CHECK(s.max_seq_length == 64);
  // No prompts in the file: sentence-transformers' defaults, both empty.
  REQUIRE(s.prompt("query") != nullptr);
  CHECK(s.prompt("query")->empty());
  REQUIRE(s.prompt("document") != nullptr);
  CHECK(s.prompt("document")->empty());
  CHECK(s.prompts.size() == 2);
  CHECK(s.default_prompt_name.empty());
  CHECK(s.similarity_fn_name == "cosine");
  CHECK_FALSE(embed->config().has_pooler_output());  // ModernBertModel has no pooler
  CHECK(embed->config().sentence_dimension() == 32);

  auto gte = convert_fixture("st_gte_modernbert", false, tmp);
  const SentenceEmbeddingConfig& g = gte->config().sentence;
  CHECK(g.pooling == kPoolCls);
  CHECK_FALSE(g.normalize);
  CHECK(g.dense.empty());
  CHECK(g.max_seq_length == 0);  // no sentence_bert_config.json: the encoder's own limit
  CHECK(gte->config().sentence_dimension() == 32);

  for (auto* m : {&embed, &gte}) {
    SessionOptions so;
    so.profile = true;
    auto session = Session::create(*m, so);
    REQUIRE(session.ok());
    std::vector<int32_t> ids = {1, 7, 9, 2};
    Inputs in{1, 4, ids.data(), nullptr, nullptr};
    Outputs out;
    REQUIRE((*session)->run(in, &out).ok());
    std::vector<ProfileStep> tail;
    for (const auto& rec : (*session)->profile()) {
      if (rec.step >= ProfileStep::kSentencePooling && rec.step <= ProfileStep::kSentenceNormalize) {
        tail.push_back(rec.step);
      }
    }
    const bool normalize = (*m)->config().sentence.normalize;
    CHECK(tail == (normalize ? std::vector<ProfileStep>{ProfileStep::kSentencePooling, ProfileStep::kSentenceNormalize}
                             : std::vector<ProfileStep>{ProfileStep::kSentencePooling}));
    // Normalize: unit length; without it, the [CLS] row of the encoder's output.
    double norm = 0;
    for (int64_t i = 0; i < out.sentence_dim; ++i) norm += double(out.sentence_embedding[i]) * out.sentence_embedding[i];
    if (normalize) {
      CHECK(std::fabs(std::sqrt(norm) - 1.0) < 1e-5);
    } else {
      CHECK(std::equal(out.sentence_embedding, out.sentence_embedding + out.sentence_dim, out.last_hidden_state));
    }
  }
}

// modernbert-embed's usage: texts carry their "search_query: " / "search_document: " prefix,
// [CLS] text [SEP] from tokenizer.json (byte-level BPE), at most max_seq_length tokens.
TEST_CASE("sentence-transformers on ModernBERT: TextEncoder kModel on tokenizer.json's ids") {
  TempDir tmp;
  auto model = convert_fixture("st_modernbert", false, tmp);
  auto text = TextEncoder::create(model);
  REQUIRE(text.ok());
  const std::vector<std::string> texts = {"search_query: What is TSNE?", "  search_query: What is TSNE?\n",
                                          "search_document: TSNE is a dimensionality reduction algorithm"};
  auto got = (*text)->embed(texts, Pooling::kModel, false);
  REQUIRE(got.ok());
  REQUIRE(got->size() == 3);
  CHECK((*got)[0].values == (*got)[1].values);  // stripped first
  CHECK((*got)[0].values.size() == 32);
  CHECK((*got)[0].values != (*got)[2].values);
  auto session = Session::create(model);
  REQUIRE(session.ok());
  for (size_t t : {size_t{0}, size_t{2}}) {
    const TextEncoding enc = (*text)->tokenizer().encode(texts[t]).value();
    REQUIRE(enc.ids.size() > 4);
    CHECK(enc.ids.front() == 1);  // [CLS]
    CHECK(enc.ids.back() == 2);   // [SEP]
    CHECK((*got)[t].ids == enc.ids);
    std::vector<int32_t> ids(enc.ids.begin(), enc.ids.end());
    Inputs in{1, static_cast<int64_t>(ids.size()), ids.data(), nullptr, nullptr};
    Outputs out;
    REQUIRE((*session)->run(in, &out).ok());
    CHECK(std::equal((*got)[t].values.begin(), (*got)[t].values.end(), out.sentence_embedding));
  }
  // max_seq_length 64: a long text keeps 64 tokens, [SEP] last.
  std::string words;
  for (int i = 0; i < 40; ++i) words += "reduction algorithm ";
  auto longer = (*text)->embed({words}, Pooling::kModel, false);
  REQUIRE(longer.ok());
  CHECK((*longer)[0].ids.size() == 64);
  CHECK((*longer)[0].ids.back() == 2);
  CHECK((*longer)[0].truncated);
}

TEST_CASE("sentence-transformers: format version 5, refused when a file claims an older one") {
  auto ck = convert::read_hf_checkpoint(fixture("st_minilm"));
  REQUIRE(ck.ok());
  convert::ModelContents m;
  m.config = ck->config;
  for (const auto& [name, t] : ck->tensors) m.tensors.push_back(convert::make_f32_tensor(name, t.shape, t.values));
  m.format_version = 4;
  auto bytes = convert::serialize_model(m);
  REQUIRE(bytes.ok());
  auto loaded = Model::load_from_memory(std::move(bytes).value());
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().message().find("needs format version 5, but the file says version 4") != std::string::npos);
}

TEST_CASE("sentence-transformers: TextEncoder kModel strips texts, truncates at max_seq_length") {
  TempDir tmp;
  auto model = convert_fixture("st_minilm", false, tmp);
  auto text = TextEncoder::create(model);
  REQUIRE(text.ok());
  auto plain = (*text)->embed({"abc bcd", "  abc bcd \t\n"}, Pooling::kModel, false);
  REQUIRE(plain.ok());
  CHECK((*plain)[0].values == (*plain)[1].values);
  CHECK((*plain)[0].values.size() == 32);
  // The same as the session's sentence_embedding on the tokenizer's ids.
  auto session = Session::create(model);
  REQUIRE(session.ok());
  const TextEncoding enc = (*text)->tokenizer().encode("abc bcd").value();
  std::vector<int32_t> ids(enc.ids.begin(), enc.ids.end());
  Inputs in{1, static_cast<int64_t>(ids.size()), ids.data(), nullptr, nullptr};
  Outputs out;
  REQUIRE((*session)->run(in, &out).ok());
  CHECK(std::equal((*plain)[0].values.begin(), (*plain)[0].values.end(), out.sentence_embedding));
  // max_seq_length 12: a long text keeps 12 tokens.
  auto longer = (*text)->embed({"abc bcd cde def efg fgh ghi hij ijk jkl klm lmn mno nop"}, Pooling::kModel, false);
  REQUIRE(longer.ok());
  CHECK((*longer)[0].tokens.size() == 12);
  CHECK((*longer)[0].truncated);
  // A model without the modules refuses kModel.
  auto bert = convert_fixture("tiny_base", false, tmp);
  auto bert_text = TextEncoder::create(bert);
  REQUIRE(bert_text.ok());
  CHECK((*bert_text)->embed({"abc"}, Pooling::kModel, false).status().code() == StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------- refusals

struct StDir {
  std::string modules = R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
 {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
 {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"}])";
  std::string pooling = R"({"word_embedding_dimension": 16, "pooling_mode_mean_tokens": true})";
  std::string dense = R"({"in_features": 16, "out_features": 8, "bias": true,
 "activation_function": "torch.nn.modules.activation.Tanh"})";
  std::string sbert = R"({"max_seq_length": 8, "do_lower_case": false})";
  std::string st_config = R"({"prompts": {"query": "query: "}, "default_prompt_name": null})";
  bool dense_weights = true;

  void write(const std::string& dir) const {
    namespace fs = std::filesystem;
    testing::HfDir::bert().write(dir);
    std::ofstream(dir + "/modules.json") << modules;
    fs::create_directories(dir + "/1_Pooling");
    std::ofstream(dir + "/1_Pooling/config.json") << pooling;
    fs::create_directories(dir + "/2_Dense");
    std::ofstream(dir + "/2_Dense/config.json") << dense;
    std::ofstream(dir + "/sentence_bert_config.json") << sbert;
    std::ofstream(dir + "/config_sentence_transformers.json") << st_config;
    if (!dense_weights) {
      std::ofstream(dir + "/2_Dense/pytorch_model.bin") << "x";
      return;
    }
    // linear.weight [8, 16] and linear.bias [8], F32, as safetensors.
    std::string header = R"({"linear.weight":{"dtype":"F32","shape":[8,16],"data_offsets":[0,512]},)"
                         R"("linear.bias":{"dtype":"F32","shape":[8],"data_offsets":[512,544]}})";
    header += std::string((8 - header.size() % 8) % 8, ' ');
    std::ofstream f(dir + "/2_Dense/model.safetensors", std::ios::binary);
    const uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << header;
    std::vector<float> values(136);
    for (size_t i = 0; i < values.size(); ++i) values[i] = 0.01f * static_cast<float>(i % 17) - 0.08f;
    f.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
  }
};

struct Converted {
  Status status;
  bool output_left;
};

Converted convert_dir(const StDir& d) {
  TempDir tmp;
  const std::string dir = (tmp.path / "model").string();
  std::filesystem::create_directories(dir);
  d.write(dir);
  convert::ConvertOptions o;
  o.model_dir = dir;
  o.output = (tmp.path / "out.encore").string();
  o.int8 = false;
  std::ostringstream out, err;
  Converted c;
  c.status = convert::convert_model(o, out, err);
  c.output_left = std::filesystem::exists(o.output);
  return c;
}

TEST_CASE("sentence-transformers: the test directory itself converts") {
  StDir d;
  Converted c = convert_dir(d);
  INFO(c.status.message());
  CHECK(c.status.ok());
  CHECK(c.output_left);
}

TEST_CASE("sentence-transformers: what encore does not apply is refused in one line") {
  StDir d;
  std::string expect;
  StatusCode code = StatusCode::kUnsupported;
  SUBCASE("an unknown module type") {
    d.modules.replace(d.modules.find("models.Normalize"), 16, "models.LayerNorm");
    expect = "modules.json: module 3 type 'sentence_transformers.models.LayerNorm' is not supported";
  }
  SUBCASE("a module from outside sentence-transformers") {
    d.modules.replace(d.modules.find("sentence_transformers.models.Dense"), 34, "my_package.MyDense");
    expect = "modules.json: module 2 type 'my_package.MyDense' is not supported";
  }
  SUBCASE("Normalize before Dense") {
    d.modules = R"([{"path": "", "type": "sentence_transformers.models.Transformer"},
 {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
 {"path": "3_Normalize", "type": "sentence_transformers.models.Normalize"},
 {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}])";
    expect = "modules.json: module 3 (Dense) is out of order";
  }
  SUBCASE("no Pooling module") {
    d.modules = R"([{"path": "", "type": "sentence_transformers.models.Transformer"}])";
    expect = "modules.json: no Pooling module after the Transformer";
  }
  SUBCASE("a module path outside the directory") {
    d.modules.replace(d.modules.find("\"1_Pooling\""), 11, "\"../x\"");
    code = StatusCode::kInvalidModel;
    expect = "modules.json: module 1 path '../x' is outside the model directory";
  }
  SUBCASE("a Dense activation other than Identity / Tanh") {
    d.dense.replace(d.dense.find("activation.Tanh"), 15, "activation.ReLU");
    expect = "2_Dense/config.json: activation_function 'torch.nn.modules.activation.ReLU' is not supported";
  }
  SUBCASE("Dense in_features that do not follow the pooling") {
    d.dense.replace(d.dense.find("\"in_features\": 16"), 17, "\"in_features\": 32");
    code = StatusCode::kInvalidModel;
    expect = "2_Dense/config.json: in_features 32 but the module before gives 16";
  }
  SUBCASE("Dense weights only as pytorch_model.bin") {
    d.dense_weights = false;
    code = StatusCode::kNotFound;
    expect = "2_Dense/model.safetensors: not found (only pytorch_model.bin is present";
  }
  SUBCASE("include_prompt false") {
    d.pooling = R"({"word_embedding_dimension": 16, "pooling_mode_mean_tokens": true, "include_prompt": false})";
    expect = "1_Pooling/config.json: include_prompt false is not supported";
  }
  SUBCASE("an unknown pooling key") {
    d.pooling = R"({"word_embedding_dimension": 16, "pooling_mode_median_tokens": true})";
    expect = "1_Pooling/config.json: key 'pooling_mode_median_tokens' is not supported";
  }
  SUBCASE("an unknown pooling_mode") {
    d.pooling = R"({"word_embedding_dimension": 16, "pooling_mode": "median"})";
    expect = "1_Pooling/config.json: pooling_mode 'median' is not supported";
  }
  SUBCASE("no pooling mode") {
    d.pooling = R"({"word_embedding_dimension": 16, "pooling_mode_mean_tokens": false})";
    code = StatusCode::kInvalidModel;
    expect = "1_Pooling/config.json: no pooling mode is set";
  }
  SUBCASE("word_embedding_dimension other than hidden_size") {
    d.pooling = R"({"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true})";
    code = StatusCode::kInvalidModel;
    expect = "1_Pooling/config.json: word_embedding_dimension 384 differs from the encoder's hidden_size 16";
  }
  SUBCASE("do_lower_case true") {
    d.sbert = R"({"max_seq_length": 8, "do_lower_case": true})";
    expect = "sentence_bert_config.json: do_lower_case true is not supported";
  }
  SUBCASE("tokenizer arguments") {
    d.sbert = R"({"max_seq_length": 8, "do_lower_case": false, "tokenizer_args": {"add_prefix_space": true}})";
    expect = "sentence_bert_config.json: tokenizer_args 'add_prefix_space' is not supported";
  }
  SUBCASE("a default prompt that is not a prompt") {
    d.st_config = R"({"prompts": {"query": "query: "}, "default_prompt_name": "passage"})";
    code = StatusCode::kInvalidModel;
    expect = "config_sentence_transformers.json: default_prompt_name 'passage' is not one of the prompts";
  }
  SUBCASE("a sparse encoder") {
    d.st_config = R"({"model_type": "SparseEncoder"})";
    expect = "config_sentence_transformers.json: model_type \"SparseEncoder\" is not supported";
  }
  Converted c = convert_dir(d);
  CAPTURE(c.status.message());
  CHECK(c.status.code() == code);
  CHECK(c.status.message().find(expect) != std::string::npos);
  CHECK(c.status.message().find('\n') == std::string::npos);
  CHECK_FALSE(c.output_left);
}

}  // namespace
}  // namespace encore
