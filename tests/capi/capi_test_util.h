// Shared by the C API tests: the models the ctest fixture converts, RAII for the C handles,
// and a call's outcome (status + message) for comparing with the C++ API's Status.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "encore/encore_c.h"
#include "encore/status.h"

namespace capi_test {

// Converted at test time by the capi_models fixture (tests/capi/CMakeLists.txt).
inline std::string model_path(const char* name) { return std::string(ENCORE_CAPI_MODEL_DIR) + "/" + name; }
inline const std::string kLangid = model_path("langid.int8.encore");    // int8, 9 labels, tokenizer
inline const std::string kTinyBase = model_path("tiny_base.f32.encore");  // f32, pooler, no classifier
inline const std::string kNoVocab = model_path("novocab.f32.encore");     // tiny_base without vocab.txt
inline const std::string kTokenHead = model_path("heads_token.f32.encore");  // BertForTokenClassification, 5 labels
inline const std::string kQaHead = model_path("heads_qa.f32.encore");        // BertForQuestionAnswering
inline const std::string kRegressionHead = model_path("heads_regression.f32.encore");  // one-label RoBERTa

struct ModelFree {
  void operator()(encore_model* m) const { encore_model_free(m); }
};
struct SessionFree {
  void operator()(encore_session* s) const { encore_session_free(s); }
};
struct ErrorFree {
  void operator()(encore_error* e) const { encore_error_free(e); }
};
using ModelPtr = std::unique_ptr<encore_model, ModelFree>;
using SessionPtr = std::unique_ptr<encore_session, SessionFree>;
using ErrorPtr = std::unique_ptr<encore_error, ErrorFree>;

// What a C call reported: its status, and its error's code and message. Takes the error by
// address (read after the call has run, whatever the order arguments are evaluated in), frees
// it and resets it to NULL.
struct Outcome {
  encore_status status = ENCORE_OK;
  encore_status error_code = ENCORE_OK;
  std::string message;
  bool has_error = false;
};

inline Outcome outcome(encore_status status, encore_error** error_slot) {
  encore_error* error = *error_slot;
  *error_slot = nullptr;
  ErrorPtr owned(error);
  Outcome o;
  o.status = status;
  o.has_error = error != nullptr;
  if (error) {
    o.error_code = encore_error_code(error);
    o.message = encore_error_message(error);
  }
  return o;
}

// A failed C call must report exactly what the C++ API's Status says.
inline void check_same(const Outcome& c, const encore::Status& cpp) {
  REQUIRE_FALSE(cpp.ok());
  CHECK(c.status == static_cast<encore_status>(cpp.code()));
  CHECK(c.has_error);
  CHECK(c.error_code == c.status);
  CHECK(c.message == cpp.message());
}

inline ModelPtr load(const std::string& path) {
  encore_model* m = nullptr;
  encore_error* e = nullptr;
  const encore_status st = encore_model_load(path.c_str(), nullptr, &m, &e);
  INFO(path << ": " << encore_error_message(e));
  encore_error_free(e);
  REQUIRE(st == ENCORE_OK);
  REQUIRE(m != nullptr);
  return ModelPtr(m);
}

inline SessionPtr session(const encore_model* model, int threads = 1, bool profile = false,
                          encore_int8_gemm int8_gemm = ENCORE_INT8_GEMM_AUTO) {
  encore_session_options o;
  encore_session_options_init(&o);
  o.threads = threads;
  o.profile = profile ? 1 : 0;
  o.int8_gemm = int8_gemm;
  encore_session* s = nullptr;
  encore_error* e = nullptr;
  const encore_status st = encore_session_create(model, &o, &s, &e);
  INFO(encore_error_message(e));
  encore_error_free(e);
  REQUIRE(st == ENCORE_OK);
  REQUIRE(s != nullptr);
  return SessionPtr(s);
}

}  // namespace capi_test
