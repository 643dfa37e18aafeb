#include "common/model_text.h"

#include "core/str.h"
#include "encore/text_tokenizer.h"

namespace encore::tools {

Status encode_text(const Model& model, const std::string& text, std::vector<int32_t>* ids,
                   std::vector<std::string>* tokens) {
  ENCORE_ASSIGN_OR_RETURN(auto tokenizer, TextTokenizer::for_model(model));
  TextEncodeOptions options;
  options.max_length = static_cast<size_t>(model.config().max_sequence_length());
  if (model.tokenizer().model_max_length > 0 &&
      static_cast<uint64_t>(model.tokenizer().model_max_length) < options.max_length) {
    options.max_length = static_cast<size_t>(model.tokenizer().model_max_length);
  }
  options.want_tokens = true;
  ENCORE_ASSIGN_OR_RETURN(TextEncoding e, tokenizer->encode(text, options));
  *ids = std::move(e.ids);
  *tokens = std::move(e.tokens);
  return Status::Ok();
}

std::vector<std::string> token_strings(const Model& model, const std::vector<int32_t>& ids) {
  std::unique_ptr<TextTokenizer> tokenizer;
  if (!model.tokenizer().empty()) {
    auto t = TextTokenizer::for_model(model);
    if (t.ok()) tokenizer = std::move(t).value();
  }
  std::vector<std::string> out;
  for (int32_t id : ids) {
    std::string s = tokenizer ? tokenizer->id_to_token(id) : std::string();
    out.push_back(s.empty() ? cat("#", id) : std::move(s));
  }
  return out;
}

}  // namespace encore::tools
