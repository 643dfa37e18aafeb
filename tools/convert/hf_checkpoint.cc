#include "convert/hf_checkpoint.h"

#include "convert/tokenizer_files.h"
#include "encore/text_tokenizer.h"

#include "convert/sentence_transformers.h"

#include <cstring>
#include <set>
#include <sys/stat.h>

#include "core/str.h"
#include "io/hf_config.h"
#include "io/safetensors.h"

namespace encore::convert {

namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

class Reader {
 public:
  Reader(const io::SafetensorsCheckpoint& file, std::string prefix) : file_(file), prefix_(std::move(prefix)) {}

  // Reads `name` (after the prefix, unless `absolute`), checking its shape.
  Result<FloatTensor> read(const std::string& name, const std::vector<int64_t>& shape, bool absolute = false) {
    std::string full = absolute ? name : prefix_ + name;
    const io::SafetensorsEntry* e = file_.find(full);
    if (!e) return invalid_model(cat("model.safetensors: missing tensor '", full, "'"));
    if (e->shape != shape) {
      return invalid_model(cat("model.safetensors: tensor '", full, "' has shape ", shape_str(e->shape),
                               " but the config implies ", shape_str(shape)));
    }
    ENCORE_ASSIGN_OR_RETURN(auto values, file_.read_f32(full));
    used_.insert(full);
    return FloatTensor{shape, std::move(values)};
  }

  // LayerNorm parameters under either naming (weight/bias or gamma/beta).
  Result<FloatTensor> read_norm(const std::string& base, const char* modern, const char* old, int64_t h) {
    std::string name = base + "." + modern;
    if (!file_.find(prefix_ + name) && file_.find(prefix_ + base + "." + old)) name = base + "." + old;
    return read(name, {h});
  }

  const io::SafetensorsEntry* entry(const std::string& absolute_name) const { return file_.find(absolute_name); }
  bool has(const std::string& name, bool absolute = false) const {
    return file_.find(absolute ? name : prefix_ + name) != nullptr;
  }
  const std::set<std::string>& used() const { return used_; }

 private:
  const io::SafetensorsCheckpoint& file_;
  std::string prefix_;
  std::set<std::string> used_;
};

Status read_linear(Reader& r, const std::string& src, const std::string& dst, int64_t out, int64_t in,
                   FloatCheckpoint* ck) {
  ENCORE_ASSIGN_OR_RETURN(auto w, r.read(src + ".weight", {out, in}));
  ENCORE_ASSIGN_OR_RETURN(auto b, r.read(src + ".bias", {out}));
  ck->tensors[dst + ".weight"] = std::move(w);
  ck->tensors[dst + ".bias"] = std::move(b);
  return Status::Ok();
}

// A head layer outside the base model's prefix ("classifier.dense", "pre_classifier").
Status read_linear_absolute(Reader& r, const std::string& src, const std::string& dst, int64_t out, int64_t in,
                            FloatCheckpoint* ck) {
  ENCORE_ASSIGN_OR_RETURN(auto w, r.read(src + ".weight", {out, in}, true));
  ENCORE_ASSIGN_OR_RETURN(auto b, r.read(src + ".bias", {out}, true));
  ck->tensors[dst + ".weight"] = std::move(w);
  ck->tensors[dst + ".bias"] = std::move(b);
  return Status::Ok();
}

Status read_norm(Reader& r, const std::string& src, const std::string& dst, int64_t h, FloatCheckpoint* ck) {
  ENCORE_ASSIGN_OR_RETURN(auto g, r.read_norm(src, "weight", "gamma", h));
  ENCORE_ASSIGN_OR_RETURN(auto b, r.read_norm(src, "bias", "beta", h));
  ck->tensors[dst + ".gamma"] = std::move(g);
  ck->tensors[dst + ".beta"] = std::move(b);
  return Status::Ok();
}

// The head a checkpoint carries, from config.json's `architectures` (the class Hugging Face's
// from_pretrained builds). The converter acts on it rather than on which tensors happen to be
// in the file: a token-classification or QA checkpoint also holds a `classifier` or pooler.
enum class Head {
  kUnnamed,                 // no architectures: a base model unless head tensors say otherwise
  kBase,                    // the encoder, or pre-training heads encore does not run
  kSequenceClassification,  // a dense layer + activation on the first token, the classifier
  kTokenClassification,     // `classifier` on every token
  kQuestionAnswering,       // `qa_outputs` on every token: start and end logits
  kMaskedLm,                // the family's LM head on every token, decoder tied to the word embeddings
};

Result<Head> head_of(const io::HfModelConfig& hf) {
  const auto& architectures = hf.architectures;
  if (architectures.empty()) return Head::kUnnamed;
  if (architectures.size() > 1) {
    return unsupported(cat("config.json: architectures names ", architectures.size(),
                           " classes; encore converts a checkpoint of one"));
  }
  const std::string& a = architectures[0];
  const std::string& p = hf.class_prefix;
  // ForPreTraining: BERT's MLM + NSP heads, ELECTRA's discriminator head. The encoder under
  // them is the base model.
  if (a == p + "Model" || (a == p + "ForPreTraining" && (p == "Bert" || p == "Electra"))) return Head::kBase;
  if (a == p + "ForSequenceClassification") return Head::kSequenceClassification;
  if (a == p + "ForTokenClassification") return Head::kTokenClassification;
  if (a == p + "ForQuestionAnswering") return Head::kQuestionAnswering;
  if (a == p + "ForMaskedLM") return Head::kMaskedLm;
  return unsupported(cat("config.json: architectures '", a, "' is not supported (encore converts ", p, "Model, ", p,
                         "ForSequenceClassification, ", p, "ForTokenClassification, ", p, "ForQuestionAnswering, ", p,
                         "ForMaskedLM",
                         p == "Bert" || p == "Electra" ? cat(", and ", p, "ForPreTraining as the base encoder")
                                                       : std::string(),
                         ")"));
}

// Where each family keeps a sequence classifier's two layers, and the dense layer's activation.
struct ClassifierNames {
  const char* dense;       // "pooler.dense" (BERT), "classifier.dense", "pre_classifier"
  const char* classifier;  // "classifier", "classifier.out_proj"
  PoolerActivation activation;
  bool dense_is_pooler;    // the dense layer is the model's pooler (pooler_output)
};

ClassifierNames classifier_names(Family f) {
  switch (f) {
    case Family::kBert: return {"pooler.dense", "classifier", PoolerActivation::kTanh, true};
    case Family::kDistilBert: return {"pre_classifier", "classifier", PoolerActivation::kRelu, false};
    case Family::kRoberta: return {"classifier.dense", "classifier.out_proj", PoolerActivation::kTanh, false};
    case Family::kElectra: return {"classifier.dense", "classifier.out_proj", PoolerActivation::kGelu, false};
    case Family::kModernBert: break;  // read_modernbert_head
  }
  return {"pooler.dense", "classifier", PoolerActivation::kTanh, true};
}

// How the logits are read, as the modeling files' *ForSequenceClassification.forward decides the
// loss: problem_type when given; otherwise num_labels 1 is regression and more labels are
// single-label classification.
Status set_problem_type(const io::HfModelConfig& hf, EncoderConfig* c) {
  const std::string& pt = hf.problem_type;
  if (pt.empty()) {
    c->problem_type = c->labels.size() == 1 ? ProblemType::kRegression : ProblemType::kSingleLabel;
  } else if (pt == "single_label_classification") {
    c->problem_type = ProblemType::kSingleLabel;
  } else if (pt == "multi_label_classification") {
    c->problem_type = ProblemType::kMultiLabel;
  } else if (pt == "regression") {
    c->problem_type = ProblemType::kRegression;
  } else {
    return unsupported(cat("config.json: problem_type '", pt,
                           "' is not supported (single_label_classification, multi_label_classification, regression)"));
  }
  if (c->problem_type == ProblemType::kSingleLabel && c->labels.size() == 1) {
    return unsupported("config.json: problem_type single_label_classification with num_labels 1 is not supported "
                       "(a softmax over one label is always 1)");
  }
  return Status::Ok();
}

// The per-token heads' tensors, under each family's names (modeling_<family>.py):
//   token classification  classifier (every family)
//   question answering    qa_outputs (every family)
//   masked LM             BERT: cls.predictions.transform.{dense,LayerNorm}, cls.predictions.bias;
//                         RoBERTa: lm_head.{dense,layer_norm}, lm_head.bias;
//                         DistilBERT: vocab_transform, vocab_layer_norm, vocab_projector.bias;
//                         ELECTRA: generator_predictions.{dense,LayerNorm}, generator_lm_head.bias
//                         The decoder's weight is tied to the word embeddings (*.decoder.weight,
//                         vocab_projector.weight, generator_lm_head.weight when saved).
struct MlmNames {
  const char* dense;
  const char* norm;
  const char* bias;
  const char* decoder;  // the tied weight's name, when a checkpoint stores it
};

MlmNames mlm_names(Family f) {
  switch (f) {
    case Family::kBert:
      return {"cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.bias",
              "cls.predictions.decoder.weight"};
    case Family::kRoberta: return {"lm_head.dense", "lm_head.layer_norm", "lm_head.bias", "lm_head.decoder.weight"};
    case Family::kDistilBert:
      return {"vocab_transform", "vocab_layer_norm", "vocab_projector.bias", "vocab_projector.weight"};
    case Family::kModernBert: break;  // read_modernbert_head
    case Family::kElectra:
      return {"generator_predictions.dense", "generator_predictions.LayerNorm", "generator_lm_head.bias",
              "generator_lm_head.weight"};
  }
  return {"", "", "", ""};
}

// The transform's activation: BERT's ACT2FN[hidden_act] and DistilBERT's
// get_activation(activation) follow the config (already parsed into c.activation); RoBERTa's
// RobertaLMHead calls gelu and ELECTRA's ElectraGeneratorPredictions get_activation("gelu").
Activation mlm_activation(const EncoderConfig& c) {
  return c.family == Family::kBert || c.family == Family::kDistilBert ? c.activation : Activation::kGeluErf;
}

Status read_masked_lm(const io::HfModelConfig& hf, Reader& r, FloatCheckpoint* ck) {
  EncoderConfig& c = ck->config;
  const MlmNames n = mlm_names(c.family);
  const int64_t H = c.hidden_size, T = c.mlm_width();
  for (const std::string& name : {cat(n.dense, ".weight"), std::string(n.bias)}) {
    if (!r.has(name, true)) {
      return invalid_model(cat("config.json names ", hf.architectures[0], " but model.safetensors has no ", name));
    }
  }
  c.head_activation = mlm_activation(c);
  ENCORE_RETURN_IF_ERROR(read_linear_absolute(r, n.dense, "mlm.transform", T, H, ck));
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["mlm.norm.gamma"], r.read(cat(n.norm, ".weight"), {T}, true));
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["mlm.norm.beta"], r.read(cat(n.norm, ".bias"), {T}, true));
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["mlm.decoder.bias"], r.read(n.bias, {c.vocab_size}, true));
  // The decoder runs with the word embeddings' values; a stored copy must be those (tied).
  if (r.has(n.decoder, true)) {
    ENCORE_ASSIGN_OR_RETURN(FloatTensor d, r.read(n.decoder, {c.vocab_size, T}, true));
    if (d.values != ck->tensors.at("embeddings.word").values) {
      return unsupported(cat("model.safetensors: ", n.decoder,
                             " differs from the word embeddings (an untied decoder), which encore does not run"));
    }
  }
  // The decoder's bias may also be stored under the decoder (tied to the same parameter).
  const std::string decoder_bias = std::string(n.decoder).replace(std::strlen(n.decoder) - 6, 6, "bias");
  if (decoder_bias != n.bias && r.has(decoder_bias, true)) {
    ENCORE_ASSIGN_OR_RETURN(FloatTensor b, r.read(decoder_bias, {c.vocab_size}, true));
    if (b.values != ck->tensors.at("mlm.decoder.bias").values) {
      return unsupported(cat("model.safetensors: ", decoder_bias, " differs from ", n.bias,
                             " (Hugging Face ties them), so the decoder's bias is ambiguous"));
    }
  }
  return Status::Ok();
}

