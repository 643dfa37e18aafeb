// encore-convert's pipeline: Hugging Face directory -> f32 model -> (calibrate, quantize)
// -> .encore file. The CLI (main.cc) is a thin shell around convert_model().
#pragma once

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "convert/hf_checkpoint.h"
#include "convert/model_writer.h"
#include "convert/pruning_pass.h"
#include "encore/model.h"
#include "encore/status.h"

namespace encore::convert {

extern const char* const kConverterVersion;

struct ConvertOptions {
  std::string model_dir;
  std::string output;
  bool int8 = true;
  std::string calib_path;          // .npy of token ids [N, S]; empty = synthetic sequences
  int threads = 1;
  int synthetic_sequences = 32;    // used without calib_path
  int synthetic_length = 128;      // clamped to the longest sequence the model takes
  // --head base: convert the encoder alone, whatever head config.json's architectures names
  // (e.g. the embeddings of a *ForMaskedLM checkpoint without the fill-mask head).
  bool base_only = false;
  // Pruning and accuracy reports (pruning_pass.h); nothing by default.
  PruneOptions prune;
};

// Calibrated [min, max] of every activation point ("layer.0.qkv.input" -> range).
// What calibration saw at each activation point: its smallest and largest value.
struct ActivationRange {
  float lo = 0.0f, hi = 0.0f;
};
using CalibrationRanges = std::map<std::string, ActivationRange>;

// Canonical f32 model contents (weights as read, vocab, metadata).
ModelContents f32_contents(const FloatCheckpoint& ck, const ModelMetadata& metadata);

// Runs the f32 model over `ids` ([n, seq] row-major) in batches and records every
// activation point's range. `progress` (may be null) gets one line per batch.
Result<CalibrationRanges> calibrate(std::shared_ptr<const Model> f32_model, const std::vector<int32_t>& ids,
                                    int64_t n, int64_t seq, int threads, std::ostream* progress);

// int8 model contents from the f32 checkpoint and calibrated ranges; appends the per-layer
// report (SQNR, ranges) to `report`.
Result<ModelContents> int8_contents(const FloatCheckpoint& ck, const CalibrationRanges& ranges,
                                    const ModelMetadata& metadata, std::ostream& report);

// The whole conversion: writes options.output atomically (nothing is left behind on error).
// `out` receives the report, `err` warnings and progress.
Status convert_model(const ConvertOptions& options, std::ostream& out, std::ostream& err);

}  // namespace encore::convert
