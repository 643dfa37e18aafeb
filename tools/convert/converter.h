// encore-convert's pipeline: Hugging Face directory -> f32 model -> (calibrate, quantize)
// -> .encore file. The CLI (main.cc) is a thin shell around convert_model().
#pragma once

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "convert/calibration_data.h"
#include "convert/hf_checkpoint.h"
#include "convert/model_writer.h"
#include "convert/pruning_pass.h"
#include "convert/quantizer.h"
#include "encore/model.h"
#include "encore/status.h"

namespace encore::convert {

extern const char* const kConverterVersion;

struct ConvertOptions {
  std::string model_dir;
  std::string output;
  bool int8 = true;
  std::string calib_path;          // .npy of token ids [N, S]; empty = synthetic sequences
  std::string calib_mask_path;     // with calib_path: .npy attention mask [N, S] (0 = padding)
  std::string calib_text_path;     // texts, one per line (pairs tab-separated), instead of calib_path
  // How each GEMM input's int8 range is chosen (quantizer.h); min/max by default.
  CalibrationMethod calibration = CalibrationMethod::kMinMax;
  // int8: the quality gate (quality_gate.h) keeps the blocks int8 hurts most in f32 until the
  // held-out per-token cosine against the f32 model has mean >= 1 - max_cosine_drop and 1st
  // percentile >= 1 - 10 x max_cosine_drop.
  bool quality_gate = true;
  double max_cosine_drop = 0.001;
  int threads = 1;
  int synthetic_sequences = 32;    // used without calib_path
  int synthetic_length = 128;      // clamped to the longest sequence the model takes
  // --head base: convert the encoder alone, whatever head config.json's architectures names
  // (e.g. the embeddings of a *ForMaskedLM checkpoint without the fill-mask head).
  bool base_only = false;
  // Pruning and accuracy reports (pruning_pass.h); nothing by default.
  PruneOptions prune;
};

// What calibration chose for each activation point ("layer.0.qkv.input" -> range): the range
// its int8 grid covers, how it was chosen, and the smallest and largest value seen. Only GEMM
// inputs use a method other than min/max (outputs feed the next step's requantization).
struct ActivationRange {
  float lo = 0.0f, hi = 0.0f;
  float observed_lo = 0.0f, observed_hi = 0.0f;
  CalibrationMethod method = CalibrationMethod::kMinMax;
};
using CalibrationRanges = std::map<std::string, ActivationRange>;

// What the quality gate did (convert_model's optional report; the model records `figures` and
// the precision of each layer).
struct GateBlock {
  int layer = 0;
  bool ffn = false;               // the layer's FFN block; else its attention block
  bool measured = false;          // measured alone in f32 (only when every block int8 missed the bound)
  double mean_cosine_alone = 0.0;  // held-out mean cosine with this block alone in f32
  bool kept_f32 = false;
};
struct QualityGateReport {
  bool ran = false;
  std::string skipped;               // why it did not run, when it was asked for and did not
  QualityGateFigures figures;        // encore/model.h
  std::vector<GateBlock> blocks;     // per layer: attention, then FFN
  // The cost of the blocks kept in f32, measured only when there are any (else 0): the file with
  // every block int8 and as written; the median of 3 passes over the held-out rows, 1 thread.
  uint64_t int8_bytes = 0, bytes = 0;
  double int8_ms = 0.0, ms = 0.0;
};

// Canonical f32 model contents (weights as read, vocab, metadata).
ModelContents f32_contents(const FloatCheckpoint& ck, const ModelMetadata& metadata);

// Runs the f32 model over the calibration set in batches (padding never observed) and records
// every activation point's range. `progress` (may be null) gets one line per batch.
// Methods other than min/max take a second pass over the data for each GEMM input's histogram.
Result<CalibrationRanges> calibrate(std::shared_ptr<const Model> f32_model, const CalibrationSet& data, int threads,
                                    std::ostream* progress, CalibrationMethod method = CalibrationMethod::kMinMax);
// The same over ids [n, seq] without padding.
Result<CalibrationRanges> calibrate(std::shared_ptr<const Model> f32_model, const std::vector<int32_t>& ids,
                                    int64_t n, int64_t seq, int threads, std::ostream* progress);

// The calibration range of a ModernBERT layer's FFN-down output relative to each token's input
// scale (max |input row| / 127), bias excluded: "layer.N.ffn_down.output" + this suffix.
constexpr char kPerTokenSuffix[] = ".per_token";

// int8 model contents from the f32 checkpoint and calibrated ranges; appends the per-layer
// report (SQNR, ranges) to `report`. metadata.layer_precision (empty: every block int8) names
// the blocks written in f32. ModernBERT models get per-token scales at the FFN-down input
// (format version 9) unless ffn_down_row_scales is false (one static scale, as version 8).
Result<ModelContents> int8_contents(const FloatCheckpoint& ck, const CalibrationRanges& ranges,
                                    const ModelMetadata& metadata, std::ostream& report,
                                    bool ffn_down_row_scales = true);

// The whole conversion: writes options.output atomically (nothing is left behind on error).
// `out` receives the report, `err` warnings and progress.
// `gate` (may be null) receives what the quality gate did.
Status convert_model(const ConvertOptions& options, std::ostream& out, std::ostream& err,
                     QualityGateReport* gate = nullptr);

}  // namespace encore::convert
