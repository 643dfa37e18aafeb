// The encoder's hyper-parameters, as stored in a .encore file.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace encore {

// Feed-forward activation. kGeluErf is Hugging Face "gelu" (exact, erf-based);
// kGeluTanh is "gelu_new" / "gelu_pytorch_tanh"; kRelu is "relu".
enum class Activation { kGeluErf = 0, kGeluTanh = 1, kRelu = 2 };

const char* activation_name(Activation a);

// The encoder families, by the layout of their forward pass (Hugging Face model_type in
// brackets). All are post-LayerNorm blocks with absolute position embeddings; they differ in
// the embeddings and the head:
//  kBert        word + position[s] + token type (bert)
//  kDistilBert  word + position[s], no token types (distilbert)
//  kRoberta     word + position from the ids + token type: positions count the tokens that are
//               not pad_token_id, from pad_token_id + 1; a pad token gets pad_token_id
//               (roberta, xlm-roberta, camembert)
//  kElectra     as kBert, with embeddings embedding_size wide, projected to hidden_size after
//               their LayerNorm (electra)
//  kModernBert  the exception to the above (modernbert): pre-LayerNorm blocks, no position
//               embeddings but rotary ones on Q and K, sliding-window attention in most layers,
//               a gated FFN (GeGLU) and a final LayerNorm; see the ModernBERT fields below
enum class Family { kBert = 0, kDistilBert = 1, kRoberta = 2, kElectra = 3, kModernBert = 4 };

const char* family_name(Family f);

// The activation of the dense layer on the first token that feeds the classifier: BERT's and
// RoBERTa's tanh, DistilBERT's ReLU (pre_classifier), ELECTRA's GELU (erf).
enum class PoolerActivation { kTanh = 0, kRelu = 1, kGelu = 2 };

// The head on the encoder (Hugging Face's architectures class; format version 4 for all but kPooled):
//  kPooled               the base model, or *ForSequenceClassification: the pooler / dense layer on the
//                        first token and, with labels, the classifier (Outputs::logits [batch, labels])
//  kTokenClassification  *ForTokenClassification: a linear layer per token (labels wide)
//  kQuestionAnswering    *ForQuestionAnswering: qa_outputs per token (2 wide: start, end)
//  kMaskedLm             *ForMaskedLM: dense + activation + LayerNorm per token, then the decoder
//                        tied to the word embeddings (vocab_size wide)
// The per-token heads fill Outputs::token_logits [batch, seq, token_logit_width].
enum class HeadKind { kPooled = 0, kTokenClassification = 1, kQuestionAnswering = 2, kMaskedLm = 3 };

const char* head_kind_name(HeadKind h);

// How a sequence classifier's logits are read (Hugging Face's problem_type; format version 4 for
// all but kSingleLabel): softmax over the labels, a sigmoid per label, or the raw score
// (regression; also num_labels 1 without a problem_type, as the modeling files' loss takes it).
enum class ProblemType { kSingleLabel = 0, kMultiLabel = 1, kRegression = 2 };

const char* problem_type_name(ProblemType p);

// What a ModernBERT sequence classifier pools before its head (classifier_pooling): the first
// token, or the mean over the attention mask's tokens.
enum class ClassifierPooling { kCls = 0, kMean = 1 };

// sentence-transformers modules after the encoder (a directory with modules.json), applied as
// sentence-transformers' Pooling, Dense and Normalize modules do (sentence_transformers/models/).
// Pooling modes are flags: several may be set, and their vectors are concatenated in this
// order, as Pooling.forward appends them. Each is over the attention mask of the run:
//  kCls           the first token, whatever the mask says
//  kMax           per dimension, the max over positions; masked positions count as -1e9
//  kMean          sum over unmasked tokens / max(count, 1e-9)
//  kMeanSqrtLen   sum over unmasked tokens / sqrt(max(count, 1e-9))
//  kWeightedMean  position-weighted mean: weights 1..seq_len, masked positions weight 0
//  kLastToken     the last unmasked token (zeros when every position is masked)
enum SentencePooling : uint32_t {
  kPoolCls = 1u << 0,
  kPoolMax = 1u << 1,
  kPoolMean = 1u << 2,
  kPoolMeanSqrtLen = 1u << 3,
  kPoolWeightedMean = 1u << 4,
  kPoolLastToken = 1u << 5,
};
constexpr uint32_t kSentencePoolingAll = (1u << 6) - 1;

// The activation of a Dense module: torch.nn.Identity or torch.nn.Tanh.
enum class DenseActivation { kIdentity = 0, kTanh = 1 };

// One Dense module: y = activation(W x + b), W [out_features, in_features].
struct SentenceDense {
  int32_t in_features = 0;
  int32_t out_features = 0;
  bool bias = true;
  DenseActivation activation = DenseActivation::kTanh;
};

struct SentenceEmbeddingConfig {
  uint32_t pooling = 0;  // SentencePooling flags; 0: the model has no sentence-transformers modules
  std::vector<SentenceDense> dense;  // in module order
  bool normalize = false;            // a Normalize module last: unit L2 length
  // sentence_bert_config.json: texts are truncated to this many tokens, specials included
  // (0: not given, the model's own limit applies).
  int32_t max_seq_length = 0;
  // config_sentence_transformers.json: prompt name -> text prepended to a text; the prompt
  // used when none is named (empty: none); the similarity function ("cosine", "dot", ...).
  std::vector<std::pair<std::string, std::string>> prompts;
  std::string default_prompt_name;
  std::string similarity_fn_name;

  bool enabled() const { return pooling != 0; }
  // Width of the pooled vector: one hidden_size block per pooling mode.
  int32_t pooled_width(int32_t hidden_size) const;
  // Width of sentence_embedding: the last Dense module's out_features, else pooled_width.
  int32_t dimension(int32_t hidden_size) const;
  // The prompt text of `name`, or null when the model has no prompt of that name.
  const std::string* prompt(const std::string& name) const;
};

struct EncoderConfig {
  Family family = Family::kBert;
  int32_t hidden_size = 0;
  int32_t head_count = 0;
  int32_t layer_count = 0;
  int32_t intermediate_size = 0;
  Activation activation = Activation::kGeluErf;
  float layer_norm_eps = 1e-12f;
  int32_t max_positions = 0;
  int32_t vocab_size = 0;
  int32_t type_vocab_size = 0;  // 0: no token types (DistilBERT); token_type_ids must then be 0
  int32_t pad_token_id = 0;
  // Width of the embeddings; 0 = hidden_size. ELECTRA's differ, and a projection follows them.
  int32_t embedding_size = 0;
  // A dense layer + activation on the first token (BERT's pooler; the first half of RoBERTa's,
  // ELECTRA's and DistilBERT's classification heads). pooler_output: Session reports its result
  // as pooler_output (a Hugging Face model whose class has a pooler); otherwise it only feeds
  // the classifier.
  bool has_pooler = false;
  PoolerActivation pooler_activation = PoolerActivation::kTanh;
  bool pooler_output = true;
  // Classifier head labels (id2label order) of a sequence or token classifier; empty otherwise.
  std::vector<std::string> labels;
  HeadKind head = HeadKind::kPooled;
  ProblemType problem_type = ProblemType::kSingleLabel;  // sequence classifiers
  // The masked-LM head's transform activation (BERT's hidden_act, DistilBERT's activation,
  // RoBERTa's and ELECTRA's erf GELU).
  Activation head_activation = Activation::kGeluErf;
  // Per-layer shapes of a pruned model (encore-convert --prune-heads / --prune-ffn); both
  // empty for a model that was not pruned. head_count and intermediate_size stay those of the
  // model before pruning, so head_dim() is hidden_size / head_count in every layer.
  //   layer_heads[l]: the original indices, ascending, of the heads layer l keeps (at least one);
  //   layer_intermediate_sizes[l]: the FFN neurons layer l keeps (at least one).
  std::vector<std::vector<int32_t>> layer_heads;
  std::vector<int32_t> layer_intermediate_sizes;
  // sentence-transformers modules (pooling, Dense, Normalize) and settings; disabled when the
  // model is a plain Hugging Face encoder.
  SentenceEmbeddingConfig sentence;
  // ModernBERT (family kModernBert; format version 8), as Hugging Face's ModernBertConfig:
  //   local_attention      the sliding window in tokens, in total: a local layer's query i sees
  //                        the keys j with |i - j| <= local_attention / 2 (integer division)
  //   global_attn_every_n_layers  layer l attends globally when l % n == 0, locally otherwise
  //   global_rope_theta / local_rope_theta  the rotary base of the global / local layers
  //   classifier_pooling   what the sequence classifier's head reads
  // The heads' ModernBertPredictionHead (dense, classifier_activation = head_activation,
  // LayerNorm) sits before the decoder, the classifier and the token classifier alike.
  int32_t local_attention = 0;
  int32_t global_attn_every_n_layers = 1;
  float global_rope_theta = 160000.0f;
  float local_rope_theta = 10000.0f;
  ClassifierPooling classifier_pooling = ClassifierPooling::kCls;

  int32_t head_dim() const { return head_count > 0 ? hidden_size / head_count : 0; }
  int32_t embedding_width() const { return embedding_size > 0 ? embedding_size : hidden_size; }
  bool has_pooler_output() const { return has_pooler && pooler_output; }
  // The longest sequence the position embeddings cover: RoBERTa's positions start after
  // pad_token_id, so max_positions - pad_token_id - 1 tokens.
  int32_t max_sequence_length() const {
    return family == Family::kRoberta ? max_positions - pad_token_id - 1 : max_positions;
  }
  // A sequence classifier (Outputs::logits [batch, labels]).
  bool has_classifier() const { return head == HeadKind::kPooled && !labels.empty(); }
  bool has_token_head() const { return head != HeadKind::kPooled; }
  // Columns of Outputs::token_logits: labels, 2 (start, end) or vocab_size; 0 without a token head.
  int32_t token_logit_width() const {
    switch (head) {
      case HeadKind::kTokenClassification: return static_cast<int32_t>(labels.size());
      case HeadKind::kQuestionAnswering: return 2;
      case HeadKind::kMaskedLm: return vocab_size;
      case HeadKind::kPooled: break;
    }
    return 0;
  }
  // The masked-LM transform's width: the embeddings' (ELECTRA's generator projects back to them).
  int32_t mlm_width() const { return embedding_width(); }
  bool has_sentence_embedding() const { return sentence.enabled(); }
  int32_t sentence_dimension() const { return sentence.dimension(hidden_size); }
  bool is_pruned() const { return !layer_heads.empty(); }
  bool is_modernbert() const { return family == Family::kModernBert; }
  // A ModernBERT layer that attends over the whole sequence (every other family's always do).
  bool layer_is_global(int layer) const {
    return !is_modernbert() || layer % global_attn_every_n_layers == 0;
  }
  // Columns of a layer's FFN up projection: ModernBERT's Wi writes the GeGLU's input and gate
  // halves, twice the FFN width.
  int32_t ffn_up_width(int layer) const { return (is_modernbert() ? 2 : 1) * intermediate_in_layer(layer); }
  // Heads and FFN neurons of layer `layer` (in [0, layer_count)).
  int32_t heads_in_layer(int layer) const {
    return is_pruned() ? static_cast<int32_t>(layer_heads[static_cast<size_t>(layer)].size()) : head_count;
  }
  int32_t intermediate_in_layer(int layer) const {
    return is_pruned() ? layer_intermediate_sizes[static_cast<size_t>(layer)] : intermediate_size;
  }
  // The index head `head` of layer `layer` had before pruning (itself when not pruned).
  int32_t original_head(int layer, int head) const {
    return is_pruned() ? layer_heads[static_cast<size_t>(layer)][static_cast<size_t>(head)] : head;
  }
  // Largest FFN width over the layers.
  int32_t max_intermediate_size() const;
  // Heads summed over the layers.
  int64_t total_heads() const;
};

}  // namespace encore
