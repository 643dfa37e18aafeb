// Text-mode post-processing of the per-token heads: pure functions from logits (and the
// tokenizer's character offsets) to what Hugging Face's pipelines return. No model, no
// tokenizer, no allocation beyond the results: the caller tokenizes, runs the session and passes
// each sequence's rows here.
//
//   group_entities_simple  TokenClassificationPipeline, aggregation_strategy="simple"
//   select_answers         QuestionAnsweringPipeline's span selection over one or more windows
//   fill_mask_top_k        FillMaskPipeline's top-k at one mask position
//
// Each follows transformers/pipelines/<task>.py (cited per function); tests/text/heads_text_test.cc
// checks them on hand-computed cases.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace encore::text {

// A token's characters in the text: [start, end), in bytes of the UTF-8 text the offsets index.
struct CharSpan {
  int64_t start = 0, end = 0;
};

// One entity group of aggregation_strategy="simple".
struct TokenEntity {
  std::string label;  // entity_group: the label after its first '-' ("B-PER" -> "PER"), else the label
  float score = 0;    // mean over the group's tokens of each token's top softmax probability
  int64_t start = 0, end = 0;            // characters: the first token's start, the last token's end
  int64_t first_token = 0, last_token = 0;  // token indices of the group (special tokens are never in one)
  std::string word;                     // text[start, end) (the pipeline decodes the group's tokens
                                        // instead: the same text but for normalization, e.g. lowercase)
};

// logits [tokens, labels.size()] row-major; offsets and special (1 = special token, skipped as the
// pipeline's special_tokens_mask) per token. Tokens are labelled with their argmax (score: its
// softmax probability); consecutive entities join a group while the tag (label without its B- /
// I- prefix) stays the same and the new one is not a B- (group_entities / get_tag); groups whose
// label is in ignore_labels (the pipeline's default: "O") are dropped.
std::vector<TokenEntity> group_entities_simple(const float* logits, int64_t tokens,
                                               const std::vector<std::string>& labels, const CharSpan* offsets,
                                               const uint8_t* special, std::string_view text,
                                               const std::vector<std::string>& ignore_labels = {"O"});

// One window of a question-answering input: the model's start / end logits per token, which
// tokens may be in an answer (1: a context token that is not padding — the pipeline's
// (1 - p_mask) & attention_mask; mark [CLS] 1 too, as the pipeline sets p_mask[cls] = 0: it takes
// part in the softmax and gives the null score, but is never an answer), their character offsets
// into the context and, for align_to_words, each token's word index (-1: none).
struct QaWindow {
  const float* start_logits = nullptr;
  const float* end_logits = nullptr;
  int64_t tokens = 0;
  const uint8_t* context = nullptr;
  const CharSpan* offsets = nullptr;
  const int32_t* word_ids = nullptr;  // null: answers span token offsets exactly
};

struct QaAnswer {
  float score = 0;            // p_start(s) x p_end(e) in its window
  int64_t start = 0, end = 0;  // characters of the context; 0, 0 for the impossible answer
  int64_t window = -1, start_token = -1, end_token = -1;  // -1 for the impossible answer
  std::string answer;         // context[start, end)
};

// select_starts_ends + decode_spans per window (question_answering.py): logits outside the
// context set to -10000, softmax over the window's tokens, the first token's probabilities
// zeroed (after min_null_score = min over windows of p_start(0) x p_end(0)), the top_k spans by
// p_start x p_end with start <= end < start + max_answer_len, kept only if both ends are context
// tokens. Answers of all windows sorted by score (ties in window order), the top top_k kept;
// handle_impossible_answer adds {min_null_score, 0, 0, ""} before that.
std::vector<QaAnswer> select_answers(const std::vector<QaWindow>& windows, std::string_view context, int top_k = 1,
                                     int max_answer_len = 15, bool handle_impossible_answer = false);

struct FillMaskCandidate {
  int32_t token_id = 0;
  float score = 0;  // softmax probability over the vocabulary
};

// The top_k tokens of one mask position's logits [vocab] by softmax probability
// (fill_mask.py: logits.softmax(dim=-1), probs.topk(top_k)); ties go to the lower id.
std::vector<FillMaskCandidate> fill_mask_top_k(const float* logits, int64_t vocab, int top_k = 5);

}  // namespace encore::text
