// The parts of a SentencePiece model file (ModelProto, sentencepiece_model.proto) that turning
// it into a tokenizer.json needs: the pieces with their scores and types, the model type, byte
// fallback and the normalizer's precompiled charsmap.
//
// Read by a small bounds-checked protobuf wire-format reader rather than Debian's
// libsentencepiece-dev: the library brings libprotobuf with it, is absent from the ARM cross
// sysroots and Android builds (/work/shared/notes/arm-cross.md lists what those carry), and would
// make .model conversion an optional feature that silently disappears from some builds. The
// reader is checked against python3-sentencepiece's own output (the goldens of
// tests/tokenizer/tokenizer_files_test.cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"

namespace encore::convert {

struct SpmPiece {
  std::string piece;
  float score = 0.0f;
  int type = 1;  // NORMAL=1 UNKNOWN=2 CONTROL=3 USER_DEFINED=4 UNUSED=5 BYTE=6
};

struct SpmModel {
  std::vector<SpmPiece> pieces;
  int model_type = 1;  // UNIGRAM=1 BPE=2 WORD=3 CHAR=4
  bool byte_fallback = false;
  std::string precompiled_charsmap;
};

// Parses `data` (a .model file's bytes); `name` names the file in errors. Malformed input, fewer
// than four pieces, an empty piece or a non-finite score is a one-line kInvalidModel.
Result<SpmModel> parse_spm(std::string_view data, const std::string& name);

}  // namespace encore::convert
