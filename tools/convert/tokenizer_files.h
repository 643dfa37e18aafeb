// Finds a Hugging Face model directory's tokenizer and turns it into the tokenizer.json text that
// encore's TextTokenizer (encore/text_tokenizer.h) runs, as transformers' AutoTokenizer (the fast
// tokenizer, its default) would load it.
//
// Sources, first match wins:
//   1. tokenizer.json: taken as is, then changed as the fast tokenizer class named by
//      tokenizer_config.json's "tokenizer_class" (else config.json's model_type, as AutoTokenizer
//      does) changes it at load: BertTokenizerFast / DistilBertTokenizerFast /
//      ElectraTokenizerFast rebuild a BertNormalizer that disagrees with do_lower_case /
//      strip_accents / tokenize_chinese_chars; RobertaTokenizerFast sets add_prefix_space /
//      trim_offsets in the pre-tokenizer and post-processor; XLMRobertaTokenizerFast,
//      CamembertTokenizerFast and PreTrainedTokenizerFast (ModernBERT) change nothing there. Every
//      class then applies tokenizer_config.json's added_tokens_decoder and adds the special tokens
//      it knows (bos / eos / unk / sep / pad / cls / mask, additional_special_tokens) that the file
//      lacks.
//   2. vocab.json + merges.txt: RobertaTokenizer (byte-level BPE), synthesized as transformers'
//      RobertaConverter (convert_slow_tokenizer.py) does.
//   3. sentencepiece.bpe.model / spiece.model: XLMRobertaTokenizer or CamembertTokenizer,
//      synthesized as XLMRobertaConverter / CamembertConverter do (SentencePiece Unigram only).
//   4. vocab.txt alone: json is "" and source "vocab.txt"; the caller keeps its WordPiece path,
//      whose settings (do_lower_case, strip_accents) io::read_hf_config already reads from
//      tokenizer_config.json. This module does not read them a second time for that case.
//   No tokenizer file at all: json "" and source "".
// The result is checked with TextTokenizer::create, so an element encore does not implement is a
// one-line error naming it. A tokenizer class this module does not know how to load (Albert, T5,
// ...), a SentencePiece BPE model or a malformed file is a one-line error naming the file and field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "encore/status.h"

namespace encore::convert {

struct TokenizerFiles {
  // The tokenizer.json text the runtime will run ("" = none found, or only vocab.txt: the caller
  // keeps its WordPiece vocab.txt path). Compact JSON.
  std::string json;
  // Where it came from: "tokenizer.json", "vocab.json + merges.txt", "sentencepiece.bpe.model",
  // "spiece.model", "vocab.txt" or "".
  std::string source;
  // tokenizer_config.json's model_max_length when present and below 1e6 (transformers writes
  // 1e30 for "unset"), else 0.
  int64_t model_max_length = 0;
  std::vector<std::string> warnings;  // one line each
};

Result<TokenizerFiles> read_tokenizer_files(const std::string& dir);

}  // namespace encore::convert
