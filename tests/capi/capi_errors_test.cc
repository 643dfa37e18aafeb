// The C API's errors: every bad input gives the status code and the one-line message the C++
// API gives for it (or, for what only C can get wrong, a NULL pointer or an uninitialised
// struct, its own), and leaves no handle behind.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "capi/capi_test_util.h"
#include "encore/session.h"
#include "encore/text.h"

namespace {
using namespace capi_test;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string temp_dir() {
  char tmpl[] = "/tmp/encore-capi-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  REQUIRE(dir != nullptr);
  return dir;
}

void write_file(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

// Loads `path` through C (with and without an error object) and C++; both must fail alike.
void check_load_fails_like_cpp(const std::string& path, const encore_load_options* c_options = nullptr,
                               const encore::LoadOptions& cpp_options = {}) {
  INFO(path);
  encore_model* m = reinterpret_cast<encore_model*>(&m);  // must be reset to NULL
  encore_error* e = nullptr;
  const Outcome c = outcome(encore_model_load(path.c_str(), c_options, &m, &e), &e);
  CHECK(m == nullptr);
  auto cpp = encore::Model::load(path, cpp_options);
  check_same(c, cpp.status());
  encore_model* m2 = nullptr;
  CHECK(encore_model_load(path.c_str(), c_options, &m2, nullptr) == c.status);
  CHECK(m2 == nullptr);
}

}  // namespace

TEST_CASE("C API: status names are the C++ API's, version is the project's") {
  for (int code = ENCORE_OK; code <= ENCORE_INTERNAL; ++code) {
    CHECK(std::string(encore_status_name(static_cast<encore_status>(code))) ==
          encore::status_code_name(static_cast<encore::StatusCode>(code)));
  }
  CHECK(std::string(encore_status_name(static_cast<encore_status>(99))) == "unknown");
  CHECK(std::string(encore_status_name(static_cast<encore_status>(-1))) == "unknown");
  CHECK(std::string(encore_version()) == ENCORE_EXPECTED_VERSION);
  // What an absent error object reads as.
  CHECK(encore_error_code(nullptr) == ENCORE_INVALID_ARGUMENT);
  CHECK(std::string(encore_error_message(nullptr)).empty());
  encore_error_free(nullptr);
  encore_model_free(nullptr);
  encore_session_free(nullptr);
}

TEST_CASE("C API: a file that is not a model fails to load as in C++") {
  const std::string dir = temp_dir();
  check_load_fails_like_cpp(dir + "/missing.encore");
  check_load_fails_like_cpp(dir);  // a directory
  write_file(dir + "/empty.encore", {});
  check_load_fails_like_cpp(dir + "/empty.encore");
  std::vector<char> garbage(5000);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919u) >> 3);
  write_file(dir + "/garbage.encore", garbage);
  check_load_fails_like_cpp(dir + "/garbage.encore");
  const std::vector<char> good = read_file(kLangid);
  for (size_t cut : {size_t{8}, size_t{100}, good.size() / 2, good.size() - 1}) {
    write_file(dir + "/cut.encore", std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)));
    check_load_fails_like_cpp(dir + "/cut.encore");
  }
  std::vector<char> flipped = good;
  flipped[9] = static_cast<char>(flipped[9] ^ 0x40);  // a bit of the file identifier
  write_file(dir + "/flipped.encore", flipped);
  check_load_fails_like_cpp(dir + "/flipped.encore");

  // A limit below the file's size.
  encore_load_options options;
  encore_load_options_init(&options);
  CHECK(options.max_file_size == encore::LoadOptions{}.max_file_size);
  options.max_file_size = 1000;
  encore::LoadOptions cpp_options;
  cpp_options.max_file_size = 1000;
  check_load_fails_like_cpp(kLangid, &options, cpp_options);
  for (const char* name : {"cut.encore", "empty.encore", "garbage.encore", "flipped.encore"})
    std::remove((dir + "/" + name).c_str());
  rmdir(dir.c_str());
}

