// The quality gate of int8 conversion (ConvertOptions::quality_gate, on by default).
//
// Every 4th calibration sequence is held out (at least 4 sequences needed). The other rows
// calibrate trial models; the f32 model and the trials run on the held-out rows, and the figure
// is the per-token cosine of last_hidden_state (real tokens only) against the f32 model. The
// bound for a drop d (--max-cosine-drop, 0.001 by default): mean >= 1 - d and 1st percentile
// >= 1 - 10 d.
//
// If every block int8 misses it, each block (a layer's attention: QKV, attention, output
// projection; or its FFN: up, activation, down) is measured alone in f32; blocks are then kept
// in f32 in the order of that gain (ties: the earlier block), each addition measured again,
// until the bound holds. The unit is the block, not the projection: an outlier channel spoils
// the int8 codes of its whole path (an FFN-down input's outliers are at the FFN-up output too;
// an attention-output input's come from the value projection), while an f32 block reads the f32
// residual stream and quantizes nothing, computing what the f32 model does there.
//
// The decisions depend only on the model, the calibration data and the options (fixed split,
// fixed order). The written model's ranges come from all calibration rows, as without the gate,
// so a model that passes with every block int8 is the model the converter wrote before.
#pragma once

#include <memory>
#include <ostream>
#include <vector>

#include "convert/converter.h"

namespace encore::convert {

struct GateInputs {
  const FloatCheckpoint* checkpoint = nullptr;
  std::shared_ptr<const Model> f32_model;
  const CalibrationSet* data = nullptr;
  const ModelMetadata* metadata = nullptr;
  int threads = 1;
  CalibrationMethod method = CalibrationMethod::kMinMax;
  double max_cosine_drop = 0.001;
};

// Decides each layer's precision (report->blocks, and the figures of the result); progress and
// each decision go to `out`, warnings to `err`. Sets report->skipped (and ran = false) when
// there are too few calibration sequences to hold any out.
Status run_quality_gate(const GateInputs& in, QualityGateReport* report, std::ostream& out, std::ostream& err);

// The layer precision a report's decisions give (empty when every block is int8).
std::vector<LayerPrecision> gate_precision(const QualityGateReport& report);

}  // namespace encore::convert
