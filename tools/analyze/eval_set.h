// A labelled evaluation set for a classifier model, and how it is read.
//
// Two forms (documented in tools/analyze/README.md):
//  - TSV: one "text<TAB>label" per line, label a name from the model's labels (id2label); texts
//    are tokenized with the model's own tokenizer ([CLS] text [SEP], truncated to the model's
//    maximum length). Empty lines are skipped; a trailing \r is dropped.
//  - .npy: token ids int32/int64 [N, S] with labels int32/int64 [N] in [0, labels) from a second
//    file; an optional attention mask [N, S] (0/1). Without one, tokens equal to the model's
//    pad_token_id are padding (as in tools/train/langid/test_ids.npy).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "encore/model.h"
#include "encore/status.h"

namespace encore::analyze {

struct EvalSource {
  std::string path;         // .tsv or .npy (token ids)
  std::string labels_path;  // .npy labels, required with .npy ids
  std::string mask_path;    // .npy attention mask, optional with .npy ids
};

struct EvalSet {
  int64_t count = 0, seq = 0;      // sequences, padded length
  std::vector<int32_t> ids, mask;  // [count, seq]
  std::vector<int32_t> lengths;    // [count]: real tokens (the mask's last 1, plus one)
  std::vector<int32_t> labels;     // [count], indices into the model's labels
  std::string name;                // for reports: "test.tsv (5400 texts)"
};

// Reads and checks an evaluation set against `model` (labels known, ids in the vocabulary,
// lengths within max positions). Errors name the file and the line or index.
Result<EvalSet> load_eval_set(const EvalSource& source, const Model& model);

// Deterministic halves for tuning and held-out measurement: rows 0, 2, 4, ... and rows
// 1, 3, 5, ... (each keeps the class mix of a set sorted or shuffled by class).
std::pair<EvalSet, EvalSet> split_even_odd(const EvalSet& set);

}  // namespace encore::analyze