TEST_CASE("C API: NULL arguments and uninitialised structs are errors, not crashes") {
  encore_model* m = nullptr;
  encore_error* e = nullptr;
  Outcome o = outcome(encore_model_load(nullptr, nullptr, &m, &e), &e);
  CHECK(o.status == ENCORE_INVALID_ARGUMENT);
  CHECK(o.message == "encore_model_load: path is NULL");
  CHECK(m == nullptr);
  o = outcome(encore_model_load(kLangid.c_str(), nullptr, nullptr, &e), &e);
  CHECK(o.status == ENCORE_INVALID_ARGUMENT);
  CHECK(o.message == "encore_model_load: model is NULL");

  encore_load_options options;
  std::memset(&options, 0, sizeof options);  // struct_size never set
  o = outcome(encore_model_load(kLangid.c_str(), &options, &m, &e), &e);
  CHECK(o.status == ENCORE_INVALID_ARGUMENT);
  CHECK(contains(o.message, "struct_size = 0"));
  CHECK(contains(o.message, "encore_load_options_init"));
  CHECK(m == nullptr);
  options.struct_size = 0xCCCCCCCCu;  // stack garbage
  CHECK(encore_model_load(kLangid.c_str(), &options, &m, nullptr) == ENCORE_INVALID_ARGUMENT);

  // A caller built against an older header (no max_file_size): the default applies.
  encore_load_options_init(&options);
  options.struct_size = offsetof(encore_load_options, max_file_size);
  options.max_file_size = 1;  // beyond struct_size: not read
  REQUIRE(encore_model_load(kLangid.c_str(), &options, &m, nullptr) == ENCORE_OK);
  encore_model_free(m);
  m = nullptr;
  // A caller built against a newer header: unknown fields must be zero.
  struct {
    encore_load_options known;
    uint64_t later_field;
  } newer;
  encore_load_options_init(&newer.known);
  newer.known.struct_size = sizeof newer;
  newer.later_field = 0;
  REQUIRE(encore_model_load(kLangid.c_str(), &newer.known, &m, nullptr) == ENCORE_OK);
  encore_model_free(m);
  m = nullptr;
  newer.later_field = 7;
  o = outcome(encore_model_load(kLangid.c_str(), &newer.known, &m, &e), &e);
  CHECK(o.status == ENCORE_UNSUPPORTED);
  CHECK(contains(o.message, "does not know"));
  CHECK(m == nullptr);

  ModelPtr model = load(kLangid);
  encore_session* s = nullptr;
  o = outcome(encore_session_create(nullptr, nullptr, &s, &e), &e);
  CHECK(o.status == ENCORE_INVALID_ARGUMENT);
  CHECK(o.message == "encore_session_create: model is NULL");
  CHECK(encore_session_create(model.get(), nullptr, nullptr, nullptr) == ENCORE_INVALID_ARGUMENT);
  encore_session_options session_options;
  std::memset(&session_options, 0, sizeof session_options);
  CHECK(encore_session_create(model.get(), &session_options, &s, nullptr) == ENCORE_INVALID_ARGUMENT);
  CHECK(s == nullptr);

  encore_inputs in;
  encore_inputs_init(&in);
  o = outcome(encore_session_run(nullptr, &in, &e), &e);
  CHECK(o.message == "encore_session_run: session is NULL");
  SessionPtr session = capi_test::session(model.get());
  o = outcome(encore_session_run(session.get(), nullptr, &e), &e);
  CHECK(o.status == ENCORE_INVALID_ARGUMENT);
  CHECK(o.message == "encore_session_run: inputs is NULL");
  o = outcome(encore_session_run_text(session.get(), nullptr, 1, &e), &e);
  CHECK(o.message == "encore_session_run_text: texts is NULL");
  const char* texts[] = {"ok", nullptr};
  o = outcome(encore_session_run_text(session.get(), texts, 2, &e), &e);
  CHECK(o.status == ENCORE_INVALID_ARGUMENT);
  CHECK(o.message == "encore_session_run_text: texts[1] is NULL");
  CHECK(encore_session_run_text(nullptr, texts, 1, nullptr) == ENCORE_INVALID_ARGUMENT);

  // Getters answer NULL / 0 for what does not exist.
  CHECK(encore_model_get_config(nullptr) == nullptr);
  CHECK(encore_model_label(nullptr, 0) == nullptr);
  CHECK(encore_model_label(model.get(), -1) == nullptr);
  CHECK(encore_model_label(model.get(), 9) == nullptr);
  CHECK(encore_session_outputs(nullptr) == nullptr);
  CHECK(encore_session_outputs(session.get()) == nullptr);  // no run yet
  CHECK(encore_session_text_info(session.get(), 0) == nullptr);
  CHECK(encore_session_profile_count(nullptr) == 0);
  CHECK(encore_session_profile_record(session.get(), 0) == nullptr);
}

