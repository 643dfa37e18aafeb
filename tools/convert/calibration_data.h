// The inputs int8 calibration runs the f32 model on: token ids with their attention masks (and
// token types for text pairs), from --calib IDS.npy [--calib-mask MASK.npy], from --calib-text
// (one text per line, or a pair separated by a tab, tokenized with the model's own tokenizer),
// or random-token sequences when none is given. Padding (mask 0) is never observed: a session
// packs each run to its real tokens before any step sees them.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "convert/hf_checkpoint.h"
#include "encore/model.h"
#include "encore/session.h"
#include "encore/status.h"

namespace encore::convert {

struct CalibrationSet {
  int64_t n = 0, seq = 0;                 // sequences, padded length
  std::vector<int32_t> ids, mask, types;  // [n, seq] row-major; types empty: all zeros
  std::string summary;                    // "96 texts from calib.txt, up to 30 tokens"

  // Rows [start, start + count) as session inputs (views into this set).
  Inputs rows(int64_t start, int64_t count) const;
  // The real (unmasked) tokens of rows [start, start + count).
  int64_t real_tokens(int64_t start, int64_t count) const;
  // The set with only the rows for which keep(row) holds, in order.
  template <typename F>
  CalibrationSet subset(F keep) const;
};

// --calib IDS.npy (int32/int64 [N, S], each id in [0, vocab)) and, when mask_path is not empty,
// --calib-mask MASK.npy (the same shape, values 0/1, at least one 1 per row). Warns on `err`
// when S is shorter than the model takes.
Result<CalibrationSet> read_calibration_ids(const std::string& ids_path, const std::string& mask_path,
                                            const EncoderConfig& c, std::ostream& err);

// --calib-text FILE: UTF-8, one text per line (a trailing '\r' dropped), or two texts separated by
// one tab (a pair, as the model's tokenizer frames them); blank lines are errors, as is a file
// without any line. Tokenized in batches with the f32 model's own tokenizer, each text truncated
// to the model's limit.
Result<CalibrationSet> read_calibration_text(const std::string& path, const Model& f32_model);

// `count` random-token sequences of `length` tokens framed like real input by the tokenizer's
// special tokens when it has any (fixed seed); warns on `err` that real text would be better.
CalibrationSet synthetic_calibration(const FloatCheckpoint& ck, int64_t count, int64_t length, std::ostream& err);

template <typename F>
CalibrationSet CalibrationSet::subset(F keep) const {
  CalibrationSet s;
  s.seq = seq;
  s.summary = summary;
  for (int64_t r = 0; r < n; ++r) {
    if (!keep(r)) continue;
    const auto from = static_cast<size_t>(r * seq), to = static_cast<size_t>((r + 1) * seq);
    s.ids.insert(s.ids.end(), ids.begin() + from, ids.begin() + to);
    s.mask.insert(s.mask.end(), mask.begin() + from, mask.begin() + to);
    if (!types.empty()) s.types.insert(s.types.end(), types.begin() + from, types.begin() + to);
    ++s.n;
  }
  return s;
}

}  // namespace encore::convert
