/* The C API of the encore runtime: load a model, run it on token ids or text, read the
 * outputs and the per-step profile. For embedding encore where C++ cannot cross: Android JNI,
 * Swift, plain C. C99; a thin layer over the C++ API (encore/session.h, encore/text.h), with the
 * same validation and the same results, bit for bit.
 *
 *   encore_model* model = NULL;
 *   encore_error* error = NULL;
 *   if (encore_model_load("model.encore", NULL, &model, &error) != ENCORE_OK) {
 *     fprintf(stderr, "%s\n", encore_error_message(error));
 *     encore_error_free(error);
 *     return 1;
 *   }
 *   encore_session* session = NULL;
 *   encore_session_create(model, NULL, &session, NULL);      (check the status, as above)
 *   const char* texts[] = {"Schmetterling", "mariposa"};
 *   encore_session_run_text(session, texts, 2, &error);
 *   const encore_outputs* out = encore_session_outputs(session);
 *   (out->logits: [2, out->labels]; label names: encore_model_label(model, i))
 *   encore_session_free(session);
 *   encore_model_free(model);
 *
 * Errors. Every call that can fail returns an encore_status (ENCORE_OK = 0) and takes a last
 * argument `encore_error** error`. When `error` is not NULL the call sets *error to NULL on
 * success, and on failure to a new error object holding the code and a one-line message (the
 * same text the C++ API's Status carries); the caller owns it and frees it with
 * encore_error_free. Pass NULL to get the status code only. There is no global or thread-local
 * "last error", so errors are safe to use from any number of threads. No call aborts or lets a
 * C++ exception out: running out of memory is ENCORE_RESOURCE_EXHAUSTED, anything unexpected
 * ENCORE_INTERNAL.
 *
 * Ownership. Handles (encore_model, encore_session, encore_error) are opaque, created by the
 * library and freed by the matching *_free function, which accepts NULL. Every `const char*`
 * and every struct pointer the library returns is owned by the library; the comment on each
 * function says how long it stays valid. Pointers the caller passes in are only read during
 * the call.
 *
 * Threads. A model is immutable: any number of threads may use one model and create sessions
 * from it at the same time. A session is used by one thread at a time (it owns its buffers
 * and thread pool); use one session per thread. encore_*_free must not race with other calls
 * on the same handle.
 *
 * Extensible structs. Structs the caller fills (options, inputs) begin with `struct_size`:
 * initialise them with their *_init function, which sets it and the defaults. A library built
 * with later fields takes the defaults for fields beyond struct_size, so code compiled against
 * this header keeps working; fields this library does not know must be zero. Structs the
 * library returns also begin with struct_size (the size it filled); new fields are only ever
 * appended. */
#ifndef ENCORE_ENCORE_C_H_
#define ENCORE_ENCORE_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status and errors ---------------------------------------------------------------- */

/* The same codes, in the same order, as encore::StatusCode. */
typedef enum encore_status {
  ENCORE_OK = 0,
  ENCORE_INVALID_ARGUMENT = 1,    /* the caller passed something unusable (NULL, shape, option) */
  ENCORE_NOT_FOUND = 2,           /* a named tensor / file / key does not exist */
  ENCORE_IO_ERROR = 3,            /* the OS refused: open, read, mmap */
  ENCORE_INVALID_MODEL = 4,       /* the model file is malformed or inconsistent */
  ENCORE_UNSUPPORTED = 5,         /* well-formed, but a feature encore does not implement */
  ENCORE_OUT_OF_RANGE = 6,        /* a value outside what the model accepts (token id, length) */
  ENCORE_RESOURCE_EXHAUSTED = 7,  /* out of memory, or a configured limit */
  ENCORE_INTERNAL = 8             /* a bug in encore or a dependency reported failure */
} encore_status;

/* "ok", "invalid argument", "out of range", ...: a static string; "unknown" for a value not
 * listed above. */
const char* encore_status_name(encore_status status);

/* The library's version, "MAJOR.MINOR.PATCH": a static string. */
const char* encore_version(void);

typedef struct encore_error encore_error;

/* The code of an error (ENCORE_INVALID_ARGUMENT for a NULL error). */
encore_status encore_error_code(const encore_error* error);
/* Its one-line message, valid until encore_error_free(error); "" for a NULL error. */
const char* encore_error_message(const encore_error* error);
void encore_error_free(encore_error* error);

/* ---- Model ---------------------------------------------------------------------------- */

typedef struct encore_model encore_model;

typedef struct encore_load_options {
  uint32_t struct_size;
  uint64_t max_file_size; /* largest file accepted, in bytes (default 16 GiB) */
} encore_load_options;

void encore_load_options_init(encore_load_options* options);

/* Maps `path` read-only and validates all of it (see encore/model.h). On success *model is a
 * new handle; on failure *model is NULL. `options` may be NULL for the defaults. */
encore_status encore_model_load(const char* path, const encore_load_options* options, encore_model** model,
                                encore_error** error);

/* Releases the caller's handle. Sessions created from the model keep it alive, so a model may
 * be freed while its sessions are still in use. */
void encore_model_free(encore_model* model);

/* The encoder's hyper-parameters (encore/config.h). */
typedef struct encore_model_config {
  uint32_t struct_size;
  int32_t hidden_size;
  int32_t head_count;
  int32_t layer_count;
  int32_t intermediate_size;
  int32_t max_positions;   /* longest sequence a run accepts */
  int32_t vocab_size;      /* token ids must be in [0, vocab_size) */
  int32_t type_vocab_size; /* token type ids must be in [0, type_vocab_size) */
  int32_t pad_token_id;
  int32_t label_count;     /* classifier labels; 0 without a classifier head */
  int32_t has_pooler;      /* 1: runs fill pooler_output */
  int32_t is_quantized;    /* 1: int8 linear layers; 0: f32 */
  int32_t has_tokenizer;   /* 1: the model stores a tokenizer, so encore_session_run_text works */
  float layer_norm_eps;
  const char* activation;  /* the FFN activation: "gelu", "gelu_tanh" or "relu" */
  /* Appended (struct_size tells): the head (Hugging Face's architectures class). */
  int32_t head;              /* an encore_head_kind */
  int32_t problem_type;      /* an encore_problem_type: how a sequence classifier's logits read */
  int32_t token_logit_width; /* columns of encore_outputs.token_logits; 0 without a per-token head */
  const char* head_name;     /* "pooled", "token-classification", "question-answering", "fill-mask" */
  const char* problem_type_name; /* "single_label_classification", "multi_label_classification",
                                    "regression" */
} encore_model_config;

/* The same heads, in the same order, as encore::HeadKind. */
typedef enum encore_head_kind {
  ENCORE_HEAD_POOLED = 0,               /* base model or sequence classifier: pooler_output, logits */
  ENCORE_HEAD_TOKEN_CLASSIFICATION = 1, /* token_logits [batch, seq_len, labels] */
  ENCORE_HEAD_QUESTION_ANSWERING = 2,   /* token_logits [batch, seq_len, 2]: start at 0, end at 1 */
  ENCORE_HEAD_MASKED_LM = 3             /* token_logits [batch, seq_len, vocab_size] */
} encore_head_kind;

/* The same problem types, in the same order, as encore::ProblemType. */
typedef enum encore_problem_type {
  ENCORE_PROBLEM_SINGLE_LABEL = 0, /* softmax over the labels */
  ENCORE_PROBLEM_MULTI_LABEL = 1,  /* a sigmoid per label */
  ENCORE_PROBLEM_REGRESSION = 2    /* the raw scores (also a one-label head) */
} encore_problem_type;

/* Valid until encore_model_free(model); NULL for a NULL model. */
const encore_model_config* encore_model_get_config(const encore_model* model);

/* The name of classifier label `index` (id2label order), valid until encore_model_free(model);
 * NULL for a NULL model or an index outside [0, label_count). */
const char* encore_model_label(const encore_model* model, int32_t index);

/* ---- Session -------------------------------------------------------------------------- */

typedef struct encore_session encore_session;

/* The same choices, in the same order, as encore::Int8Gemm. */
typedef enum encore_int8_gemm {
  ENCORE_INT8_GEMM_AUTO = 0,    /* default: encore's own GEMM where the CPU has int8 instructions
                                   Debian's XNNPACK does not use (AVX-512 VNNI, AVX-VNNI, i8mm),
                                   XNNPACK everywhere else */
  ENCORE_INT8_GEMM_XNNPACK = 1, /* always XNNPACK */
  ENCORE_INT8_GEMM_OWN = 2      /* always encore's GEMM, with the best kernel this CPU has */
} encore_int8_gemm;

typedef struct encore_session_options {
  uint32_t struct_size;
  int32_t threads;  /* threads for XNNPACK and encore's kernels, in [1, 1024]; 1 (default) runs on
                       the calling thread only */
  int32_t profile;  /* nonzero: time every step of every run (encore_session_profile_record) */
  uint64_t max_activation_bytes; /* bound on the activation memory a run may plan; 0 (default):
                                    none beyond 2^24 tokens. A run over it fails with
                                    ENCORE_RESOURCE_EXHAUSTED. */
  int32_t int8_gemm; /* int8 models: what runs the linear layers, an encore_int8_gemm value.
                        Every choice gives the same bits; only the speed differs. */
} encore_session_options;

void encore_session_options_init(encore_session_options* options);

/* A session runs `model`; it holds its own reference to the model. On failure *session is
 * NULL. `options` may be NULL for the defaults. */
encore_status encore_session_create(const encore_model* model, const encore_session_options* options,
                                    encore_session** session, encore_error** error);
void encore_session_free(encore_session* session);

/* One batch. All arrays are row-major [batch, seq_len] int32, read during the call only. */
typedef struct encore_inputs {
  uint32_t struct_size;
  int64_t batch;                  /* default 1 */
  int64_t seq_len;                /* in [1, max_positions] */
  const int32_t* input_ids;       /* required; each in [0, vocab_size) */
  const int32_t* attention_mask;  /* optional (NULL = all ones); values 0 or 1 */
  const int32_t* token_type_ids;  /* optional (NULL = all zeros) */
} encore_inputs;

void encore_inputs_init(encore_inputs* inputs);

/* Validates the inputs (ids in range, seq_len in [1, max_positions], mask values), then runs
 * the encoder. Read the results with encore_session_outputs. Once a session has run a batch x
 * seq_len shape, runs that fit allocate nothing. */
encore_status encore_session_run(encore_session* session, const encore_inputs* inputs, encore_error** error);

/* Tokenizes `texts` (text_count NUL-terminated UTF-8 strings) with the model's own tokenizer
 * (its tokenizer.json, or WordPiece for a model converted from vocab.txt) with its special
 * tokens ([CLS] text [SEP], <s> text </s>, ...), truncated to the model's limit, pads them to
 * the longest under attention mask 0, and runs them as one batch: outputs row b is texts[b].
 * Padding does not change any text's result. encore_session_text_info describes the tokens of
 * each text. Fails (ENCORE_INVALID_MODEL) for a model without a tokenizer,
 * ENCORE_INVALID_ARGUMENT for text that is not valid UTF-8. */
encore_status encore_session_run_text(encore_session* session, const char* const* texts, size_t text_count,
                                      encore_error** error);

/* As encore_session_run_text, with text pairs: row b is (texts[b], pairs[b]) as the tokenizer
 * joins two segments ([CLS] a [SEP] b [SEP], <s> a </s></s> b </s>), truncated longest first;
 * for cross-encoders, NLI and question answering. */
encore_status encore_session_run_text_pairs(encore_session* session, const char* const* texts,
                                            const char* const* pairs, size_t text_count, encore_error** error);

/* Which text of a pair gives up tokens first when a pair is too long (encore::TruncationStrategy). */
typedef enum encore_truncation {
  ENCORE_TRUNCATE_LONGEST_FIRST = 0, /* default: the longer text loses its last token, repeatedly */
  ENCORE_TRUNCATE_ONLY_FIRST = 1,
  ENCORE_TRUNCATE_ONLY_SECOND = 2
} encore_truncation;

typedef struct encore_text_options {
  uint32_t struct_size;
  int64_t max_length;             /* tokens per text, special tokens included; 0 (default): the
                                     model's limit (its positions, and model_max_length) */
  int32_t truncation;             /* an encore_truncation value */
  int32_t special_tokens_as_text; /* nonzero: "[SEP]", "<mask>" written in a text are plain text
                                     (default 0: they are those tokens, as in Hugging Face) */
} encore_text_options;

void encore_text_options_init(encore_text_options* options);

/* Sets how the session's later encore_session_run_text(_pairs) calls tokenize. Fails
 * (ENCORE_INVALID_ARGUMENT) for a max_length over the model's limit or an unknown truncation,
 * and (ENCORE_INVALID_MODEL) for a model without a tokenizer; the options then stay as they were. */
encore_status encore_session_set_text_options(encore_session* session, const encore_text_options* options,
                                              encore_error** error);

/* Views into the session's buffers, float32, row-major. */
typedef struct encore_outputs {
  uint32_t struct_size;
  const float* last_hidden_state; /* [batch, seq_len, hidden] */
  const float* pooler_output;     /* [batch, hidden]; NULL without a pooler */
  const float* logits;            /* [batch, labels]; NULL without a classifier */
  int64_t batch;
  int64_t seq_len;
  int64_t hidden;
  int64_t labels;
  /* Appended: the sentence-transformers sentence embedding, [batch, sentence_dim] (pooling,
   * Dense and Normalize modules applied); NULL and 0 for a model without those modules. */
  const float* sentence_embedding;
  int64_t sentence_dim;
  /* Appended: a per-token head's logits, [batch, seq_len, token_logit_width] (see
   * encore_head_kind); NULL and 0 for a model without one. */
  const float* token_logits;
  int64_t token_logit_width;
} encore_outputs;

/* The outputs of the last run, valid until the next run or encore_session_free(session). NULL
 * before the first successful run, after a failed run, and for a NULL session. */
const encore_outputs* encore_session_outputs(const encore_session* session);

/* A token's byte span [begin, end) in the text it came from (0, 0 for added special tokens). */
typedef struct encore_token_offset {
  uint32_t begin;
  uint32_t end;
} encore_token_offset;

/* How text `index` of the last encore_session_run_text(_pairs) was tokenized. */
typedef struct encore_text_info {
  uint32_t struct_size;
  int64_t token_count;       /* its tokens, special tokens included; rows after them are padding */
  int32_t truncated;         /* 1: the text was cut to fit the model's limit */
  const int32_t* ids;        /* [token_count] token ids */
  const char* const* tokens; /* [token_count] the vocabulary strings of ids, NUL-terminated */
  /* Appended (struct_size tells): */
  const encore_token_offset* offsets; /* [token_count] byte spans in texts[index] or pairs[index] */
  const uint8_t* sequence_ids;        /* [token_count] 0: from the text, 1: from its pair, 255: special */
} encore_text_info;

/* Valid (with everything it points to) until the next run or encore_session_free(session).
 * NULL unless the last run was a successful encore_session_run_text with more than `index`
 * texts. */
const encore_text_info* encore_session_text_info(const encore_session* session, size_t index);

/* ---- Profile (encore/profile.h) ------------------------------------------------------- */

/* The steps of a forward pass, in the order of encore::ProfileStep. */
typedef enum encore_profile_step {
  ENCORE_STEP_EMBEDDINGS = 0,        /* lookup + position + token type + LayerNorm (layer -1) */
  ENCORE_STEP_QUANTIZE = 1,          /* reserved, never recorded: the step before each linear layer writes its int8 input */
  ENCORE_STEP_QKV_PROJECTION = 2,    /* fused Q/K/V linear layer */
  ENCORE_STEP_ATTENTION = 3,         /* QK^T * scale + mask, softmax, x V */
  ENCORE_STEP_OUTPUT_PROJECTION = 4, /* attention output linear layer */
  ENCORE_STEP_ATTN_RESIDUAL_NORM = 5, /* residual add and LayerNorm */
  ENCORE_STEP_FFN_UP = 6,            /* FFN first linear layer */
  ENCORE_STEP_ACTIVATION = 7,        /* GELU / ReLU */
  ENCORE_STEP_FFN_DOWN = 8,          /* FFN second linear layer */
  ENCORE_STEP_FFN_RESIDUAL_NORM = 9, /* residual add and LayerNorm */
  ENCORE_STEP_POOLER = 10,           /* [CLS] rows, linear layer, tanh (layer -1) */
  ENCORE_STEP_CLASSIFIER = 11,       /* linear layer on the pooled output (layer -1) */
  ENCORE_STEP_SENTENCE_POOLING = 12, /* sentence-transformers pooling over the attention mask (layer -1) */
  ENCORE_STEP_SENTENCE_DENSE = 13,   /* a sentence-transformers Dense module (layer -1) */
  ENCORE_STEP_SENTENCE_NORMALIZE = 14, /* sentence-transformers Normalize (layer -1) */
  ENCORE_STEP_ROTARY = 15,           /* ModernBERT: rotary position embedding on Q and K */
  ENCORE_STEP_LOCAL_ATTENTION = 16   /* ModernBERT: attention within the sliding window */
} encore_profile_step;

typedef struct encore_profile_record {
  uint32_t struct_size;
  int32_t layer;            /* encoder layer, or -1 for embeddings / pooler / classifier */
  encore_profile_step step;
  const char* step_name;    /* "embeddings", "qkv", "attention", ...: a static string */
  const char* kernel;       /* what ran ("xnnpack qc8 conv 1x1", ...), valid until
                               encore_session_free */
  uint64_t start_ns;        /* from the start of the run */
  uint64_t duration_ns;
  uint64_t operations;      /* arithmetic operations (a multiply-add counts 2) */
  uint64_t bytes;           /* weights and activations read and written (estimate) */
} encore_profile_record;

/* The number of steps the last run recorded, in execution order (a failed run keeps those
 * before the failure); 0 unless the session was created with options.profile set. */
size_t encore_session_profile_count(const encore_session* session);

/* Step `index` of the last run, valid until the next run or encore_session_free(session); NULL
 * for an index >= encore_session_profile_count(session) or a NULL session. */
const encore_profile_record* encore_session_profile_record(const encore_session* session, size_t index);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* ENCORE_ENCORE_C_H_ */
