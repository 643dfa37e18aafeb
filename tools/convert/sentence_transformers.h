// Reads a sentence-transformers directory (modules.json) into the modules encore applies after
// the encoder, with sentence-transformers' semantics (sentence_transformers/SentenceTransformer.py
// _load_sbert_model, models/Transformer.py, Pooling.py, Dense.py, Normalize.py):
//
//   modules.json                       [{"type": "sentence_transformers.models.Transformer",
//                                        "path": ""}, {"type": "...Pooling", "path": "1_Pooling"},
//                                        {"type": "...Dense", "path": "2_Dense"}, ...,
//                                        {"type": "...Normalize", "path": "3_Normalize"}]
//   <transformer path>/                the Hugging Face model (config.json, model.safetensors,
//                                      vocab.txt), loaded as AutoModel: the base model, whatever
//                                      config.json's architectures say
//   <transformer path>/sentence_bert_config.json  max_seq_length, do_lower_case
//   1_Pooling/config.json              word_embedding_dimension, pooling_mode_*, include_prompt
//   2_Dense/config.json                in_features, out_features, bias, activation_function;
//   2_Dense/model.safetensors          linear.weight [out, in], linear.bias [out]
//   config_sentence_transformers.json  prompts, default_prompt_name, similarity_fn_name
//
// encore applies Transformer, one Pooling, any number of Dense modules, an optional Normalize,
// in that order. Anything else (another module type, a module out of that order, an
// activation other than Identity or Tanh, include_prompt false, do_lower_case true, a pooling
// key it does not know) is refused with one line naming it: its embeddings would not be the
// model's.
#pragma once

#include <string>

#include "convert/hf_checkpoint.h"
#include "encore/config.h"
#include "encore/status.h"

namespace encore::convert {

// modules.json of DIR, parsed: where each module lives. Everything is checked here except what
// needs the encoder's width.
struct SentenceModules {
  std::string dir;              // the sentence-transformers directory
  std::string transformer_dir;  // the Hugging Face model inside it (DIR itself for path "")
  std::string pooling_path;     // relative to dir
  std::vector<std::string> dense_paths;
  bool normalize = false;
};

// True when DIR holds modules.json.
bool is_sentence_transformers_dir(const std::string& dir);

Result<SentenceModules> read_modules_json(const std::string& dir);

// The modules' settings and Dense weights, for an encoder of `hidden_size` whose HF directory
// is modules.transformer_dir: fills ck->config.sentence and ck->tensors["sentence.dense.N.*"].
Status read_sentence_modules(const SentenceModules& modules, FloatCheckpoint* ck);

}  // namespace encore::convert
