// encore-convert's pruning step: decides what to remove, removes it (pruner.h), and reports
// accuracy and size before and after on the tuning and held-out sets.
//
//  - FFN neurons are ranked by importance (pruner.h) from activation statistics on the tuning
//    set's real tokens (the calibration data without --eval); a fixed fraction of each layer
//    goes, or with "auto" chunks of 1/16 of a layer at a time, round-robin over the layers, each
//    kept out only if the tuning accuracy stays within the bound (a layer stops at its first
//    chunk that breaks it).
//  - Heads go from an explicit list, or with "auto" greedily: least important first (the loss
//    increase when masked alone), each kept out only if the tuning accuracy stays within the
//    bound. Heads are searched before FFN chunks, on the model with any fixed FFN fraction
//    already removed; the bound is always against the unpruned model.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "analyze/eval_set.h"
#include "convert/hf_checkpoint.h"
#include "convert/model_writer.h"
#include "encore/model.h"
#include "encore/status.h"

namespace encore::convert {

struct PruneOptions {
  std::string heads;               // "" (keep all), "auto", or "L:H,L:H,..." (heads to remove)
  double max_accuracy_drop = 0.5;  // percentage points on the tuning set, for "auto"
  // A step of an "auto" search counts as within the bound when its drop plus this many
  // standard errors of the paired difference is (analyze::accuracy_drop_bound).
  double margin_sigmas = 2.0;
  double ffn_fraction = 0.0;       // of each layer's FFN neurons to remove, in [0, 1)
  bool ffn_auto = false;           // remove FFN neurons in chunks of 1/16 per layer, within the bound
  // The tuning set; without `heldout` its even rows tune and its odd rows are held out.
  analyze::EvalSource eval;
  analyze::EvalSource heldout;
  int threads = 1;
  int batch_size = 64;

  bool any() const { return !heads.empty() || ffn_fraction > 0.0 || ffn_auto; }
};

// What the pass needs from the conversion: the f32 model and the calibration ids (for FFN
// neuron statistics).
struct PruneInputs {
  const FloatCheckpoint* checkpoint = nullptr;
  std::shared_ptr<const Model> f32_model;
  const std::vector<int32_t>* calibration_ids = nullptr;
  const int32_t* calibration_mask = nullptr;  // [sequences, length], null: no padding
  int64_t calibration_sequences = 0, calibration_length = 0;
};

// Checks the options against the model's config before any work: "auto" searches need an
// evaluation set, a head list must parse and leave every layer a head, fractions in [0, 1).
Status check_prune_options(const PruneOptions& options, const EncoderConfig& config);

// Returns the pruned contents (or `unpruned` itself when nothing is to be pruned and only
// accuracy is to be reported). Writes the report to `out`, search progress to `err`.
Result<ModelContents> prune_model(const PruneOptions& options, const PruneInputs& inputs,
                                  const ModelContents& unpruned, std::ostream& out, std::ostream& err);

}  // namespace encore::convert
