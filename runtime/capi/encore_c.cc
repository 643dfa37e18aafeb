// The C API (encore/encore_c.h) over the C++ API. Each entry point runs its body inside
// guarded(), which turns a Status into an encore_status plus an optional error object and
// catches every exception, so nothing propagates into C (where it would terminate the
// process). The ids path keeps the C++ promise: a run whose shape fits allocates nothing.
#include "encore/encore_c.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "core/str.h"
#include "encore/model.h"
#include "encore/profile.h"
#include "encore/session.h"
#include "encore/status.h"
#include "text/text_batch.h"

using encore::Status;
using encore::StatusCode;

struct encore_error {
  encore_status code;
  std::string message;
};

struct encore_model {
  std::shared_ptr<const encore::Model> model;
  encore_model_config config;
};

struct encore_session {
  std::shared_ptr<const encore::Model> model;
  std::unique_ptr<encore::Session> session;
  std::unique_ptr<encore::internal::TextBatch> text;  // made at the first run_text
  std::vector<std::string_view> text_views, pair_views;
  // What the last run published: set only once a run has fully succeeded, so a failure at any
  // point (an exception included) leaves no outputs and no text infos visible.
  encore_outputs outputs{};
  bool has_outputs = false;
  size_t text_count = 0;
  std::vector<encore_text_info> text_infos;
  std::vector<std::vector<const char*>> text_tokens;
  std::vector<encore_profile_record> profile;  // reserved at creation for a whole run
};

namespace {

static_assert(ENCORE_OK == static_cast<int>(StatusCode::kOk) &&
                  ENCORE_INVALID_ARGUMENT == static_cast<int>(StatusCode::kInvalidArgument) &&
                  ENCORE_NOT_FOUND == static_cast<int>(StatusCode::kNotFound) &&
                  ENCORE_IO_ERROR == static_cast<int>(StatusCode::kIoError) &&
                  ENCORE_INVALID_MODEL == static_cast<int>(StatusCode::kInvalidModel) &&
                  ENCORE_UNSUPPORTED == static_cast<int>(StatusCode::kUnsupported) &&
                  ENCORE_OUT_OF_RANGE == static_cast<int>(StatusCode::kOutOfRange) &&
                  ENCORE_RESOURCE_EXHAUSTED == static_cast<int>(StatusCode::kResourceExhausted) &&
                  ENCORE_INTERNAL == static_cast<int>(StatusCode::kInternal),
              "encore_status must mirror encore::StatusCode");
static_assert(ENCORE_STEP_EMBEDDINGS == static_cast<int>(encore::ProfileStep::kEmbeddings) &&
                  ENCORE_STEP_QUANTIZE == static_cast<int>(encore::ProfileStep::kQuantize) &&
                  ENCORE_STEP_QKV_PROJECTION == static_cast<int>(encore::ProfileStep::kQkvProjection) &&
                  ENCORE_STEP_ATTENTION == static_cast<int>(encore::ProfileStep::kAttention) &&
                  ENCORE_STEP_OUTPUT_PROJECTION == static_cast<int>(encore::ProfileStep::kOutputProjection) &&
                  ENCORE_STEP_ATTN_RESIDUAL_NORM == static_cast<int>(encore::ProfileStep::kAttnResidualNorm) &&
                  ENCORE_STEP_FFN_UP == static_cast<int>(encore::ProfileStep::kFfnUp) &&
                  ENCORE_STEP_ACTIVATION == static_cast<int>(encore::ProfileStep::kActivation) &&
                  ENCORE_STEP_FFN_DOWN == static_cast<int>(encore::ProfileStep::kFfnDown) &&
                  ENCORE_STEP_FFN_RESIDUAL_NORM == static_cast<int>(encore::ProfileStep::kFfnResidualNorm) &&
                  ENCORE_STEP_POOLER == static_cast<int>(encore::ProfileStep::kPooler) &&
                  ENCORE_STEP_CLASSIFIER == static_cast<int>(encore::ProfileStep::kClassifier) &&
                  ENCORE_STEP_SENTENCE_POOLING == static_cast<int>(encore::ProfileStep::kSentencePooling) &&
                  ENCORE_STEP_SENTENCE_DENSE == static_cast<int>(encore::ProfileStep::kSentenceDense) &&
                  ENCORE_STEP_SENTENCE_NORMALIZE == static_cast<int>(encore::ProfileStep::kSentenceNormalize) &&
                  ENCORE_STEP_ROTARY == static_cast<int>(encore::ProfileStep::kRotary) &&
                  ENCORE_STEP_LOCAL_ATTENTION == static_cast<int>(encore::ProfileStep::kLocalAttention) &&
                  encore::kProfileStepCount == 17,
              "encore_profile_step must mirror encore::ProfileStep");
static_assert(ENCORE_HEAD_POOLED == static_cast<int>(encore::HeadKind::kPooled) &&
                  ENCORE_HEAD_TOKEN_CLASSIFICATION == static_cast<int>(encore::HeadKind::kTokenClassification) &&
                  ENCORE_HEAD_QUESTION_ANSWERING == static_cast<int>(encore::HeadKind::kQuestionAnswering) &&
                  ENCORE_HEAD_MASKED_LM == static_cast<int>(encore::HeadKind::kMaskedLm),
              "encore_head_kind must mirror encore::HeadKind");
static_assert(ENCORE_PROBLEM_SINGLE_LABEL == static_cast<int>(encore::ProblemType::kSingleLabel) &&
                  ENCORE_PROBLEM_MULTI_LABEL == static_cast<int>(encore::ProblemType::kMultiLabel) &&
                  ENCORE_PROBLEM_REGRESSION == static_cast<int>(encore::ProblemType::kRegression),
              "encore_problem_type must mirror encore::ProblemType");
static_assert(ENCORE_INT8_GEMM_AUTO == static_cast<int>(encore::Int8Gemm::kAuto) &&
                  ENCORE_INT8_GEMM_XNNPACK == static_cast<int>(encore::Int8Gemm::kXnnpack) &&
                  ENCORE_INT8_GEMM_OWN == static_cast<int>(encore::Int8Gemm::kOwn),
              "encore_int8_gemm must mirror encore::Int8Gemm");

// Handed out when there is not even memory for an error object; never freed. Its message
// fits the small-string buffer, so constructing it allocates nothing.
encore_error out_of_memory_error{ENCORE_RESOURCE_EXHAUSTED, "out of memory"};

encore_status fail(encore_error** error, StatusCode code, std::string_view a, std::string_view b = {},
                   std::string_view c = {}) noexcept {
  const auto status = static_cast<encore_status>(code);
  if (!error) return status;
  try {
    std::string message(a);
    message.append(b).append(c);
    *error = new encore_error{status, std::move(message)};
  } catch (...) {
    *error = &out_of_memory_error;
  }
  return status;
}

// Runs `body` (returning a Status) with every exception turned into a status.
template <typename Body>
encore_status guarded(const char* function, encore_error** error, Body&& body) noexcept {
  if (error) *error = nullptr;
  try {
    const Status st = body();
    return st.ok() ? ENCORE_OK : fail(error, st.code(), st.message());
  } catch (const std::bad_alloc&) {
    return fail(error, StatusCode::kResourceExhausted, function, ": out of memory");
  } catch (const std::exception& e) {
    return fail(error, StatusCode::kInternal, function, ": unexpected exception: ", e.what());
  } catch (...) {
    return fail(error, StatusCode::kInternal, function, ": unexpected exception");
  }
}

// The largest struct_size taken as real: a bigger value is an uninitialised struct, and
// reading that far would run off the caller's memory.
constexpr uint32_t kMaxStructSize = 4096;

// Copies the caller's extensible struct over `out` (which holds the defaults): the fields
// within in->struct_size are the caller's, later ones keep their defaults, and bytes this
// library does not know must be zero.
template <typename T>
Status read_struct(const T* in, const char* what, const char* init, T* out) {
  if (!in) return Status::Ok();
  if (in->struct_size < sizeof(uint32_t) || in->struct_size > kMaxStructSize) {
    return encore::invalid_argument(
        encore::cat(what, "->struct_size = ", in->struct_size, " is not a struct size; initialise it with ", init));
  }
  const size_t known = std::min<size_t>(in->struct_size, sizeof(T));
  std::memcpy(static_cast<void*>(out), in, known);
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  for (size_t i = sizeof(T); i < in->struct_size; ++i) {
    if (bytes[i] != 0) {
      return encore::unsupported(encore::cat(what, " sets a field (byte ", i, ") this encore library (",
                                             encore_version(), ") does not know"));
    }
  }
  out->struct_size = sizeof(T);
  return Status::Ok();
}

Status null_argument(const char* function, const char* name) {
  return encore::invalid_argument(encore::cat(function, ": ", name, " is NULL"));
}

void record_profile(encore_session* s) {
  const auto& records = s->session->profile();
  s->profile.resize(records.size());  // within the capacity reserved at creation
  for (size_t i = 0; i < records.size(); ++i) {
    const encore::ProfileRecord& r = records[i];
    s->profile[i] = encore_profile_record{sizeof(encore_profile_record),
                                          r.layer,
                                          static_cast<encore_profile_step>(r.step),
                                          encore::profile_step_name(r.step),
                                          r.kernel,
                                          r.start_ns,
                                          r.duration_ns,
                                          r.operations,
                                          r.bytes};
  }
}

// Runs the session into s->outputs; the caller publishes them (has_outputs) on success.
Status run_session(encore_session* s, const encore::Inputs& inputs) {
  encore::Outputs out;
  const Status st = s->session->run(inputs, &out);
  record_profile(s);
  if (!st.ok()) return st;
  s->outputs = encore_outputs{sizeof(encore_outputs), out.last_hidden_state, out.pooler_output, out.logits,
                              out.batch, out.seq_len, out.hidden, out.labels, out.sentence_embedding,
                              out.sentence_dim, out.token_logits, out.token_logit_width};
  return Status::Ok();
}

}  // namespace

extern "C" {

const char* encore_status_name(encore_status status) {
  const int code = static_cast<int>(status);
  if (code < ENCORE_OK || code > ENCORE_INTERNAL) return "unknown";
  return encore::status_code_name(static_cast<StatusCode>(code));
}

const char* encore_version(void) { return ENCORE_VERSION_STRING; }

encore_status encore_error_code(const encore_error* error) { return error ? error->code : ENCORE_INVALID_ARGUMENT; }

const char* encore_error_message(const encore_error* error) { return error ? error->message.c_str() : ""; }

void encore_error_free(encore_error* error) {
  if (error != &out_of_memory_error) delete error;
}

void encore_load_options_init(encore_load_options* options) {
  if (!options) return;
  const encore::LoadOptions defaults;
  *options = encore_load_options{sizeof(encore_load_options), defaults.max_file_size};
}

encore_status encore_model_load(const char* path, const encore_load_options* options, encore_model** model,
                                encore_error** error) {
  const char* const fn = __func__;
  return guarded(fn, error, [&]() -> Status {
    if (!model) return null_argument(fn, "model");
    *model = nullptr;
    if (!path) return null_argument(fn, "path");
    encore_load_options o;
    encore_load_options_init(&o);
    ENCORE_RETURN_IF_ERROR(read_struct(options, "options", "encore_load_options_init", &o));
    encore::LoadOptions load_options;
    load_options.max_file_size = o.max_file_size;
    ENCORE_ASSIGN_OR_RETURN(auto loaded, encore::Model::load(path, load_options));

    auto handle = std::make_unique<encore_model>();
    const encore::EncoderConfig& c = loaded->config();
    handle->config = encore_model_config{sizeof(encore_model_config),
                                         c.hidden_size,
                                         c.head_count,
                                         c.layer_count,
                                         c.intermediate_size,
                                         c.max_positions,
                                         c.vocab_size,
                                         c.type_vocab_size,
                                         c.pad_token_id,
                                         static_cast<int32_t>(c.labels.size()),
                                         c.has_pooler_output() ? 1 : 0,
                                         loaded->is_quantized() ? 1 : 0,
                                         loaded->tokenizer().empty() ? 0 : 1,
                                         c.layer_norm_eps,
                                         encore::activation_name(c.activation),
                                         static_cast<int32_t>(c.head),
                                         static_cast<int32_t>(c.problem_type),
                                         c.token_logit_width(),
                                         encore::head_kind_name(c.head),
                                         encore::problem_type_name(c.problem_type)};
    handle->model = std::move(loaded);
    *model = handle.release();
    return Status::Ok();
  });
}

void encore_model_free(encore_model* model) { delete model; }

const encore_model_config* encore_model_get_config(const encore_model* model) {
  return model ? &model->config : nullptr;
}

const char* encore_model_label(const encore_model* model, int32_t index) {
  if (!model || index < 0 || index >= model->config.label_count) return nullptr;
  return model->model->config().labels[static_cast<size_t>(index)].c_str();
}

void encore_session_options_init(encore_session_options* options) {
  if (!options) return;
  const encore::SessionOptions defaults;
  *options = encore_session_options{sizeof(encore_session_options), defaults.threads, defaults.profile ? 1 : 0,
                                    defaults.max_activation_bytes, static_cast<int32_t>(defaults.int8_gemm)};
}

encore_status encore_session_create(const encore_model* model, const encore_session_options* options,
                                    encore_session** session, encore_error** error) {
  const char* const fn = __func__;
  return guarded(fn, error, [&]() -> Status {
    if (!session) return null_argument(fn, "session");
    *session = nullptr;
    if (!model) return null_argument(fn, "model");
    encore_session_options o;
    encore_session_options_init(&o);
    ENCORE_RETURN_IF_ERROR(read_struct(options, "options", "encore_session_options_init", &o));
    encore::SessionOptions session_options;
    session_options.threads = o.threads;
    session_options.profile = o.profile != 0;
    session_options.max_activation_bytes = o.max_activation_bytes;
    if (o.int8_gemm < ENCORE_INT8_GEMM_AUTO || o.int8_gemm > ENCORE_INT8_GEMM_OWN) {
      return encore::invalid_argument(encore::cat(fn, ": options->int8_gemm = ", o.int8_gemm,
                                                  " is not an encore_int8_gemm (0 auto, 1 xnnpack, 2 own)"));
    }
    session_options.int8_gemm = static_cast<encore::Int8Gemm>(o.int8_gemm);

    auto handle = std::make_unique<encore_session>();
    handle->model = model->model;
    ENCORE_ASSIGN_OR_RETURN(handle->session, encore::Session::create(model->model, session_options));
    if (session_options.profile) {
      // Room for every step the session can record: embeddings, 8 per layer, pooler, classifier.
      handle->profile.reserve(3 + 8 * static_cast<size_t>(model->config.layer_count));
    }
    *session = handle.release();
    return Status::Ok();
  });
}

void encore_session_free(encore_session* session) { delete session; }

void encore_inputs_init(encore_inputs* inputs) {
  if (!inputs) return;
  *inputs = encore_inputs{sizeof(encore_inputs), 1, 0, nullptr, nullptr, nullptr};
}

encore_status encore_session_run(encore_session* session, const encore_inputs* inputs, encore_error** error) {
  const char* const fn = __func__;
  return guarded(fn, error, [&]() -> Status {
    if (!session) return null_argument(fn, "session");
    session->has_outputs = false;
    session->text_count = 0;
    if (!inputs) return null_argument(fn, "inputs");
    encore_inputs in;
    encore_inputs_init(&in);
    ENCORE_RETURN_IF_ERROR(read_struct(inputs, "inputs", "encore_inputs_init", &in));
    ENCORE_RETURN_IF_ERROR(run_session(
        session, encore::Inputs{in.batch, in.seq_len, in.input_ids, in.attention_mask, in.token_type_ids}));
    session->has_outputs = true;
    return Status::Ok();
  });
}

namespace {

static_assert(static_cast<int>(encore::TruncationStrategy::kLongestFirst) == ENCORE_TRUNCATE_LONGEST_FIRST &&
                  static_cast<int>(encore::TruncationStrategy::kOnlyFirst) == ENCORE_TRUNCATE_ONLY_FIRST &&
                  static_cast<int>(encore::TruncationStrategy::kOnlySecond) == ENCORE_TRUNCATE_ONLY_SECOND,
              "encore_truncation mirrors encore::TruncationStrategy");
static_assert(sizeof(encore_token_offset) == sizeof(encore::TokenOffset) &&
                  offsetof(encore_token_offset, end) == offsetof(encore::TokenOffset, end),
              "encore_token_offset mirrors encore::TokenOffset");

Status run_text(const char* fn, encore_session* session, const char* const* texts, const char* const* pairs,
                bool with_pairs, size_t text_count) {
  if (!session) return null_argument(fn, "session");
  encore_session& s = *session;
  s.has_outputs = false;
  s.text_count = 0;
  if (!texts) return null_argument(fn, "texts");
  if (with_pairs && !pairs) return null_argument(fn, "pairs");
  for (size_t i = 0; i < text_count; ++i) {
    if (!texts[i]) return encore::invalid_argument(encore::cat(fn, ": texts[", i, "] is NULL"));
    if (with_pairs && !pairs[i]) return encore::invalid_argument(encore::cat(fn, ": pairs[", i, "] is NULL"));
  }
  if (!s.text) {
    ENCORE_ASSIGN_OR_RETURN(s.text, encore::internal::TextBatch::create(*s.model));
  }
  s.text_views.assign(texts, texts + text_count);
  if (with_pairs) s.pair_views.assign(pairs, pairs + text_count);
  ENCORE_RETURN_IF_ERROR(s.text->encode(s.text_views, with_pairs ? &s.pair_views : nullptr));
  ENCORE_RETURN_IF_ERROR(run_session(&s, s.text->inputs()));

  const auto& encodings = s.text->encodings();
  s.text_tokens.resize(encodings.size());
  s.text_infos.resize(encodings.size());
  for (size_t b = 0; b < encodings.size(); ++b) {
    const encore::TextEncoding& e = encodings[b];
    std::vector<const char*>& tokens = s.text_tokens[b];
    tokens.clear();
    for (const std::string& t : e.tokens) tokens.push_back(t.c_str());
    s.text_infos[b] = encore_text_info{sizeof(encore_text_info),
                                       static_cast<int64_t>(e.ids.size()),
                                       e.truncated ? 1 : 0,
                                       e.ids.data(),
                                       tokens.data(),
                                       reinterpret_cast<const encore_token_offset*>(e.offsets.data()),
                                       e.sequence_ids.data()};
  }
  s.text_count = encodings.size();
  s.has_outputs = true;
  return Status::Ok();
}

}  // namespace

void encore_text_options_init(encore_text_options* options) {
  if (!options) return;
  *options = encore_text_options{sizeof(encore_text_options), 0, ENCORE_TRUNCATE_LONGEST_FIRST, 0};
}

encore_status encore_session_set_text_options(encore_session* session, const encore_text_options* options,
                                              encore_error** error) {
  const char* const fn = __func__;
  return guarded(fn, error, [&]() -> Status {
    if (!session) return null_argument(fn, "session");
    if (!options) return null_argument(fn, "options");
    encore_text_options o;
    encore_text_options_init(&o);
    ENCORE_RETURN_IF_ERROR(read_struct(options, "options", "encore_text_options_init", &o));
    if (o.max_length < 0) return encore::invalid_argument(encore::cat(fn, ": max_length ", o.max_length, " is negative"));
    if (o.truncation < ENCORE_TRUNCATE_LONGEST_FIRST || o.truncation > ENCORE_TRUNCATE_ONLY_SECOND) {
      return encore::invalid_argument(encore::cat(fn, ": truncation ", o.truncation, " is not an encore_truncation"));
    }
    if (!session->text) {
      ENCORE_ASSIGN_OR_RETURN(session->text, encore::internal::TextBatch::create(*session->model));
    }
    encore::internal::TextBatchOptions t;
    t.max_length = static_cast<size_t>(o.max_length);
    t.truncation = static_cast<encore::TruncationStrategy>(o.truncation);
    t.special_tokens_as_text = o.special_tokens_as_text != 0;
    return session->text->set_options(t);
  });
}

encore_status encore_session_run_text(encore_session* session, const char* const* texts, size_t text_count,
                                      encore_error** error) {
  const char* const fn = __func__;
  return guarded(fn, error, [&]() -> Status { return run_text(fn, session, texts, nullptr, false, text_count); });
}

encore_status encore_session_run_text_pairs(encore_session* session, const char* const* texts,
                                            const char* const* pairs, size_t text_count, encore_error** error) {
  const char* const fn = __func__;
  return guarded(fn, error, [&]() -> Status { return run_text(fn, session, texts, pairs, true, text_count); });
}

const encore_outputs* encore_session_outputs(const encore_session* session) {
  return session && session->has_outputs ? &session->outputs : nullptr;
}

const encore_text_info* encore_session_text_info(const encore_session* session, size_t index) {
  if (!session || index >= session->text_count) return nullptr;
  return &session->text_infos[index];
}

size_t encore_session_profile_count(const encore_session* session) { return session ? session->profile.size() : 0; }

const encore_profile_record* encore_session_profile_record(const encore_session* session, size_t index) {
  if (!session || index >= session->profile.size()) return nullptr;
  return &session->profile[index];
}

}  // extern "C"
