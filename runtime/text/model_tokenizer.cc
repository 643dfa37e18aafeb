// The tokenizer a model carries, as a TextTokenizer: its tokenizer.json (format version 6), or
// for a model converted from a WordPiece vocab.txt, the tokenizer.json that Hugging Face's
// BertConverter (transformers/convert_slow_tokenizer.py) makes of BertTokenizer's files, which
// is what AutoTokenizer runs for such a directory:
//   normalizer      BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase)
//   pre_tokenizer   BertPreTokenizer
//   model           WordPiece(vocab, unk "[UNK]", prefix "##", max_input_chars_per_word 100)
//   post_processor  TemplateProcessing "[CLS]:0 $A:0 [SEP]:0" / "... $B:1 [SEP]:1"
//   added tokens    BertTokenizer's special tokens, special and not normalized, so "[SEP]"
//                   written in a text is that token (tokenization_utils_base: special tokens
//                   given as strings become AddedToken(normalized=False, special=True)).
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "core/str.h"
#include "encore/model.h"
#include "encore/text_tokenizer.h"

namespace encore {
namespace {

using Json = nlohmann::json;

Json special(const std::string& token, int32_t id) {
  return Json{{"id", id},          {"content", token}, {"single_word", false}, {"lstrip", false},
              {"rstrip", false},   {"normalized", false}, {"special", true}};
}

Json template_piece(const char* kind, const std::string& id, int type_id) {
  return Json{{kind, {{"id", id}, {"type_id", type_id}}}};
}

}  // namespace

Result<std::string> bert_tokenizer_json(const TokenizerInfo& info) {
  if (info.vocab.empty()) return invalid_model("the model has no tokenizer vocabulary");
  // The first occurrence wins for a repeated line, as encore's WordPiece reading always did.
  // Empty strings pad a vocab.txt shorter than vocab_size; they never match and are left out.
  std::unordered_map<std::string_view, int32_t> ids;
  Json vocab = Json::object();
  for (size_t i = 0; i < info.vocab.size(); ++i) {
    const std::string& token = info.vocab[i];
    if (!token.empty() && ids.emplace(token, static_cast<int32_t>(i)).second) vocab[token] = static_cast<int32_t>(i);
  }
  auto id_of = [&](const char* token) {
    auto it = ids.find(token);
    return it == ids.end() ? -1 : it->second;
  };
  for (const char* required : {"[CLS]", "[SEP]", "[UNK]"}) {
    if (id_of(required) < 0) return invalid_model(cat("the tokenizer vocabulary has no ", required, " token"));
  }
  Json added = Json::array();
  for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    if (id_of(token) >= 0) added.push_back(special(token, id_of(token)));
  }
  const bool lower = info.do_lower_case;
  Json strip = info.strip_accents_set ? Json(info.strip_accents) : Json(nullptr);
  Json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = std::move(added);
  j["normalizer"] = {{"type", "BertNormalizer"},
                     {"clean_text", true},
                     {"handle_chinese_chars", true},
                     {"strip_accents", strip},
                     {"lowercase", lower}};
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {template_piece("SpecialToken", "[CLS]", 0), template_piece("Sequence", "A", 0),
                  template_piece("SpecialToken", "[SEP]", 0)}},
      {"pair", {template_piece("SpecialToken", "[CLS]", 0), template_piece("Sequence", "A", 0),
                template_piece("SpecialToken", "[SEP]", 0), template_piece("Sequence", "B", 1),
                template_piece("SpecialToken", "[SEP]", 1)}},
      {"special_tokens",
       {{"[CLS]", {{"id", "[CLS]"}, {"ids", {id_of("[CLS]")}}, {"tokens", {"[CLS]"}}}},
        {"[SEP]", {{"id", "[SEP]"}, {"ids", {id_of("[SEP]")}}, {"tokens", {"[SEP]"}}}}}}};
  j["model"] = {{"type", "WordPiece"},
                {"unk_token", "[UNK]"},
                {"continuing_subword_prefix", "##"},
                {"max_input_chars_per_word", 100},
                {"vocab", std::move(vocab)}};
  return j.dump();
}

Result<std::unique_ptr<TextTokenizer>> TextTokenizer::for_model(const Model& model) {
  const TokenizerInfo& info = model.tokenizer();
  if (info.empty()) {
    return invalid_model("the model has no tokenizer (it was converted without tokenizer files), so it cannot read "
                         "text; give token ids instead");
  }
  std::unique_ptr<TextTokenizer> tokenizer;
  if (!info.json.empty()) {
    ENCORE_ASSIGN_OR_RETURN(tokenizer, create(info.json));
  } else {
    ENCORE_ASSIGN_OR_RETURN(tokenizer, from_wordpiece(info));
  }
  if (tokenizer->vocab_size() > static_cast<size_t>(model.config().vocab_size)) {
    return invalid_model(cat("the tokenizer has ids up to ", tokenizer->vocab_size() - 1, ", the embeddings only ",
                             model.config().vocab_size, " rows"));
  }
  return tokenizer;
}

}  // namespace encore