TEST_CASE("C API: session options and inputs the C++ API rejects give its status and message") {
  ModelPtr model = load(kLangid);
  auto cpp_model = encore::Model::load(kLangid);
  REQUIRE(cpp_model.ok());

  encore_session_options options;
  encore_session_options_init(&options);
  CHECK(options.threads == 1);
  CHECK(options.profile == 0);
  CHECK(options.max_activation_bytes == 0);
  CHECK(options.int8_gemm == ENCORE_INT8_GEMM_AUTO);
  encore::SessionOptions cpp_options;
  for (int threads : {0, -3, 1025}) {
    options.threads = cpp_options.threads = threads;
    encore_session* s = nullptr;
    encore_error* e = nullptr;
    const Outcome o = outcome(encore_session_create(model.get(), &options, &s, &e), &e);
    CHECK(s == nullptr);
    auto cpp = encore::Session::create(cpp_model.value(), cpp_options);
    check_same(o, cpp.status());
  }
  // int8_gemm is a C enum the C++ API cannot be given out of range: checked here alone.
  encore_session_options_init(&options);
  for (int32_t gemm : {-1, 3, 1 << 30}) {
    options.int8_gemm = gemm;
    encore_session* s = nullptr;
    encore_error* e = nullptr;
    const Outcome o = outcome(encore_session_create(model.get(), &options, &s, &e), &e);
    CHECK(s == nullptr);
    CHECK(o.status == ENCORE_INVALID_ARGUMENT);
    CHECK(contains(o.message, "int8_gemm = " + std::to_string(gemm)));
  }
  encore_session_options_init(&options);

  SessionPtr session = capi_test::session(model.get());
  auto cpp_session = encore::Session::create(cpp_model.value());
  REQUIRE(cpp_session.ok());
  // Each case: C inputs and the same C++ inputs must fail alike, and leave no outputs.
  auto check_run = [&](const encore_inputs& in, encore_status want) {
    encore_error* e = nullptr;
    const Outcome o = outcome(encore_session_run(session.get(), &in, &e), &e);
    CHECK(o.status == want);
    CHECK(encore_session_outputs(session.get()) == nullptr);
    encore::Outputs out;
    check_same(o, (*cpp_session)->run({in.batch, in.seq_len, in.input_ids, in.attention_mask, in.token_type_ids}, &out));
  };
  std::vector<int32_t> ids = {2, 40, 41, 3}, mask = {1, 1, 1, 1}, types = {0, 0, 0, 0};
  encore_inputs in;
  encore_inputs_init(&in);
  CHECK(in.batch == 1);
  in.seq_len = 4;
  in.input_ids = ids.data();
  REQUIRE(encore_session_run(session.get(), &in, nullptr) == ENCORE_OK);
  REQUIRE(encore_session_outputs(session.get()) != nullptr);

  ids[2] = 1500;  // the vocabulary has 1500 tokens
  check_run(in, ENCORE_OUT_OF_RANGE);
  ids[2] = -1;
  check_run(in, ENCORE_OUT_OF_RANGE);
  ids[2] = 41;
  std::vector<int32_t> long_ids(33, 5);  // max_positions is 32
  in.input_ids = long_ids.data();
  in.seq_len = 33;
  check_run(in, ENCORE_OUT_OF_RANGE);
  in.input_ids = ids.data();
  in.seq_len = 0;
  check_run(in, ENCORE_INVALID_ARGUMENT);
  in.seq_len = 4;
  in.batch = 0;
  check_run(in, ENCORE_INVALID_ARGUMENT);
  in.batch = 1;
  in.input_ids = nullptr;
  check_run(in, ENCORE_INVALID_ARGUMENT);
  in.input_ids = ids.data();
  mask[1] = 2;
  in.attention_mask = mask.data();
  check_run(in, ENCORE_INVALID_ARGUMENT);
  in.attention_mask = nullptr;
  types[3] = 2;  // type_vocab_size is 2
  in.token_type_ids = types.data();
  check_run(in, ENCORE_OUT_OF_RANGE);
  in.token_type_ids = nullptr;
  in.batch = 1 << 20;  // 2^20 x 32 tokens: over the 2^24 limit
  in.seq_len = 32;
  check_run(in, ENCORE_INVALID_ARGUMENT);

  // A bound on activation memory: the C++ session with the same bound fails the same way.
  encore_session_options_init(&options);
  options.max_activation_bytes = 4096;
  cpp_options = {};
  cpp_options.max_activation_bytes = 4096;
  encore_session* bounded = nullptr;
  REQUIRE(encore_session_create(model.get(), &options, &bounded, nullptr) == ENCORE_OK);
  session.reset(bounded);
  cpp_session = encore::Session::create(cpp_model.value(), cpp_options);
  REQUIRE(cpp_session.ok());
  encore_inputs_init(&in);
  in.seq_len = 4;
  in.input_ids = ids.data();
  check_run(in, ENCORE_RESOURCE_EXHAUSTED);
}

