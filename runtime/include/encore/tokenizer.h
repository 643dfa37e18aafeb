// BERT's WordPiece tokenizer, from a vocabulary and BertTokenizer's settings (vocab.txt,
// do_lower_case, strip_accents).
//
// It runs the tokenizer.json pipeline (encore/text_tokenizer.h) that Hugging Face's fast BERT
// tokenizer builds from those files (bert_tokenizer_json): BertNormalizer (clean, CJK spacing,
// lowercase, strip accents when set or when lowercasing), BertPreTokenizer, WordPiece (greedy
// longest match, "##" continuations, a word over 100 characters or with an unmatched part is
// [UNK]), [CLS] ... [SEP]. As in Hugging Face, the special tokens ([CLS], [SEP], [PAD],
// [UNK], [MASK]) written inside a text are recognised as those tokens. New code should use
// TextTokenizer (any tokenizer.json; offsets; options); this class stays for WordPiece users.
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

class TextTokenizer;

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
  // The pipeline it runs.
  const TextTokenizer& pipeline() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore
