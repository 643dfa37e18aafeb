// Reads a Hugging Face BERT model directory's config.json (and tokenizer_config.json when
// present) into encore's EncoderConfig plus the few extras the converter needs.
#pragma once

#include <string>
#include <vector>

#include "encore/config.h"
#include "encore/status.h"

namespace encore::io {

struct HfModelConfig {
  EncoderConfig encoder;          // labels filled from id2label when num_labels/id2label exist
  std::string model_type;         // "bert", "roberta", ...
  std::string class_prefix;       // of its Hugging Face classes: "Bert", "XLMRoberta", ...
  std::vector<std::string> architectures;
  std::string hidden_act;         // as written in the file
  std::string problem_type;       // "" when absent or null
  // ModernBERT's optional biases (attention_bias, mlp_bias, norm_bias, classifier_bias,
  // decoder_bias): the checkpoint has those tensors exactly when its config says so.
  struct ModernBertBiases {
    bool attention = false, mlp = false, norm = false, classifier = false, decoder = true;
  } modernbert;
  // From tokenizer_config.json (defaults as in Hugging Face BertTokenizer when absent).
  bool do_lower_case = true;
  bool strip_accents_set = false;  // strip_accents given explicitly
  bool strip_accents = false;      // its value when set
};

// Parses config.json text. Requires model_type bert, distilbert, roberta, xlm-roberta,
// camembert or electra (kUnsupported otherwise, naming it), which sets encoder.family;
// hidden_act (DistilBERT: activation) in {gelu, gelu_new, gelu_pytorch_tanh, relu}
// (kUnsupported otherwise); positive hidden_size, num_attention_heads, num_hidden_layers,
// intermediate_size (DistilBERT: dim, n_heads, n_layers, hidden_dim), vocab_size,
// max_position_embeddings; hidden_size divisible by num_attention_heads; ELECTRA's
// embedding_size (default 128);
// position_embedding_type "absolute" when given (kUnsupported otherwise); type_vocab_size
// (default 2; DistilBERT has none), layer_norm_eps (default 1e-12; DistilBERT's is 1e-12 always),
// pad_token_id (default 0; RoBERTa family 1). id2label
// ({"0": "neg", "1": "pos"}) gives labels in id order; with only num_labels, labels are
// "LABEL_0".. ; with neither, no labels. JSON type errors are kInvalidModel naming the key.
Result<HfModelConfig> parse_hf_config(const std::string& config_json_text);

// model_type modernbert reads ModernBertConfig's keys instead (hidden_activation, norm_eps,
// local_attention, global_attn_every_n_layers, the rotary bases as global_rope_theta /
// local_rope_theta or rope_parameters, classifier_pooling, classifier_activation, the bias
// switches) and refuses, naming the key, what encore does not compute: rope scaling or a rope
// type other than default, a layer_types pattern other than the one global_attn_every_n_layers
// gives, a head_dim other than hidden_size / num_attention_heads.
//
// Reads MODEL_DIR/config.json (required) and MODEL_DIR/tokenizer_config.json (optional).
Result<HfModelConfig> read_hf_config(const std::string& model_dir);

// Reads vocab.txt: one token per line, '\n' or '\r\n' endings, line i is token id i. Empty
// file, a non-UTF-8 line or duplicate tokens: kInvalidModel naming the line.
Result<std::vector<std::string>> read_vocab(const std::string& path);

}  // namespace encore::io
