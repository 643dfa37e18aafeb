// Text through a loaded model's own tokenizer, for the tools that show tokens next to results
// (encore-run --attention-maps, encore-inspect attention, encore-analyze).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "encore/model.h"
#include "encore/status.h"

namespace encore::tools {

// `text` as the model's tokenizer encodes it ([CLS] text [SEP], truncated to the model's
// positions): ids and token strings. kInvalidArgument when the model has no vocabulary.
Status encode_text(const Model& model, const std::string& text, std::vector<int32_t>* ids,
                   std::vector<std::string>* tokens);

// Token strings of `ids` from the model's vocabulary ("#id" for an id it has no string for).
std::vector<std::string> token_strings(const Model& model, const std::vector<int32_t>& ids);

}  // namespace encore::tools
