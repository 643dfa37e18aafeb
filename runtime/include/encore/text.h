// Text in, answers out: the model's own tokenizer in front of a session.
//
//   auto model = encore::Model::load("model.encore");
//   auto text = encore::TextEncoder::create(*model);
//   auto answers = (*text)->classify({"Schmetterling", "butterfly"});
//
// A batch of texts (or text pairs) goes through the model's own tokenizer (TextTokenizer::
// for_model: its tokenizer.json, or WordPiece from vocab.txt) with its special tokens
// ([CLS] a [SEP] b [SEP], <s> a </s></s> b </s>, ...), truncated to the model's maximum length
// (longest first for pairs), padded to its longest member under an attention mask, and run in
// one call; padding does not change any text's result.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "encore/model.h"
#include "encore/session.h"
#include "encore/status.h"
#include "encore/text_tokenizer.h"

namespace encore {

// kModel: the model's own sentence embedding (a sentence-transformers model's pooling, Dense and
// Normalize modules, Outputs::sentence_embedding); an error for a model without them.
enum class Pooling { kCls, kMean, kModel };

struct TextClassification {
  int32_t label_index = 0;
  std::string label;
  // In the model's label order: the softmax of the logits (ProblemType::kSingleLabel), a sigmoid
  // per label (kMultiLabel), or the logits themselves (kRegression, a one-score head), as Hugging
  // Face's text-classification pipeline applies softmax / sigmoid / none.
  std::vector<float> probabilities;
  std::vector<float> logits;  // the raw logits, in the model's label order
  ProblemType problem_type = ProblemType::kSingleLabel;
  std::vector<int32_t> ids;          // token ids, with the special tokens
  std::vector<std::string> tokens;   // as tokenized, with the special tokens
  std::vector<TokenOffset> offsets;  // per token: byte span in its text (special tokens: 0, 0)
  std::vector<uint8_t> sequence_ids; // per token: 0 first text, 1 second of a pair, 255 special
  bool truncated = false;
};

struct TextEmbedding {
  std::vector<float> values;  // [hidden]
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<TokenOffset> offsets;
  std::vector<uint8_t> sequence_ids;
  bool truncated = false;
};

struct TextOptions {
  // Tokens per text, special tokens included; 0 = the model's limit (its positions, and
  // tokenizer_config.json's model_max_length when smaller).
  size_t max_length = 0;
  TruncationStrategy truncation = TruncationStrategy::kLongestFirst;
  // Special tokens written inside a text ("[SEP]", "<mask>") are plain text instead of those
  // tokens (Hugging Face recognises them by default, and so does encore).
  bool special_tokens_as_text = false;
};

// Token classification (HeadKind::kTokenClassification): one entity group of Hugging Face's
// TokenClassificationPipeline with aggregation_strategy="simple" (tokens labelled with their
// argmax, consecutive tokens of one tag grouped unless a B- starts a new one, "O" dropped).
struct TextEntity {
  std::string label;  // entity_group: the label without its B- / I- prefix ("PER")
  float score = 0;    // mean over its tokens of each token's top softmax probability
  // Its span, [start, end): in bytes of the UTF-8 text, and the same span in code points
  // (the pipeline's start / end, which index a Python str).
  size_t start = 0, end = 0;
  size_t char_start = 0, char_end = 0;
  std::string word;  // text[start, end) (the pipeline decodes the tokens instead: e.g. lowercased)
};

struct TokenClassificationResult {
  std::vector<TextEntity> entities;
  std::vector<std::string> token_labels;  // per token: its argmax label ("" for special tokens)
  std::vector<float> token_scores;        // per token: that label's softmax probability (0 for special)
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<TokenOffset> offsets;
  std::vector<uint8_t> sequence_ids;
  bool truncated = false;
};

// Extractive question answering (HeadKind::kQuestionAnswering), as Hugging Face's
// QuestionAnsweringPipeline.
struct AnswerOptions {
  int top_k = 1;
  int max_answer_len = 15;  // tokens
  // Tokens per window, special tokens included; 0: min(the model's limit, 384).
  size_t max_seq_len = 0;
  // Context tokens a window shares with the one before; -1: min(max_seq_len / 2, 128).
  int64_t doc_stride = -1;
  // Also offer the empty answer, scored by the smallest p_start([CLS]) x p_end([CLS]) over the windows.
  bool handle_impossible_answer = false;
  // A span covers the whole words of its first and last token (the tokenizer's words: the
  // pre-tokenizer's splits, within the window), as the pipeline's default; false: exactly its
  // tokens' offsets.
  bool align_to_words = true;
};

struct TextAnswer {
  std::string answer;  // context[start, end)
  float score = 0;     // p_start x p_end within its window
  // In the context: bytes, and code points (the pipeline's start / end). 0, 0 for the empty answer.
  size_t start = 0, end = 0;
  size_t char_start = 0, char_end = 0;
  int64_t window = -1;  // the window it came from; -1 for the empty answer
};

struct QuestionAnswers {
  std::vector<TextAnswer> answers;  // best first, at most top_k
  int64_t windows = 0;              // how many windows the context was split into
};

// Fill-mask (HeadKind::kMaskedLm): the top-k tokens at each mask token.
struct MaskPrediction {
  int32_t token_id = 0;
  std::string token;     // the vocabulary's string
  float score = 0;       // softmax probability over the vocabulary
  // The text with this mask replaced by the token (WordPiece "##" dropped, a ByteLevel "Ġ" or
  // SentencePiece "▁" read as a space; other masks stay). Not the tokenizer's decode.
  std::string sequence;
};

struct MaskPredictions {
  int64_t position = 0;  // the mask's token index
  std::vector<MaskPrediction> predictions;  // best first
};

struct FillMaskResult {
  std::vector<MaskPredictions> masks;  // in text order
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<TokenOffset> offsets;
  std::vector<uint8_t> sequence_ids;
  bool truncated = false;
};

class TextEncoder {
 public:
  // Needs a model with a tokenizer (encore-convert stores the model directory's tokenizer).
  static Result<std::unique_ptr<TextEncoder>> create(std::shared_ptr<const Model> model,
                                                     const SessionOptions& options = {},
                                                     const TextOptions& text_options = {});
  ~TextEncoder();
  TextEncoder(const TextEncoder&) = delete;
  TextEncoder& operator=(const TextEncoder&) = delete;