// classifier (token classification, labels wide) or qa_outputs (2 wide: start, end).
Status read_token_head(const io::HfModelConfig& hf, const io::SafetensorsCheckpoint& file, Reader& r, Head head,
                       FloatCheckpoint* ck) {
  EncoderConfig& c = ck->config;
  const int64_t H = c.hidden_size;
  const char* src = head == Head::kQuestionAnswering ? "qa_outputs" : "classifier";
  const std::string weight = cat(src, ".weight");
  const io::SafetensorsEntry* e = file.find(weight);
  if (!e) return invalid_model(cat("config.json names ", hf.architectures[0], " but model.safetensors has no ", weight));
  if (e->shape.size() != 2 || e->shape[0] < 1 || e->shape[1] != H) {
    return invalid_model(cat("model.safetensors: ", weight, " has shape ", shape_str(e->shape), ", expected [",
                             head == Head::kQuestionAnswering ? "2" : "labels", ", ", H, "]"));
  }
  const int64_t W = e->shape[0];
  if (head == Head::kQuestionAnswering) {
    // start and end logits: logits.split(1, dim=-1) in every *ForQuestionAnswering.
    if (W != 2) return invalid_model(cat("model.safetensors: ", weight, " has ", W, " rows; a QA head has 2 (start, end)"));
    c.labels.clear();
    c.head = HeadKind::kQuestionAnswering;
  } else {
    if (c.labels.empty()) {
      for (int64_t i = 0; i < W; ++i) c.labels.push_back("LABEL_" + std::to_string(i));
      ck->warnings.push_back(cat("config.json has no id2label: labels named LABEL_0..LABEL_", W - 1));
    } else if (static_cast<int64_t>(c.labels.size()) != W) {
      return invalid_model(cat(weight, " has ", W, " rows but config.json names ", c.labels.size(), " labels"));
    }
    c.head = HeadKind::kTokenClassification;
  }
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["token_head.weight"], r.read(weight, {W, H}, true));
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["token_head.bias"], r.read(cat(src, ".bias"), {W}, true));
  return Status::Ok();
}

// The head: BERT's and RoBERTa's pooler where the base class has one; a sequence
// classifier's dense layer and classifier, required by it, never guessed from tensor names;
// the per-token heads (whose classes have no pooler: add_pooling_layer=False).
Status read_head(const io::HfModelConfig& hf, const io::SafetensorsCheckpoint& file, Reader& r, FloatCheckpoint* ck) {
  EncoderConfig& c = ck->config;
  const int64_t H = c.hidden_size;
  ENCORE_ASSIGN_OR_RETURN(Head head, head_of(hf));
  const ClassifierNames names = classifier_names(c.family);
  const std::string classifier_weight = cat(names.classifier, ".weight");
  const bool has_classifier = r.has(classifier_weight, true);
  if (head == Head::kUnnamed) {
    for (const auto& e : file.entries()) {
      if (ends_with(e.name, "qa_outputs.weight")) {
        return unsupported(cat("config.json has no 'architectures', so the head holding ", e.name,
                               " is unknown; name it, e.g. [\"", hf.class_prefix, "ForQuestionAnswering\"]"));
      }
    }
    if (has_classifier) {
      return unsupported(cat("config.json has no 'architectures', so the head holding ", classifier_weight,
                             " is unknown (sequence or token classification); name it, e.g. [\"", hf.class_prefix,
                             "ForSequenceClassification\"]"));
    }
  }
  if (head == Head::kTokenClassification || head == Head::kQuestionAnswering || head == Head::kMaskedLm) {
    if (head == Head::kMaskedLm) {
      c.labels.clear();
      c.head = HeadKind::kMaskedLm;
      return read_masked_lm(hf, r, ck);
    }
    return read_token_head(hf, file, r, head, ck);
  }
  // A base model's pooler (BERT, RoBERTa): its output is pooler_output.
  if ((c.family == Family::kBert || c.family == Family::kRoberta) && r.has("pooler.dense.weight")) {
    c.has_pooler = true;
    ENCORE_RETURN_IF_ERROR(read_linear(r, "pooler.dense", "pooler", H, H, ck));
  }
  if (head != Head::kSequenceClassification) {
    c.labels.clear();  // a base model: id2label in its config describes no head here
    return Status::Ok();
  }
  if (!has_classifier) {
    return invalid_model(cat("config.json names ", hf.architectures[0], " but model.safetensors has no ",
                             classifier_weight));
  }
  const io::SafetensorsEntry* e = file.find(classifier_weight);
  if (e->shape.size() != 2 || e->shape[0] < 1 || e->shape[1] != H) {
    return invalid_model(cat("model.safetensors: ", classifier_weight, " has shape ", shape_str(e->shape),
                             ", expected [labels, ", H, "]"));
  }
  const int64_t L = e->shape[0];
  if (c.labels.empty()) {
    for (int64_t i = 0; i < L; ++i) c.labels.push_back("LABEL_" + std::to_string(i));
    ck->warnings.push_back(cat("config.json has no id2label: labels named LABEL_0..LABEL_", L - 1));
  } else if (static_cast<int64_t>(c.labels.size()) != L) {
    return invalid_model(cat(classifier_weight, " has ", L, " rows but config.json names ", c.labels.size(), " labels"));
  }
  ENCORE_RETURN_IF_ERROR(set_problem_type(hf, &c));
  if (names.dense_is_pooler) {
    if (!c.has_pooler) return invalid_model("a classifier head needs the pooler, but pooler.dense.weight is missing");
  } else {
    // The head's dense layer takes the pooler's place; the class has no pooler_output.
    if (!r.has(cat(names.dense, ".weight"), true)) {
      return invalid_model(cat("config.json names ", hf.architectures[0], " but model.safetensors has no ", names.dense,
                               ".weight"));
    }
    c.has_pooler = true;
    c.pooler_output = false;
    c.pooler_activation = names.activation;
    ENCORE_RETURN_IF_ERROR(read_linear_absolute(r, names.dense, "pooler", H, H, ck));
  }
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["classifier.weight"], r.read(classifier_weight, {L, H}, true));
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["classifier.bias"], r.read(cat(names.classifier, ".bias"), {L}, true));
  return Status::Ok();
}

