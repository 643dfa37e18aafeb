// The tokenizer pipeline of Hugging Face `tokenizers`, built from a tokenizer.json text.
//
// A TextTokenizer runs, for each input sequence, the stages `tokenizers` defines, with the
// semantics of its Rust implementation (the reference; where its JavaScript port differs, the
// Rust crate wins, see tests/tokenizer/README.md):
//   1. added tokens: the file's "added_tokens" are found in the raw text (leftmost-longest;
//      lstrip / rstrip / single_word honoured), "normalized": false ones before normalization,
//      "normalized": true ones in each normalized piece; matched pieces skip stages 2-4;
//   2. normalizer: BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip,
//      Replace, Prepend, Precompiled (SentencePiece's charsmap), Sequence;
//   3. pre-tokenizer: BertPreTokenizer, ByteLevel, Metaspace, Whitespace, WhitespaceSplit,
//      Punctuation, Digits, Split, Sequence;
//   4. model: WordPiece, BPE, Unigram;
//   5. truncation (longest_first / only_first / only_second), then the post-processor:
//      BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel, Sequence.
// Any other component type, or a setting encore does not implement (BPE dropout, stride,
// left truncation of pairs, ...), makes create() fail with one line naming it, e.g.
//   tokenizer.json: pre_tokenizer type "UnicodeScripts" is not supported
// The "decoder" field is not used (encoding only) and is not checked.
//
// Offsets are byte offsets into the UTF-8 text passed to encode() (for a pair, into each
// segment's own text), [begin, end), as the Rust crate reports them for Rust strings; Python's
// `tokenizers` reports character offsets instead. Special tokens added by the post-processor
// have (0, 0).
//
// Thread-safety: a TextTokenizer is immutable after create(); encode() may be called from
// any number of threads at once. Text must be valid UTF-8 (kInvalidArgument otherwise).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"

namespace encore {

class Model;
struct TokenizerInfo;

enum class TruncationStrategy { kLongestFirst, kOnlyFirst, kOnlySecond };

struct TextEncodeOptions {
  // Add the post-processor's special tokens ([CLS] ... [SEP], <s> ... </s>).
  bool add_special_tokens = true;
  // 0: the truncation stored in tokenizer.json (none when it is null); otherwise the total
  // length including special tokens, with `strategy`.
  size_t max_length = 0;
  TruncationStrategy strategy = TruncationStrategy::kLongestFirst;
  // Treat special added tokens ("[SEP]", "<mask>") inside the text as plain text
  // (`encode_special_tokens` in `tokenizers`); non-special added tokens still match.
  bool special_tokens_as_text = false;
  // Fill TextEncoding::tokens (costs one string per token).
  bool want_tokens = false;
};

struct TokenOffset {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool operator==(const TokenOffset& o) const { return begin == o.begin && end == o.end; }
};

struct TextEncoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  std::vector<TokenOffset> offsets;  // byte offsets into the segment's text (see above)
  std::vector<uint8_t> special_tokens_mask;  // 1 for tokens the post-processor added
  std::vector<uint8_t> sequence_ids;         // 0 / 1 for the segment a token came from; 255 for added
  std::vector<std::string> tokens;           // only with want_tokens
  bool truncated = false;
  // Per token: its word, the pre-tokenizer's split it came from, counted within its segment
  // (tokens of one word share it; `tokenizers`' word_ids); -1 for tokens the post-processor added.
  std::vector<int32_t> word_ids;
};

// Padding settings stored in tokenizer.json ("padding"), for the caller's batcher: encode()
// never pads.
struct TextPadding {
  bool present = false;
  int32_t pad_id = 0;
  int32_t pad_type_id = 0;
  std::string pad_token;
  size_t pad_to_multiple_of = 0;
};

class TextTokenizer {
 public:
  // Parses and validates `json` (the whole tokenizer.json text). Never throws; hostile input
  // gives a one-line kInvalidModel or kUnsupported Status.
  static Result<std::unique_ptr<TextTokenizer>> create(std::string_view json);
  // The tokenizer stored in `model`: its tokenizer.json, or for a model converted from a
  // WordPiece vocab.txt, the pipeline Hugging Face's fast BERT tokenizer runs for those files.
  // kInvalidModel for a model without a tokenizer, or one whose ids exceed the embeddings.
  static Result<std::unique_ptr<TextTokenizer>> for_model(const Model& model);
  // BERT's WordPiece from a vocab.txt and BertTokenizer's settings: the pipeline of
  // bert_tokenizer_json(info), built directly (no JSON document).
  static Result<std::unique_ptr<TextTokenizer>> from_wordpiece(const TokenizerInfo& info);
  ~TextTokenizer();
  TextTokenizer(const TextTokenizer&) = delete;
  TextTokenizer& operator=(const TextTokenizer&) = delete;

  Result<TextEncoding> encode(std::string_view text, const TextEncodeOptions& options = {}) const;
  Result<TextEncoding> encode_pair(std::string_view a, std::string_view b,
                                   const TextEncodeOptions& options = {}) const;

  // Vocabulary of the model plus added tokens.
  int32_t token_to_id(std::string_view token) const;  // -1 when absent
  std::string id_to_token(int32_t id) const;          // "" when absent
  size_t vocab_size() const;                          // largest id + 1
  // Special tokens the post-processor adds for one sequence / a pair.
  size_t num_special_tokens(bool pair) const;
  const TextPadding& padding() const;

 private:
  struct Impl;
  explicit TextTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The tokenizer.json text Hugging Face's BertConverter makes of a WordPiece vocabulary and
// BertTokenizer's settings (what for_model runs for a vocab.txt model).
Result<std::string> bert_tokenizer_json(const TokenizerInfo& info);

}  // namespace encore
