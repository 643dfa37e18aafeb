// A loaded .encore model: immutable, shareable by any number of sessions and threads.
//
// Loading maps the file read-only, verifies the FlatBuffer, then checks the meaning of every
// field (shapes against the config, buffer ranges against the file, quantization parameters)
// before anything is used. A model that loads is safe to run; a file that is not gives a
// Status naming the first problem found.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "encore/config.h"
#include "encore/status.h"

namespace encore {

struct LoadOptions {
  // Largest file accepted, in bytes (a guard against absurd inputs, not a memory budget).
  uint64_t max_file_size = uint64_t{16} << 30;
};

// Tokenizer settings stored with the model. Either `json`, a tokenizer.json text that defines
// the whole pipeline (models converted from tokenizer.json, vocab.json + merges.txt or a
// SentencePiece model), or `vocab` with BERT's WordPiece settings (vocab.txt). TextTokenizer::
// for_model (encore/text_tokenizer.h) builds the pipeline from either.
struct TokenizerInfo {
  std::vector<std::string> vocab;
  bool do_lower_case = true;
  bool strip_accents_set = false;
  bool strip_accents = false;
  std::string json;
  std::string source;            // the files it came from ("vocab.txt", "tokenizer.json", ...)
  int64_t model_max_length = 0;  // tokenizer_config.json's limit on tokens per input; 0 = none
  bool empty() const { return vocab.empty() && json.empty(); }
};

// An int8 model's layer whose attention block (QKV, attention, output projection) or FFN block
// runs in f32, kept there by the converter's quality gate.
struct LayerPrecision {
  bool attention_f32 = false;
  bool ffn_f32 = false;
};

// What the converter's quality gate measured (ran = false: converted without it): per-token
// cosine of last_hidden_state against the f32 model, over calibration rows held out from the
// ranges, with every block int8 and with the blocks as written.
struct QualityGateFigures {
  bool ran = false;
  double max_cosine_drop = 0.0;  // bound: mean >= 1 - drop and 1st percentile >= 1 - 10 x drop
  int64_t heldout_sequences = 0, heldout_tokens = 0;
  double int8_mean_cosine = 0.0, int8_p1_cosine = 0.0;
  double mean_cosine = 0.0, p1_cosine = 0.0, min_cosine = 0.0;
  bool passed = false;
};

struct ModelMetadata {
  std::string source;
  std::string converter_version;
  std::string created_utc;
  std::string calibration;
  // Int8 models: one entry per layer when any block is f32, else empty.
  std::vector<LayerPrecision> layer_precision;
  QualityGateFigures quality_gate;
};

class Model {
 public:
  // Maps and validates `path`.
  static Result<std::shared_ptr<const Model>> load(const std::string& path,
                                                   const LoadOptions& options = {});
  // Validates and takes ownership of a model held in memory (as the converter produces it).
  static Result<std::shared_ptr<const Model>> load_from_memory(std::vector<uint8_t> bytes,
                                                               const LoadOptions& options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const EncoderConfig& config() const;
  bool is_quantized() const;  // int8 linear layers (otherwise f32)
  const TokenizerInfo& tokenizer() const;
  const ModelMetadata& metadata() const;
  uint64_t file_size() const;

  // The loaded state, for the library's own use (its weights, resolved at load); Impl is
  // opaque outside the library.
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore
