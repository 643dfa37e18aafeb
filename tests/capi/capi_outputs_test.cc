// The C API's results are the C++ API's, bit for bit: the same model run through both on the
// same ids (and on text, against the C++ tokenizer and a C++ session) gives identical floats;
// config, labels and profile records say the same as their C++ counterparts.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "capi/capi_test_util.h"
#include "encore/profile.h"
#include "encore/session.h"
#include "encore/text.h"
#include "encore/text_tokenizer.h"

namespace {
using namespace capi_test;

std::shared_ptr<const encore::Model> cpp_load(const std::string& path) {
  auto m = encore::Model::load(path);
  REQUIRE(m.ok());
  return m.value();
}

bool same_bits(const float* a, const float* b, int64_t n) {
  return n > 0 && std::memcmp(a, b, static_cast<size_t>(n) * sizeof(float)) == 0;
}

// A C run and a C++ run of the same batch must agree in shapes and every bit of every output.
void check_same_outputs(const encore_outputs* c, const encore::Outputs& cpp) {
  REQUIRE(c != nullptr);
  CHECK(c->struct_size == sizeof(encore_outputs));
  CHECK(c->batch == cpp.batch);
  CHECK(c->seq_len == cpp.seq_len);
  CHECK(c->hidden == cpp.hidden);
  CHECK(c->labels == cpp.labels);
  CHECK(same_bits(c->last_hidden_state, cpp.last_hidden_state, cpp.batch * cpp.seq_len * cpp.hidden));
  CHECK((c->pooler_output == nullptr) == (cpp.pooler_output == nullptr));
  if (cpp.pooler_output) CHECK(same_bits(c->pooler_output, cpp.pooler_output, cpp.batch * cpp.hidden));
  CHECK((c->logits == nullptr) == (cpp.logits == nullptr));
  if (cpp.logits) CHECK(same_bits(c->logits, cpp.logits, cpp.batch * cpp.labels));
  CHECK(c->token_logit_width == cpp.token_logit_width);
  CHECK((c->token_logits == nullptr) == (cpp.token_logits == nullptr));
  if (cpp.token_logits) {
    CHECK(same_bits(c->token_logits, cpp.token_logits, cpp.batch * cpp.seq_len * cpp.token_logit_width));
  }
  CHECK(c->sentence_dim == cpp.sentence_dim);
  CHECK((c->sentence_embedding == nullptr) == (cpp.sentence_embedding == nullptr));
}

}  // namespace

TEST_CASE("C API: config and labels are the C++ model's") {
  for (const std::string& path : {kLangid, kTinyBase}) {
    INFO(path);
    ModelPtr model = load(path);
    auto cpp = cpp_load(path);
    const encore::EncoderConfig& want = cpp->config();
    const encore_model_config* c = encore_model_get_config(model.get());
    REQUIRE(c != nullptr);
    CHECK(c->struct_size == sizeof(encore_model_config));
    CHECK(c->hidden_size == want.hidden_size);
    CHECK(c->head_count == want.head_count);
    CHECK(c->layer_count == want.layer_count);
    CHECK(c->intermediate_size == want.intermediate_size);
    CHECK(c->max_positions == want.max_positions);
    CHECK(c->vocab_size == want.vocab_size);
    CHECK(c->type_vocab_size == want.type_vocab_size);
    CHECK(c->pad_token_id == want.pad_token_id);
    CHECK(c->label_count == static_cast<int32_t>(want.labels.size()));
    CHECK(c->has_pooler == (want.has_pooler ? 1 : 0));
    CHECK(c->is_quantized == (cpp->is_quantized() ? 1 : 0));
    CHECK(c->has_tokenizer == 1);
    CHECK(c->layer_norm_eps == want.layer_norm_eps);
    CHECK(std::string(c->activation) == encore::activation_name(want.activation));
    for (size_t i = 0; i < want.labels.size(); ++i) {
      CHECK(std::string(encore_model_label(model.get(), static_cast<int32_t>(i))) == want.labels[i]);
    }
  }
  // What the fixtures are, from their config.json files.
  ModelPtr langid = load(kLangid);
  const encore_model_config* c = encore_model_get_config(langid.get());
  CHECK(c->layer_count == 2);
  CHECK(c->hidden_size == 128);
  CHECK(c->label_count == 9);
  CHECK(c->is_quantized == 1);
  CHECK(std::string(encore_model_label(langid.get(), 1)) == "german");
  CHECK(encore_model_get_config(load(kTinyBase).get())->is_quantized == 0);
}

TEST_CASE("C API: the head, problem type and per-token logits are the C++ model's") {
  struct Want {
    std::string path;
    encore_head_kind head;
    encore_problem_type problem;
    int32_t width;
    const char* head_name;
    const char* problem_name;
  };
  for (const Want& w : {Want{kLangid, ENCORE_HEAD_POOLED, ENCORE_PROBLEM_SINGLE_LABEL, 0, "pooled",
                             "single_label_classification"},
                        Want{kTokenHead, ENCORE_HEAD_TOKEN_CLASSIFICATION, ENCORE_PROBLEM_SINGLE_LABEL, 5,
                             "token-classification", "single_label_classification"},
                        Want{kQaHead, ENCORE_HEAD_QUESTION_ANSWERING, ENCORE_PROBLEM_SINGLE_LABEL, 2,
                             "question-answering", "single_label_classification"},
                        Want{kRegressionHead, ENCORE_HEAD_POOLED, ENCORE_PROBLEM_REGRESSION, 0, "pooled",
                             "regression"}}) {
    INFO(w.path);
    ModelPtr model = load(w.path);
    auto cpp_model = cpp_load(w.path);
    const encore_model_config* c = encore_model_get_config(model.get());
    REQUIRE(c != nullptr);
    CHECK(c->head == w.head);
    CHECK(c->head == static_cast<int32_t>(cpp_model->config().head));
    CHECK(c->problem_type == w.problem);
    CHECK(c->token_logit_width == w.width);
    CHECK(c->token_logit_width == cpp_model->config().token_logit_width());
    CHECK(std::string(c->head_name) == w.head_name);
    CHECK(std::string(c->problem_type_name) == w.problem_name);
    // A padded batch: token_logits bit for bit the C++ session's.
    SessionPtr session = capi_test::session(model.get(), 1);
    auto cpp_session = encore::Session::create(cpp_model, {});
    REQUIRE(cpp_session.ok());
    const int64_t batch = 2, seq = 9;
    std::vector<int32_t> ids(batch * seq), mask(batch * seq, 1);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(5 + (i * 7) % 100);
    for (int64_t s = 6; s < seq; ++s) mask[static_cast<size_t>(seq + s)] = 0;
    encore_inputs in;
    encore_inputs_init(&in);
    in.batch = batch;
    in.seq_len = seq;
    in.input_ids = ids.data();
    in.attention_mask = mask.data();
    REQUIRE(encore_session_run(session.get(), &in, nullptr) == ENCORE_OK);
    encore::Outputs out;
    REQUIRE((*cpp_session)->run({batch, seq, ids.data(), mask.data(), nullptr}, &out).ok());
    const encore_outputs* got = encore_session_outputs(session.get());
    check_same_outputs(got, out);
    CHECK((got->token_logits != nullptr) == (w.width > 0));
    CHECK(got->token_logit_width == w.width);
  }
}

TEST_CASE("C API: a run on ids equals the C++ API's bit for bit") {
  for (const std::string& path : {kLangid, kTinyBase}) {
    ModelPtr model = load(path);
    auto cpp_model = cpp_load(path);
    const encore_model_config* c = encore_model_get_config(model.get());
    std::mt19937 rng(5);
    for (int threads : {1, 2}) {
      SessionPtr session = capi_test::session(model.get(), threads);
      encore::SessionOptions cpp_options;
      cpp_options.threads = threads;
      auto cpp_session = encore::Session::create(cpp_model, cpp_options);
      REQUIRE(cpp_session.ok());
      // Shapes: one token, odd lengths, padded rows, and the model's maximum.
      for (const auto& shape : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {2, 13}, {1, int64_t{c->max_positions}}}) {
        const int64_t batch = shape.first, seq = shape.second;
        INFO(path << " threads " << threads << " batch " << batch << " seq " << seq);
        const size_t n = static_cast<size_t>(batch * seq);
        std::vector<int32_t> ids(n), mask(n, 1), types(n, 0);
        for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(c->vocab_size));
        for (int64_t b = 1; b < batch; ++b) {  // later rows padded: shorter by b tokens
          for (int64_t s = std::max<int64_t>(1, seq - b); s < seq; ++s) mask[static_cast<size_t>(b * seq + s)] = 0;
        }
        for (size_t i = n / 2; i < n; ++i) types[i] = 1;
        encore_inputs in;
        encore_inputs_init(&in);
        in.batch = batch;
        in.seq_len = seq;
        in.input_ids = ids.data();
        in.attention_mask = mask.data();
        in.token_type_ids = types.data();
        encore_error* e = nullptr;
        const encore_status st = encore_session_run(session.get(), &in, &e);
        INFO(encore_error_message(e));
        encore_error_free(e);
        REQUIRE(st == ENCORE_OK);
        encore::Outputs out;
        REQUIRE((*cpp_session)->run({batch, seq, ids.data(), mask.data(), types.data()}, &out).ok());
        check_same_outputs(encore_session_outputs(session.get()), out);
        CHECK(encore_session_text_info(session.get(), 0) == nullptr);  // not a text run
      }
    }
  }
}

TEST_CASE("C API: a run on text equals the C++ tokenizer and session bit for bit") {
  const std::vector<std::string> texts = {
      "Schmetterling", "mariposa", "fjäril",
      "a text much longer than the thirty two positions this model has, so it is cut to fit them all",
      "Ünïcödé, punctuation!? and CJK 蝴蝶"};
  ModelPtr model = load(kLangid);
  SessionPtr session = capi_test::session(model.get());
  std::vector<const char*> c_texts;
  for (const auto& t : texts) c_texts.push_back(t.c_str());
  REQUIRE(encore_session_run_text(session.get(), c_texts.data(), c_texts.size(), nullptr) == ENCORE_OK);
  const encore_outputs* c_out = encore_session_outputs(session.get());
  REQUIRE(c_out != nullptr);

  // The same batch built here: the C++ tokenizer's encodings, padded with [PAD] under mask 0.
  auto cpp_model = cpp_load(kLangid);
  auto text = encore::TextEncoder::create(cpp_model);
  REQUIRE(text.ok());
  const encore::TextTokenizer& tokenizer = (*text)->tokenizer();
  std::vector<encore::TextEncoding> encodings;
  size_t longest = 0;
  encore::TextEncodeOptions options;
  options.max_length = static_cast<size_t>(cpp_model->config().max_positions);
  options.want_tokens = true;
  for (const auto& t : texts) {
    auto e = tokenizer.encode(t, options);
    REQUIRE(e.ok());
    longest = std::max(longest, e->ids.size());
    encodings.push_back(std::move(e).value());
  }
  CHECK(encodings[3].truncated);
  const int32_t pad = tokenizer.token_to_id("[PAD]");
  REQUIRE(pad >= 0);
  std::vector<int32_t> ids(texts.size() * longest, pad), mask(ids.size(), 0), types(ids.size(), 0);
  for (size_t b = 0; b < texts.size(); ++b) {
    const encore::TextEncoding& e = encodings[b];
    const encore_text_info* info = encore_session_text_info(session.get(), b);
    REQUIRE(info != nullptr);
    CHECK(info->struct_size == sizeof(encore_text_info));
    REQUIRE(info->token_count == static_cast<int64_t>(e.ids.size()));
    CHECK(info->truncated == (e.truncated ? 1 : 0));
    for (size_t k = 0; k < e.ids.size(); ++k) {
      CHECK(info->ids[k] == e.ids[k]);
      CHECK(std::string(info->tokens[k]) == e.tokens[k]);
      ids[b * longest + k] = e.ids[k];
      mask[b * longest + k] = 1;
      types[b * longest + k] = e.type_ids[k];
    }
  }
  CHECK(encore_session_text_info(session.get(), texts.size()) == nullptr);
  auto cpp_session = encore::Session::create(cpp_model);
  REQUIRE(cpp_session.ok());
  encore::Outputs out;
  REQUIRE((*cpp_session)
              ->run({static_cast<int64_t>(texts.size()), static_cast<int64_t>(longest), ids.data(), mask.data(), types.data()},
                    &out)
              .ok());
  check_same_outputs(c_out, out);

  // And TextEncoder agrees: the same [CLS] rows, the same labels.
  auto cls = (*text)->embed(texts, encore::Pooling::kCls, /*normalize=*/false);
  REQUIRE(cls.ok());
  auto labels = (*text)->classify(texts);
  REQUIRE(labels.ok());
  for (size_t b = 0; b < texts.size(); ++b) {
    CHECK(same_bits(c_out->last_hidden_state + static_cast<int64_t>(b) * c_out->seq_len * c_out->hidden,
                    (*cls)[b].values.data(), c_out->hidden));
    const float* row = c_out->logits + static_cast<int64_t>(b) * c_out->labels;
    CHECK(std::max_element(row, row + c_out->labels) - row == (*labels)[b].label_index);
  }

  // Another run replaces the outputs and the token lists.
  const char* one[] = {"papillon"};
  REQUIRE(encore_session_run_text(session.get(), one, 1, nullptr) == ENCORE_OK);
  CHECK(encore_session_outputs(session.get())->batch == 1);
  CHECK(encore_session_text_info(session.get(), 1) == nullptr);
  CHECK(std::string(encore_session_text_info(session.get(), 0)->tokens[0]) == "[CLS]");
}

TEST_CASE("C API: text pairs, offsets and text options") {
  ModelPtr model = load(kLangid);
  SessionPtr session = capi_test::session(model.get());
  const char* texts[] = {"Schmetterling", "fjäril"};
  const char* pairs[] = {"butterfly", "vlinder"};
  REQUIRE(encore_session_run_text_pairs(session.get(), texts, pairs, 2, nullptr) == ENCORE_OK);
  // The C++ tokenizer's encoding of the same pair: ids, segments and byte offsets.
  auto cpp_model = cpp_load(kLangid);
  auto tokenizer = encore::TextTokenizer::for_model(*cpp_model);
  REQUIRE(tokenizer.ok());
  for (size_t b = 0; b < 2; ++b) {
    auto e = (*tokenizer)->encode_pair(texts[b], pairs[b]);
    REQUIRE(e.ok());
    const encore_text_info* info = encore_session_text_info(session.get(), b);
    REQUIRE(info != nullptr);
    REQUIRE(info->token_count == static_cast<int64_t>(e->ids.size()));
    for (size_t k = 0; k < e->ids.size(); ++k) {
      CHECK(info->ids[k] == e->ids[k]);
      CHECK(info->offsets[k].begin == e->offsets[k].begin);
      CHECK(info->offsets[k].end == e->offsets[k].end);
      CHECK(info->sequence_ids[k] == e->sequence_ids[k]);
    }
  }
  // "fjäril" is 7 bytes: its last piece ends at byte 7 of the first text.
  const encore_text_info* info = encore_session_text_info(session.get(), 1);
  uint32_t first_end = 0;
  for (int64_t k = 0; k < info->token_count; ++k)
    if (info->sequence_ids[k] == 0) first_end = info->offsets[k].end;
  CHECK(first_end == 7);

  // max_length: at most 4 tokens per text; over the model's limit, or a bad strategy, fails.
  encore_text_options o;
  encore_text_options_init(&o);
  o.max_length = 4;
  REQUIRE(encore_session_set_text_options(session.get(), &o, nullptr) == ENCORE_OK);
  REQUIRE(encore_session_run_text(session.get(), texts, 2, nullptr) == ENCORE_OK);
  CHECK(encore_session_text_info(session.get(), 0)->token_count == 4);
  CHECK(encore_session_text_info(session.get(), 0)->truncated == 1);
  o.max_length = 100000;
  encore_error* error = nullptr;
  CHECK(encore_session_set_text_options(session.get(), &o, &error) == ENCORE_INVALID_ARGUMENT);
  REQUIRE(error != nullptr);
  CHECK(std::string(encore_error_message(error)).find("over the model's limit") != std::string::npos);
  encore_error_free(error);
  o.max_length = 0;
  o.truncation = 7;
  CHECK(encore_session_set_text_options(session.get(), &o, nullptr) == ENCORE_INVALID_ARGUMENT);
  CHECK(encore_session_run_text_pairs(session.get(), texts, nullptr, 2, nullptr) == ENCORE_INVALID_ARGUMENT);
}

TEST_CASE("C API: profile records are Session::profile's") {
  ModelPtr model = load(kLangid);
  SessionPtr plain = capi_test::session(model.get());
  SessionPtr profiled = capi_test::session(model.get(), 1, /*profile=*/true);
  auto cpp_model = cpp_load(kLangid);
  encore::SessionOptions cpp_options;
  cpp_options.profile = true;
  auto cpp_session = encore::Session::create(cpp_model, cpp_options);
  REQUIRE(cpp_session.ok());

  std::vector<int32_t> ids = {2, 100, 200, 300, 400, 3};
  encore_inputs in;
  encore_inputs_init(&in);
  in.seq_len = static_cast<int64_t>(ids.size());
  in.input_ids = ids.data();
  REQUIRE(encore_session_run(plain.get(), &in, nullptr) == ENCORE_OK);
  CHECK(encore_session_profile_count(plain.get()) == 0);
  REQUIRE(encore_session_run(profiled.get(), &in, nullptr) == ENCORE_OK);
  encore::Outputs out;
  REQUIRE((*cpp_session)->run({1, in.seq_len, ids.data(), nullptr, nullptr}, &out).ok());

  const auto& want = (*cpp_session)->profile();
  // Embeddings first, then in each of the 2 layers every step of an encoder layer once (and
  // int8 quantize steps), then pooler and classifier.
  REQUIRE(want.size() > 3);
  CHECK(want.front().step == encore::ProfileStep::kEmbeddings);
  CHECK(want[want.size() - 2].step == encore::ProfileStep::kPooler);
  CHECK(want.back().step == encore::ProfileStep::kClassifier);
  for (int32_t layer = 0; layer < 2; ++layer) {
    for (encore::ProfileStep step :
         {encore::ProfileStep::kQkvProjection, encore::ProfileStep::kAttention, encore::ProfileStep::kOutputProjection,
          encore::ProfileStep::kAttnResidualNorm, encore::ProfileStep::kFfnUp, encore::ProfileStep::kActivation,
          encore::ProfileStep::kFfnDown, encore::ProfileStep::kFfnResidualNorm}) {
      CHECK(std::count_if(want.begin(), want.end(), [&](const encore::ProfileRecord& r) {
              return r.layer == layer && r.step == step;
            }) == 1);
    }
  }
  REQUIRE(encore_session_profile_count(profiled.get()) == want.size());
  uint64_t previous_start = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const encore_profile_record* r = encore_session_profile_record(profiled.get(), i);
    REQUIRE(r != nullptr);
    CHECK(r->struct_size == sizeof(encore_profile_record));
    CHECK(r->layer == want[i].layer);
    CHECK(static_cast<int>(r->step) == static_cast<int>(want[i].step));
    CHECK(std::string(r->step_name) == encore::profile_step_name(want[i].step));
    CHECK(std::string(r->kernel) == want[i].kernel);
    CHECK(r->operations == want[i].operations);
    CHECK(r->bytes == want[i].bytes);
    CHECK(r->start_ns >= previous_start);  // times are the C session's own, in order
    previous_start = r->start_ns;
  }
  CHECK(encore_session_profile_record(profiled.get(), want.size()) == nullptr);
  CHECK(encore_session_profile_record(profiled.get(), 0)->step == ENCORE_STEP_EMBEDDINGS);
  CHECK(encore_session_profile_record(profiled.get(), want.size() - 1)->step == ENCORE_STEP_CLASSIFIER);
}