  // Needs a classifier head. With `pairs` (as many as texts), each text is classified with its
  // second text (cross-encoders, NLI).
  Result<std::vector<TextClassification>> classify(const std::vector<std::string>& texts);
  Result<std::vector<TextClassification>> classify(const std::vector<std::string>& texts,
                                                   const std::vector<std::string>& pairs);
  // kCls: the final hidden state of [CLS]; kMean: the mean over the text's tokens (with
  // [CLS] and [SEP], as sentence-transformers' mean pooling); kModel: the model's
  // sentence-transformers embedding, each text stripped of surrounding whitespace first (as
  // sentence-transformers' Transformer.tokenize does; a prompt is part of the text: prepend
  // it). normalize: unit L2 length.
  Result<std::vector<TextEmbedding>> embed(const std::vector<std::string>& texts, Pooling pooling, bool normalize);

  // The per-token heads' text mode; each fails with kInvalidArgument on a model without that head.
  //
  // Token classification: the entities of each text (a text longer than the model's limit is
  // truncated, as classify does).
  Result<std::vector<TokenClassificationResult>> classify_tokens(const std::vector<std::string>& texts);
  // Question answering. The pair (question, context) is tokenized whole; when it does not fit
  // max_seq_len, the context is split into overlapping windows as the fast tokenizer's
  // truncation="only_second" with stride and overflowing tokens does, each window run as
  // [CLS] question [SEP] piece [SEP] (the tokenizer's own template), and the best spans of all
  // windows kept. Errors: a question that leaves no room for context, doc_stride not below the
  // context tokens per window.
  Result<QuestionAnswers> answer(const std::string& question, const std::string& context,
                                 const AnswerOptions& options = {});
  // Fill-mask: for each mask token ([MASK] or <mask>) of each text, the top_k tokens. A text
  // without one is kInvalidArgument.
  Result<std::vector<FillMaskResult>> fill_mask(const std::vector<std::string>& texts, int top_k = 5);

  const TextTokenizer& tokenizer() const;
  const Model& model() const;
  // The session the texts run on: its profile() (with SessionOptions::profile) and
  // activation_bytes() describe the last call.
  const Session& session() const;

 private:
  struct Impl;
  explicit TextEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore
