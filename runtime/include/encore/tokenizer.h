// BERT's WordPiece tokenizer, from the vocabulary and settings stored in a model.
//
// Behaviour follows Hugging Face's BERT tokenizers (BertTokenizer; the BertNormalizer,
// BertPreTokenizer and WordPiece of `tokenizers` and its JavaScript port, which the golden
// test compares against). Special-token strings inside the text ("[SEP]") are ordinary text
// here; use encode_pair for two segments.
//   1. clean: drop U+0000, U+FFFD and characters of category C* except \t \n \r; every
//      whitespace character becomes a space;
//   2. put spaces around every CJK ideograph, so each is a word of its own;
//   3. lowercase when do_lower_case (full Unicode mapping, with the final-sigma rule); strip
//      accents (NFD, then drop nonspacing marks) when strip_accents is set, or when it is
//      unset and lowercasing is on;
//   4. split on whitespace, then split off every punctuation character (ASCII symbols and
//      Unicode P*);
//   5. WordPiece: greedy longest match first, continuations prefixed "##"; a word longer than
//      100 characters, or with a part that matches nothing, becomes [UNK].
// Unicode categories and decompositions come from utf8proc. Text must be valid UTF-8.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "encore/model.h"
#include "encore/status.h"

namespace encore {

struct Encoding {
  std::vector<int32_t> ids;             // [CLS] a [SEP] (b [SEP])
  std::vector<int32_t> token_type_ids;  // 0 for [CLS] a [SEP], 1 for b [SEP]
  std::vector<std::string> tokens;      // the vocabulary strings of ids
  bool truncated = false;
};

class Tokenizer {
 public:
  // Needs [CLS], [SEP] and [UNK] in the vocabulary ([PAD] too, for padded batches).
  static Result<std::unique_ptr<Tokenizer>> create(const TokenizerInfo& info);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // WordPiece tokens of `text` without special tokens; appends their strings to `pieces` when
  // given. kInvalidArgument for text that is not valid UTF-8.
  Result<std::vector<int32_t>> tokenize(std::string_view text, std::vector<std::string>* pieces = nullptr) const;

  // [CLS] text [SEP], or [CLS] a [SEP] b [SEP] for a pair, truncated to max_length tokens
  // (longest first for pairs: the longer side loses its last token until the whole fits).
  // max_length must leave room for the special tokens (>= 2, or >= 3 for a pair).
  Result<Encoding> encode(std::string_view text, size_t max_length) const;
  Result<Encoding> encode_pair(std::string_view a, std::string_view b, size_t max_length) const;

  int32_t cls_id() const;
  int32_t sep_id() const;
  int32_t unk_id() const;
  int32_t pad_id() const;  // -1 when the vocabulary has no [PAD]; padding then uses 0

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore
