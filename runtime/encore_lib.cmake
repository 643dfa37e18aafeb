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
  core/cpu_description.cc)
target_link_libraries(encore PUBLIC encore_core encore_kernels PRIVATE encore_schema encore::xnnpack encore::cpuinfo encore::utf8proc)
# The schema header is needed by the converter too (it writes the format).
target_link_libraries(encore PUBLIC encore_schema)