// The largest id of a stored tokenizer must have an embedding row (TextTokenizer::for_model
// checks this again at load; here the conversion fails before anything is written).
Status check_tokenizer_ids(const std::string& json, int32_t vocab_size) {
  ENCORE_ASSIGN_OR_RETURN(auto tokenizer, TextTokenizer::create(json));
  if (tokenizer->vocab_size() > static_cast<size_t>(vocab_size)) {
    return invalid_model(cat("the tokenizer has ids up to ", tokenizer->vocab_size() - 1, " but config.json vocab_size is ",
                             vocab_size));
  }
  return Status::Ok();
}

// Where a family keeps its encoder's tensors (under the base model's prefix).
struct Layout {
  const char* prefix;      // of the base model inside a task checkpoint
  const char* embeddings;  // "embeddings."
  const char* layers;      // "encoder.layer." then the index and "."
  const char* layer_count_key;
  // Within a layer: Q, K, V, attention output, its norm, FFN up, down, norm.
  const char* q;
  const char* k;
  const char* v;
  const char* attn_out;
  const char* attn_norm;
  const char* ffn_up;
  const char* ffn_down;
  const char* ffn_norm;
};

constexpr Layout kBertLayout{"bert.", "embeddings.", "encoder.layer.", "num_hidden_layers",
                             "attention.self.query", "attention.self.key", "attention.self.value",
                             "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                             "output.dense", "output.LayerNorm"};

const Layout& layout_of(Family f) {
  static const Layout kRoberta = [] { Layout l = kBertLayout; l.prefix = "roberta."; return l; }();
  static const Layout kElectra = [] { Layout l = kBertLayout; l.prefix = "electra."; return l; }();
  // modeling_modernbert.py: ModernBertModel's embeddings and layers (the rest is read by
  // read_modernbert_layer; only the prefix and the two groups are used from here).
  static const Layout kModernBert{"model.", "embeddings.", "layers.", "num_hidden_layers", "", "", "", "", "", "", "", ""};
  static const Layout kDistil{"distilbert.", "embeddings.", "transformer.layer.", "n_layers",
                              "attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                              "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"};
  switch (f) {
    case Family::kBert: return kBertLayout;
    case Family::kDistilBert: return kDistil;
    case Family::kRoberta: return kRoberta;
    case Family::kElectra: return kElectra;
    case Family::kModernBert: return kModernBert;
  }
  return kBertLayout;
}

// Word, position and token-type embeddings (E wide) and their LayerNorm; ELECTRA's projection
// to the hidden width when E differs.
Status read_embeddings(Reader& r, FloatCheckpoint* ck) {
  const EncoderConfig& c = ck->config;
  const int64_t H = c.hidden_size, E = c.embedding_width();
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["embeddings.word"], r.read("embeddings.word_embeddings.weight", {c.vocab_size, E}));
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["embeddings.position"],
                          r.read("embeddings.position_embeddings.weight", {c.max_positions, E}));
  if (c.type_vocab_size > 0) {
    ENCORE_ASSIGN_OR_RETURN(ck->tensors["embeddings.token_type"],
                            r.read("embeddings.token_type_embeddings.weight", {c.type_vocab_size, E}));
  }
  ENCORE_RETURN_IF_ERROR(read_norm(r, "embeddings.LayerNorm", "embeddings.norm", E, ck));
  if (E != H) ENCORE_RETURN_IF_ERROR(read_linear(r, "embeddings_project", "embeddings.project", H, E, ck));
  return Status::Ok();
}

// One layer, with Q, K and V fused into one [3H, H] projection: one GEMM instead of three.
Status read_layer(Reader& r, const Layout& layout, int l, FloatCheckpoint* ck) {
  const int64_t H = ck->config.hidden_size, I = ck->config.intermediate_size;
  const std::string src = cat(layout.layers, l, ".");
  const std::string dst = cat("layer.", l, ".");
  FloatTensor qkv_w{{3 * H, H}, {}}, qkv_b{{3 * H}, {}};
  for (const char* part : {layout.q, layout.k, layout.v}) {
    ENCORE_ASSIGN_OR_RETURN(auto w, r.read(src + part + ".weight", {H, H}));
    ENCORE_ASSIGN_OR_RETURN(auto b, r.read(src + part + ".bias", {H}));
    qkv_w.values.insert(qkv_w.values.end(), w.values.begin(), w.values.end());
    qkv_b.values.insert(qkv_b.values.end(), b.values.begin(), b.values.end());
  }
  ck->tensors[dst + "qkv.weight"] = std::move(qkv_w);
  ck->tensors[dst + "qkv.bias"] = std::move(qkv_b);
  ENCORE_RETURN_IF_ERROR(read_linear(r, src + layout.attn_out, dst + "attn_out", H, H, ck));
  ENCORE_RETURN_IF_ERROR(read_norm(r, src + layout.attn_norm, dst + "attn_norm", H, ck));
  ENCORE_RETURN_IF_ERROR(read_linear(r, src + layout.ffn_up, dst + "ffn_up", I, H, ck));
  ENCORE_RETURN_IF_ERROR(read_linear(r, src + layout.ffn_down, dst + "ffn_down", H, I, ck));
  return read_norm(r, src + layout.ffn_norm, dst + "ffn_norm", H, ck);
}

// ---- ModernBERT (modeling_modernbert.py) ------------------------------------------------------
// Its optional biases are written as zeros when the config turns them off (the module then has
// no bias, and adding zero computes the same); a checkpoint holding one anyway is refused by
// the unused-tensor check, as any tensor encore would not compute.

Status read_optional_bias(Reader& r, const std::string& src, const std::string& dst, int64_t n, bool present,
                          bool absolute, FloatCheckpoint* ck) {
  if (present) {
    ENCORE_ASSIGN_OR_RETURN(ck->tensors[dst], r.read(src, {n}, absolute));
  } else {
    ck->tensors[dst] = FloatTensor{{n}, std::vector<float>(static_cast<size_t>(n), 0.0f)};
  }
  return Status::Ok();
}

// nn.Linear(in, out, bias=has_bias) -> dst.weight / dst.bias.
Status read_modern_linear(Reader& r, const std::string& src, const std::string& dst, int64_t out, int64_t in,
                          bool has_bias, FloatCheckpoint* ck, bool absolute = false) {
  ENCORE_ASSIGN_OR_RETURN(ck->tensors[dst + ".weight"], r.read(src + ".weight", {out, in}, absolute));
  return read_optional_bias(r, src + ".bias", dst + ".bias", out, has_bias, absolute, ck);
}

// nn.LayerNorm(H, bias=norm_bias) -> dst.gamma / dst.beta.
Status read_modern_norm(Reader& r, const std::string& src, const std::string& dst, int64_t h, bool has_bias,
                        FloatCheckpoint* ck, bool absolute = false) {
  ENCORE_ASSIGN_OR_RETURN(ck->tensors[dst + ".gamma"], r.read(src + ".weight", {h}, absolute));
  return read_optional_bias(r, src + ".bias", dst + ".beta", h, has_bias, absolute, ck);
}

// tok_embeddings + norm (no positions), every layer (attn_norm from layer 1 on, Wqkv, Wo,
// mlp_norm, Wi [2I, H] = the GeGLU's input rows then its gate rows, Wo), final_norm.
Status read_modernbert_encoder(const io::HfModelConfig& hf, Reader& r, FloatCheckpoint* ck) {
  const EncoderConfig& c = ck->config;
  const auto& b = hf.modernbert;
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  ENCORE_ASSIGN_OR_RETURN(ck->tensors["embeddings.word"], r.read("embeddings.tok_embeddings.weight", {c.vocab_size, H}));
  ENCORE_RETURN_IF_ERROR(read_modern_norm(r, "embeddings.norm", "embeddings.norm", H, b.norm, ck));
  for (int l = 0; l < c.layer_count; ++l) {
    const std::string src = cat("layers.", l, "."), dst = cat("layer.", l, ".");
    if (l > 0) ENCORE_RETURN_IF_ERROR(read_modern_norm(r, src + "attn_norm", dst + "attn_norm", H, b.norm, ck));
    ENCORE_RETURN_IF_ERROR(read_modern_linear(r, src + "attn.Wqkv", dst + "qkv", 3 * H, H, b.attention, ck));
    ENCORE_RETURN_IF_ERROR(read_modern_linear(r, src + "attn.Wo", dst + "attn_out", H, H, b.attention, ck));
    ENCORE_RETURN_IF_ERROR(read_modern_norm(r, src + "mlp_norm", dst + "ffn_norm", H, b.norm, ck));
    ENCORE_RETURN_IF_ERROR(read_modern_linear(r, src + "mlp.Wi", dst + "ffn_up", 2 * I, H, b.mlp, ck));
    ENCORE_RETURN_IF_ERROR(read_modern_linear(r, src + "mlp.Wo", dst + "ffn_down", H, I, b.mlp, ck));
  }
  return read_modern_norm(r, "final_norm", "final_norm", H, b.norm, ck);
}

// The heads: ModernBertPredictionHead (head.dense with classifier_bias, head.norm) before the
// tied decoder (ForMaskedLM; decoder.bias with decoder_bias), the classifier on the pooled
// row (ForSequenceClassification; nn.Linear's default bias) or on every token
// (ForTokenClassification).
Status read_modernbert_head(const io::HfModelConfig& hf, Reader& r, FloatCheckpoint* ck) {
  EncoderConfig& c = ck->config;
  const auto& b = hf.modernbert;
  const int64_t H = c.hidden_size;
  ENCORE_ASSIGN_OR_RETURN(Head head, head_of(hf));
  if (head == Head::kUnnamed) {
    if (r.has("head.dense.weight", true) || r.has("classifier.weight", true)) {
      return unsupported("config.json has no 'architectures', so the head holding head.dense.weight is unknown; name "
                         "it, e.g. [\"ModernBertForSequenceClassification\"]");
    }
    head = Head::kBase;
  }
  if (head == Head::kBase) {
    c.labels.clear();
    return Status::Ok();
  }
  if (head == Head::kQuestionAnswering) {
    return unsupported("config.json: architectures 'ModernBertForQuestionAnswering' is not supported (encore converts "
                       "ModernBertModel, ModernBertForMaskedLM, ModernBertForSequenceClassification, "
                       "ModernBertForTokenClassification)");
  }
  const std::string name = hf.architectures[0];
  if (!r.has("head.dense.weight", true)) {
    return invalid_model(cat("config.json names ", name, " but model.safetensors has no head.dense.weight"));
  }
  ENCORE_RETURN_IF_ERROR(read_modern_linear(r, "head.dense", "head.dense", H, H, b.classifier, ck, true));
  ENCORE_RETURN_IF_ERROR(read_modern_norm(r, "head.norm", "head.norm", H, b.norm, ck, true));
  if (head == Head::kMaskedLm) {
    c.labels.clear();
    c.head = HeadKind::kMaskedLm;
    if (r.has("decoder.weight", true)) {
      ENCORE_ASSIGN_OR_RETURN(FloatTensor d, r.read("decoder.weight", {c.vocab_size, H}, true));
      if (d.values != ck->tensors.at("embeddings.word").values) {
        return unsupported("model.safetensors: decoder.weight differs from the word embeddings (an untied decoder), "
                           "which encore does not run");
      }
    }
    return read_optional_bias(r, "decoder.bias", "mlm.decoder.bias", c.vocab_size, b.decoder, true, ck);
  }
  if (!r.has("classifier.weight", true)) {
    return invalid_model(cat("config.json names ", name, " but model.safetensors has no classifier.weight"));
  }
  const io::SafetensorsEntry* e = r.entry("classifier.weight");
  if (e->shape.size() != 2 || e->shape[0] < 1 || e->shape[1] != H) {
    return invalid_model(cat("model.safetensors: classifier.weight has shape ", shape_str(e->shape),
                             ", expected [labels, ", H, "]"));
  }
  const int64_t L = e->shape[0];
  if (c.labels.empty()) {
    for (int64_t i = 0; i < L; ++i) c.labels.push_back("LABEL_" + std::to_string(i));
    ck->warnings.push_back(cat("config.json has no id2label: labels named LABEL_0..LABEL_", L - 1));
  } else if (static_cast<int64_t>(c.labels.size()) != L) {
    return invalid_model(cat("classifier.weight has ", L, " rows but config.json names ", c.labels.size(), " labels"));
  }
  if (head == Head::kTokenClassification) {
    c.head = HeadKind::kTokenClassification;
    return read_modern_linear(r, "classifier", "token_head", L, H, true, ck, true);
  }
  ENCORE_RETURN_IF_ERROR(set_problem_type(hf, &c));
  return read_modern_linear(r, "classifier", "classifier", L, H, true, ck, true);
}

Result<FloatCheckpoint> read_checkpoint(const std::string& dir, const io::HfModelConfig& hf,
                                        const SentenceModules* modules) {
  struct stat st {};
  FloatCheckpoint ck;
  ck.config = hf.encoder;
  // model.safetensors, or the shards model.safetensors.index.json names.
  const bool single = ::stat((dir + "/model.safetensors").c_str(), &st) == 0;
  if (!single && ::stat((dir + "/model.safetensors.index.json").c_str(), &st) != 0 &&
      ::stat((dir + "/pytorch_model.bin").c_str(), &st) == 0) {
    return not_found(cat(dir, "/model.safetensors: not found (only pytorch_model.bin is present: save the model "
                         "with safe_serialization=True)"));
  }
  ENCORE_ASSIGN_OR_RETURN(io::SafetensorsCheckpoint file, io::SafetensorsCheckpoint::open(dir));
  ck.source_bytes = file.bytes();
  ck.source_shards = file.shards();

  const Layout& layout = layout_of(hf.encoder.family);
  std::string prefix;
  for (const auto& e : file.entries()) {
    if (e.name.rfind(layout.prefix, 0) == 0) {
      prefix = layout.prefix;
      break;
    }
  }
  std::set<std::string> dtypes;
  for (const auto& e : file.entries()) dtypes.insert(e.dtype);
  for (const auto& d : dtypes) ck.source_dtype += (ck.source_dtype.empty() ? "" : "+") + d;

  const EncoderConfig& c = ck.config;
  Reader r(file, prefix);
  const bool modern = c.family == Family::kModernBert;
  if (modern) {
    ENCORE_RETURN_IF_ERROR(read_modernbert_encoder(hf, r, &ck));
  } else {
    ENCORE_RETURN_IF_ERROR(read_embeddings(r, &ck));
    for (int l = 0; l < ck.config.layer_count; ++l) ENCORE_RETURN_IF_ERROR(read_layer(r, layout, l, &ck));
  }
  const std::string extra_layer = cat(prefix, layout.layers, ck.config.layer_count, ".");
  for (const auto& e : file.entries()) {
    if (e.name.rfind(extra_layer, 0) == 0) {
      return invalid_model(cat("model.safetensors has tensor '", e.name, "' but config.json says ",
                               layout.layer_count_key, " = ", ck.config.layer_count));
    }
  }

  ENCORE_RETURN_IF_ERROR(modern ? read_modernbert_head(hf, r, &ck) : read_head(hf, file, r, &ck));
  for (const auto& e : file.entries()) {
    if (r.used().count(e.name)) continue;
    // Inside the encoder, an unread tensor would be a part encore does not compute.
    const bool buffer = ends_with(e.name, "position_ids") || ends_with(e.name, "token_type_ids");
    for (const char* part : {layout.embeddings, layout.layers, modern ? "final_norm" : layout.layers}) {
      if (!buffer && e.name.rfind(prefix + part, 0) == 0) {
        return unsupported(cat("model.safetensors: tensor '", e.name, "' is part of the ", family_name(ck.config.family),
                               " encoder, but not of the computation encore runs"));
      }
    }
    ck.skipped.push_back(e.name);
  }

  // The tokenizer: tokenizer.json, else the legacy files (tokenizer_files.h), else vocab.txt.
  ENCORE_ASSIGN_OR_RETURN(TokenizerFiles files, read_tokenizer_files(dir));
  for (auto& w : files.warnings) ck.warnings.push_back(std::move(w));
  ck.tokenizer.model_max_length = files.model_max_length;
  ck.tokenizer.do_lower_case = hf.do_lower_case;
  ck.tokenizer.strip_accents_set = hf.strip_accents_set;
  ck.tokenizer.strip_accents = hf.strip_accents;
  const std::string vocab_path = dir + "/vocab.txt";
  if (!files.json.empty()) {
    ck.tokenizer.json = std::move(files.json);
    ck.tokenizer.source = files.source;
    ENCORE_RETURN_IF_ERROR(check_tokenizer_ids(ck.tokenizer.json, c.vocab_size));
  } else if (::stat(vocab_path.c_str(), &st) == 0) {
    ENCORE_ASSIGN_OR_RETURN(ck.tokenizer.vocab, io::read_vocab(vocab_path));
    const size_t n = ck.tokenizer.vocab.size();
    if (n > static_cast<size_t>(c.vocab_size)) {
      return invalid_model(cat(vocab_path, ": ", n, " tokens but config.json vocab_size is ", c.vocab_size));
    }
    if (n < static_cast<size_t>(c.vocab_size)) {
      ck.warnings.push_back(cat("vocab.txt has ", n, " tokens for vocab_size ", c.vocab_size,
                                ": the remaining ids get empty tokens"));
      ck.tokenizer.vocab.resize(static_cast<size_t>(c.vocab_size));
    }
  } else {
    ck.warnings.push_back("no tokenizer (tokenizer.json, vocab.json + merges.txt, a SentencePiece model or vocab.txt): "
                          "the model will accept token ids only, not text");
  }
  if (modules) ENCORE_RETURN_IF_ERROR(read_sentence_modules(*modules, &ck));
  return ck;
}

}  // namespace

Result<FloatCheckpoint> read_hf_checkpoint(const std::string& dir, bool base_only) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return io_error(cat(dir, ": not a directory (expected a Hugging Face model directory)"));
  }
  // A sentence-transformers directory: the encoder is its Transformer module's Hugging Face
  // model, which sentence-transformers loads with AutoModel (the base model, whatever
  // architectures says); the modules after it are read once the encoder's width is known.
  const bool sentence = is_sentence_transformers_dir(dir);
  SentenceModules modules;
  if (sentence) {
    ENCORE_ASSIGN_OR_RETURN(modules, read_modules_json(dir));
  }
  const std::string hf_dir = sentence ? modules.transformer_dir : dir;
  ENCORE_ASSIGN_OR_RETURN(io::HfModelConfig hf, io::read_hf_config(hf_dir));
  if (sentence || base_only) hf.architectures = {hf.class_prefix + "Model"};
  return read_checkpoint(hf_dir, hf, sentence ? &modules : nullptr);
}

}  // namespace encore::convert
