// What each head and each FFN is worth to a classifier: the change in accuracy and mean loss
// on an evaluation set when it is switched off at run time (Session::set_head_masked /
// set_ffn_bypassed, exact and free when off), and a greedy search for heads that can go.
//
//  - head ablation: each head masked alone;
//  - FFN ablation: each layer's FFN bypassed (the residual and LayerNorm kept);
//  - best head only: per layer, every head masked but the most important one, i.e. the head
//    whose masking alone raised the mean loss most (Michel et al. 2019 ask the same question:
//    can one head do the layer's work?);
//  - one head in the whole model: every head of every layer masked but one, for each head (can
//    a single head do all the attention the task needs? The FFNs all stay).
// Importance is the mean-loss increase: unlike accuracy it moves with every example's
// confidence, so it ranks heads that change few predictions.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "analyze/eval_set.h"
#include "analyze/evaluate.h"
#include "encore/session.h"

namespace encore::analyze {

struct Ablation {
  int layer = -1;
  int head = -1;  // head ablation: the head masked; best head only: the head kept; FFN: -1
  EvalResult result;
  double accuracy_change = 0.0;  // percentage points against the baseline (negative: worse)
  double loss_change = 0.0;      // mean loss minus the baseline's (positive: worse)
};

struct AblationReport {
  std::string eval_name;
  EvalResult baseline;
  std::vector<Ablation> heads;           // layer by layer, head by head
  std::vector<Ablation> ffn;             // one per layer
  std::vector<Ablation> best_head_only;  // one per layer (none for a layer with one head)
  std::vector<Ablation> single_head;     // one per head: the head kept (none for a one-head model)
};

// Each head masked alone, against `baseline` (the unmasked result on `set`).
Result<std::vector<Ablation>> head_importance(Session& session, const EvalSet& set, const EvalResult& baseline,
                                              int64_t batch_size, std::ostream* progress);

// Runs every ablation; `progress` (may be null) gets a line per evaluation. The session's
// switches are cleared before and after.
Result<AblationReport> run_ablation(Session& session, const EvalSet& set, int64_t batch_size, std::ostream* progress);

// Greedy head pruning on a tuning set: heads in order of increasing importance (loss change
// when masked alone, from `heads`) are masked one by one; a head stays masked only if the
// accuracy drop against `reference` (the unpruned model on the same set), plus `sigmas`
// standard errors (accuracy_drop_bound), is within `max_drop_points`. Every layer keeps at
// least one head. Returns the heads removed (positions in each layer, ascending) and the
// accuracy reached; the session's switches are cleared after.
struct HeadSearch {
  std::vector<std::vector<int32_t>> removed;  // [layer]
  EvalResult result;                          // with every removed head masked
  struct Step {
    int layer, head;
    EvalResult result;  // with this head masked on top of those kept masked
    bool removed;
  };
  std::vector<Step> steps;
};
Result<HeadSearch> search_heads_to_remove(Session& session, const EvalSet& tune, const std::vector<Ablation>& heads,
                                          const EvalResult& reference, double max_drop_points, double sigmas,
                                          int64_t batch_size, std::ostream* progress);

// The report as a fixed-width table (stdout of encore-analyze).
std::string ablation_table(const AblationReport& report, const EncoderConfig& config);

}  // namespace encore::analyze