TEST_CASE("C API: text the C++ API rejects gives its status and message") {
  ModelPtr model = load(kLangid);
  SessionPtr session = capi_test::session(model.get());
  auto cpp_model = encore::Model::load(kLangid);
  REQUIRE(cpp_model.ok());
  auto text = encore::TextEncoder::create(cpp_model.value());
  REQUIRE(text.ok());

  const char* texts[] = {"fine", "bad \xff byte"};
  encore_error* e = nullptr;
  Outcome o = outcome(encore_session_run_text(session.get(), texts, 2, &e), &e);
  CHECK(o.status == ENCORE_INVALID_ARGUMENT);
  check_same(o, (*text)->classify({texts[0], texts[1]}).status());
  CHECK(contains(o.message, "text 1"));
  CHECK(encore_session_outputs(session.get()) == nullptr);
  CHECK(encore_session_text_info(session.get(), 0) == nullptr);

  o = outcome(encore_session_run_text(session.get(), texts, 0, &e), &e);
  check_same(o, (*text)->classify({}).status());

  // A model converted without vocab.txt has no tokenizer: ids work, text does not.
  ModelPtr plain = load(kNoVocab);
  CHECK(encore_model_get_config(plain.get())->has_tokenizer == 0);
  CHECK(encore_model_get_config(model.get())->has_tokenizer == 1);
  SessionPtr plain_session = capi_test::session(plain.get());
  o = outcome(encore_session_run_text(plain_session.get(), texts, 1, &e), &e);
  auto cpp_plain = encore::Model::load(kNoVocab);
  REQUIRE(cpp_plain.ok());
  check_same(o, encore::TextEncoder::create(cpp_plain.value()).status());
  CHECK(o.status == ENCORE_INVALID_MODEL);
}