TEST_CASE("C API: int8_gemm picks what runs the int8 linear layers, every choice giving the same bits") {
  ModelPtr model = load(kLangid);
  auto cpp_model = cpp_load(kLangid);
  std::vector<int32_t> ids = {2, 100, 200, 300, 400, 3, 7, 9, 11};
  encore_inputs in;
  encore_inputs_init(&in);
  in.seq_len = static_cast<int64_t>(ids.size());
  in.input_ids = ids.data();
  std::vector<float> first_logits;
  for (const auto& choice : {std::pair<encore_int8_gemm, encore::Int8Gemm>{ENCORE_INT8_GEMM_XNNPACK, encore::Int8Gemm::kXnnpack},
                             {ENCORE_INT8_GEMM_OWN, encore::Int8Gemm::kOwn},
                             {ENCORE_INT8_GEMM_AUTO, encore::Int8Gemm::kAuto}}) {
    INFO("int8_gemm " << choice.first);
    SessionPtr session = capi_test::session(model.get(), 2, /*profile=*/true, choice.first);
    encore::SessionOptions cpp_options;
    cpp_options.threads = 2;
    cpp_options.profile = true;
    cpp_options.int8_gemm = choice.second;
    auto cpp_session = encore::Session::create(cpp_model, cpp_options);
    REQUIRE(cpp_session.ok());
    REQUIRE(encore_session_run(session.get(), &in, nullptr) == ENCORE_OK);
    encore::Outputs out;
    REQUIRE((*cpp_session)->run({1, in.seq_len, ids.data(), nullptr, nullptr}, &out).ok());
    const encore_outputs* c = encore_session_outputs(session.get());
    check_same_outputs(c, out);
    // The option reached the session: its FFN layers ran on the kernel the choice names.
    bool saw_ffn_up = false;
    for (size_t i = 0; i < encore_session_profile_count(session.get()); ++i) {
      const encore_profile_record* r = encore_session_profile_record(session.get(), i);
      if (r->step != ENCORE_STEP_FFN_UP) continue;
      saw_ffn_up = true;
      const std::string kernel = r->kernel;
      if (choice.first == ENCORE_INT8_GEMM_XNNPACK) CHECK(kernel.rfind("xnnpack", 0) == 0);
      if (choice.first == ENCORE_INT8_GEMM_OWN) CHECK(kernel.rfind("encore qs8 gemm", 0) == 0);
    }
    CHECK(saw_ffn_up);
    REQUIRE(c->logits != nullptr);
    if (first_logits.empty()) {
      first_logits.assign(c->logits, c->logits + c->labels);
    } else {
      CHECK(same_bits(first_logits.data(), c->logits, c->labels));  // XNNPACK's bits
    }
  }
}

TEST_CASE("C API: a session keeps its model alive after the model handle is freed") {
  encore_model* model = nullptr;
  REQUIRE(encore_model_load(kTinyBase.c_str(), nullptr, &model, nullptr) == ENCORE_OK);
  SessionPtr session = capi_test::session(model);
  encore_model_free(model);
  const char* texts[] = {"hello world"};
  REQUIRE(encore_session_run_text(session.get(), texts, 1, nullptr) == ENCORE_OK);
  const encore_outputs* out = encore_session_outputs(session.get());
  REQUIRE(out != nullptr);
  CHECK(out->logits == nullptr);  // a base model: no classifier
  CHECK(out->pooler_output != nullptr);
  CHECK(out->labels == 0);
}
