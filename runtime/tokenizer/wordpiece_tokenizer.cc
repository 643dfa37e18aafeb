// encore::Tokenizer, BERT's WordPiece from a vocabulary and BertTokenizer's settings: a thin
// face over the tokenizer.json pipeline (TextTokenizer::from_wordpiece: the pipeline of
// bert_tokenizer_json), so there is one implementation of every tokenizer stage.
#include <utility>

#include "core/str.h"
#include "encore/text_tokenizer.h"
#include "encore/tokenizer.h"

namespace encore {

struct Tokenizer::Impl {
  std::unique_ptr<TextTokenizer> text;
  int32_t cls = -1, sep = -1, unk = -1, pad = -1;

  Encoding to_encoding(TextEncoding&& e) const {
    Encoding out;
    out.ids = std::move(e.ids);
    out.token_type_ids = std::move(e.type_ids);
    out.tokens = std::move(e.tokens);
    out.truncated = e.truncated;
    return out;
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(const TokenizerInfo& info) {
  auto impl = std::make_unique<Impl>();
  ENCORE_ASSIGN_OR_RETURN(impl->text, TextTokenizer::from_wordpiece(info));
  impl->cls = impl->text->token_to_id("[CLS]");
  impl->sep = impl->text->token_to_id("[SEP]");
  impl->unk = impl->text->token_to_id("[UNK]");
  impl->pad = impl->text->token_to_id("[PAD]");
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

Result<std::vector<int32_t>> Tokenizer::tokenize(std::string_view text, std::vector<std::string>* pieces) const {
  TextEncodeOptions options;
  options.add_special_tokens = false;
  options.want_tokens = pieces != nullptr;
  ENCORE_ASSIGN_OR_RETURN(TextEncoding e, impl_->text->encode(text, options));
  if (pieces) pieces->insert(pieces->end(), std::make_move_iterator(e.tokens.begin()), std::make_move_iterator(e.tokens.end()));
  return std::move(e.ids);
}

Result<Encoding> Tokenizer::encode(std::string_view text, size_t max_length) const {
  if (max_length < 2) return invalid_argument(cat("max_length ", max_length, " leaves no room for [CLS] and [SEP]"));
  TextEncodeOptions options;
  options.max_length = max_length;
  options.want_tokens = true;
  ENCORE_ASSIGN_OR_RETURN(TextEncoding e, impl_->text->encode(text, options));
  return impl_->to_encoding(std::move(e));
}

Result<Encoding> Tokenizer::encode_pair(std::string_view first, std::string_view second, size_t max_length) const {
  if (max_length < 3) return invalid_argument(cat("max_length ", max_length, " leaves no room for [CLS] and two [SEP]"));
  TextEncodeOptions options;
  options.max_length = max_length;
  options.want_tokens = true;
  ENCORE_ASSIGN_OR_RETURN(TextEncoding e, impl_->text->encode_pair(first, second, options));
  return impl_->to_encoding(std::move(e));
}

int32_t Tokenizer::cls_id() const { return impl_->cls; }
int32_t Tokenizer::sep_id() const { return impl_->sep; }
int32_t Tokenizer::unk_id() const { return impl_->unk; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }
const TextTokenizer& Tokenizer::pipeline() const { return *impl_->text; }

}  // namespace encore
