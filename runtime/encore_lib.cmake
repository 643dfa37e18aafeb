# encore_text_tokenizer: the tokenizer.json pipeline (encore/text_tokenizer.h). Its own library
# until the converter and the runtime load tokenizers through it.
if(TARGET encore::pcre2)
add_library(encore_text_tokenizer STATIC
  tokenizer/normalized_string.cc
  tokenizer/normalizers.cc
  tokenizer/pre_tokenizers.cc
  tokenizer/wordpiece.cc
  tokenizer/bpe.cc
  tokenizer/unigram.cc
  tokenizer/post_processors.cc
  tokenizer/added_tokens.cc
  tokenizer/tokenizer_json.cc)
target_include_directories(encore_text_tokenizer PRIVATE ${NLOHMANN_JSON_INCLUDE_DIR})
target_link_libraries(encore_text_tokenizer PUBLIC encore_core PRIVATE encore::utf8proc encore::pcre2)
endif()

# encore: the runtime library (model loading, XNNPACK linear layers, encoder sessions).
add_library(encore STATIC
  model/file_mapping.cc
  model/model.cc
  xnnpack/xnn_linear.cc
  encoder/activation_arena.cc
  encoder/session.cc
  encoder/attention_jobs.cc
  encoder/inputs.cc
  encoder/layer_ops.cc
  encoder/plan.cc
  encoder/steps.cc
  tokenizer/wordpiece_tokenizer.cc
  text/text_batch.cc
  text/text_encoder.cc
  text/heads_text.cc
  core/cpu_description.cc)
target_link_libraries(encore PUBLIC encore_core encore_kernels PRIVATE encore_schema encore::xnnpack encore::cpuinfo encore::utf8proc)
# The schema header is needed by the converter too (it writes the format).
target_link_libraries(encore PUBLIC encore_schema)
