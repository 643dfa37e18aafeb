#include "common/model_text.h"

#include "core/str.h"
#include "encore/tokenizer.h"

namespace encore::tools {

Status encode_text(const Model& model, const std::string& text, std::vector<int32_t>* ids,
                   std::vector<std::string>* tokens) {
  if (model.tokenizer().vocab.empty()) {
    return invalid_argument("the model has no tokenizer vocabulary, so it cannot read text; give token ids instead");
  }
  ENCORE_ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::create(model.tokenizer()));
  ENCORE_ASSIGN_OR_RETURN(Encoding e, tokenizer->encode(text, static_cast<size_t>(model.config().max_positions)));
  *ids = std::move(e.ids);
  *tokens = std::move(e.tokens);
  return Status::Ok();
}

std::vector<std::string> token_strings(const Model& model, const std::vector<int32_t>& ids) {
  const auto& vocab = model.tokenizer().vocab;
  std::vector<std::string> out;
  for (int32_t id : ids) {
    out.push_back(id >= 0 && static_cast<size_t>(id) < vocab.size() && !vocab[static_cast<size_t>(id)].empty()
                      ? vocab[static_cast<size_t>(id)]
                      : cat("#", id));
  }
  return out;
}

}  // namespace encore::tools
