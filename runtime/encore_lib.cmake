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
  tokenizer/normalized_string.cc
  tokenizer/normalizers.cc
  tokenizer/pre_tokenizers.cc
  tokenizer/wordpiece.cc
  tokenizer/bpe.cc
  tokenizer/unigram.cc
  tokenizer/post_processors.cc
  tokenizer/added_tokens.cc
  tokenizer/tokenizer_json.cc
  tokenizer/wordpiece_tokenizer.cc
  text/model_tokenizer.cc
  text/text_batch.cc
  text/text_encoder.cc
  text/heads_text.cc
  text/text_heads.cc
  core/cpu_description.cc)
target_link_libraries(encore PUBLIC encore_core encore_kernels PRIVATE encore_schema encore::xnnpack encore::cpuinfo encore::utf8proc)
# The schema header is needed by the converter too (it writes the format).
target_link_libraries(encore PUBLIC encore_schema)
target_include_directories(encore PRIVATE ${NLOHMANN_JSON_INCLUDE_DIR})
# The tokenizer.json pipeline (encore/text_tokenizer.h) is part of the runtime. Its regexes
# (ByteLevel, Split, Replace patterns) run on PCRE2; a build without it (Android sysroots) still
# reads every tokenizer.json without a regex and refuses, by name, those with one.
if(TARGET encore::pcre2)
  target_link_libraries(encore PRIVATE encore::pcre2)
  target_compile_definitions(encore PRIVATE ENCORE_HAVE_PCRE2=1)
endif()
# The name the tokenizer tests and fuzz target link.
add_library(encore_text_tokenizer INTERFACE)
target_link_libraries(encore_text_tokenizer INTERFACE encore)
