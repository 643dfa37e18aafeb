#include "convert/converter.h"

#include "encore/text_tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <limits>

#include "convert/quality_gate.h"
#include "convert/quantizer.h"
#include "core/half.h"
#include "core/str.h"
#include "encore/session.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "model/format.h"
#include "model/model_weights.h"

namespace encore::convert {

const char* const kConverterVersion = "encore-convert 0.1.0";

namespace fmt = format;

ModelContents f32_contents(const FloatCheckpoint& ck, const ModelMetadata& metadata) {
  ModelContents m;
  m.config = ck.config;
  m.quantized = false;
  m.tokenizer = ck.tokenizer;
  m.metadata = metadata;
  for (const auto& [name, t] : ck.tensors) m.tensors.push_back(make_f32_tensor(name, t.shape, t.values));
  return m;
}

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every point's min / max. With `weights` (a ModernBERT f32 model's), also each layer's FFN-down
// output relative to the token's input scale (kPerTokenSuffix), bias excluded: the runtime's
// GEMM writes W x / row scale and adds the bias after. The FFN-down input of a batch is always
// observed just before its output.
class RangeObserver : public ActivationObserver {
 public:
  RangeObserver(CalibrationRanges* ranges, const internal::ModelWeights* weights) : ranges_(ranges), weights_(weights) {}
  void observe(std::string_view name, const float* data, size_t rows, size_t cols, size_t stride) override {
    ActivationRange& a = range(std::string(name));
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        a.lo = std::min(a.lo, data[r * stride + c]);
        a.hi = std::max(a.hi, data[r * stride + c]);
      }
    }
    if (!weights_) return;
    if (ends_with(name, std::string(".") + format::kActivationPoints[format::kFfnDownInput])) {
      row_scale_.assign(rows, 0.0f);
      for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < cols; ++c) row_scale_[r] = std::max(row_scale_[r], std::fabs(data[r * stride + c]));
        row_scale_[r] /= 127.0f;
      }
      return;
    }
    if (!ends_with(name, std::string(".") + format::kActivationPoints[format::kFfnDownOutput]) ||
        row_scale_.size() != rows) {
      return;
    }
    const size_t layer = std::stoul(std::string(name.substr(6)));  // "layer.N.ffn_down.output"
    const float* bias = weights_->layers.at(layer).ffn_down.bias_f32;
    ActivationRange& relative = range(std::string(name) + kPerTokenSuffix);
    for (size_t r = 0; r < rows; ++r) {
      if (!(row_scale_[r] > 0.0f)) continue;  // a row of zeros quantizes to zeros whatever its scale
      for (size_t c = 0; c < cols; ++c) {
        const float v = (data[r * stride + c] - (bias ? bias[c] : 0.0f)) / row_scale_[r];
        relative.lo = std::min(relative.lo, v);
        relative.hi = std::max(relative.hi, v);
      }
    }
    row_scale_.clear();
  }

 private:
  ActivationRange& range(const std::string& name) {
    auto [it, inserted] = ranges_->try_emplace(name);
    if (inserted) {
      it->second.lo = std::numeric_limits<float>::infinity();
      it->second.hi = -it->second.lo;
    }
    return it->second;
  }

  CalibrationRanges* ranges_;
  const internal::ModelWeights* weights_;
  std::vector<float> row_scale_;
};

// The GEMM inputs' values, binned over the range the first pass saw.
class HistogramObserver : public ActivationObserver {
 public:
  static constexpr size_t kBins = 2048;
  HistogramObserver(const CalibrationRanges& ranges, std::map<std::string, ActivationHistogram>* out) : out_(out) {
    for (const auto& [name, r] : ranges) {
      if (!is_gemm_input(name)) continue;
      ActivationHistogram& h = (*out_)[name];
      h.lo = r.lo;
      h.hi = r.hi;
      h.counts.assign(kBins, 0.0);
    }
  }
  static bool is_gemm_input(const std::string& name) {
    for (size_t p : {fmt::kQkvInput, fmt::kAttnOutInput, fmt::kFfnUpInput, fmt::kFfnDownInput}) {
      const std::string suffix = std::string(".") + fmt::kActivationPoints[p];
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) return true;
    }
    return false;
  }
  void observe(std::string_view name, const float* data, size_t rows, size_t cols, size_t stride) override {
    auto it = out_->find(std::string(name));
    if (it == out_->end()) return;
    ActivationHistogram& h = it->second;
    const double width = (double(h.hi) - double(h.lo)) / kBins;
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        const double at = width > 0.0 ? (double(data[r * stride + c]) - h.lo) / width : 0.0;
        h.counts[std::min(kBins - 1, static_cast<size_t>(std::max(0.0, at)))] += 1.0;
      }
    }
  }

 private:
  std::map<std::string, ActivationHistogram>* out_;
};

// Runs the f32 model over the calibration set in batches of 8 with `observer`.
Status run_calibration(std::shared_ptr<const Model> model, const CalibrationSet& data, int threads,
                       ActivationObserver* observer, std::ostream* progress, const char* pass) {
  SessionOptions so;
  so.threads = threads;
  so.observer = observer;
  ENCORE_ASSIGN_OR_RETURN(auto session, Session::create(std::move(model), so));
  const int64_t batch = 8;
  for (int64_t start = 0; start < data.n; start += batch) {
    const Inputs in = data.rows(start, std::min(batch, data.n - start));
    Outputs out;
    Status st = session->run(in, &out);
    if (!st.ok()) return st.with_context(cat("calibration sequences ", start, "..", start + in.batch - 1));
    if (progress) *progress << "  " << pass << " " << start + in.batch << "/" << data.n << " sequences\n" << std::flush;
  }
  return Status::Ok();
}

std::string megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MB", double(bytes) / 1e6);
  return buf;
}

std::string range_str(const std::pair<float, float>& r) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%.3g, %.3g]", r.first, r.second);
  return buf;
}

// "minmax [-3.1, 4.2]", "mse [-1.2, 3.9] (observed [-3.1, 40.2])".
std::string input_str(const ActivationRange& r) {
  std::string s = std::string(calibration_method_name(r.method)) + " " + range_str({r.lo, r.hi});
  if (r.method != CalibrationMethod::kMinMax) s += " (observed " + range_str({r.observed_lo, r.observed_hi}) + ")";
  return s;
}

}  // namespace

Result<CalibrationRanges> calibrate(std::shared_ptr<const Model> model, const CalibrationSet& data, int threads,
                                    std::ostream* progress, CalibrationMethod method) {
  CalibrationRanges ranges;
  RangeObserver observer(&ranges, model->config().is_modernbert() ? &internal::weights_of(*model) : nullptr);
  ENCORE_RETURN_IF_ERROR(run_calibration(model, data, threads, &observer, progress, "calibrated"));
  for (auto& [name, r] : ranges) {
    r.observed_lo = r.lo;
    r.observed_hi = r.hi;
  }
  if (method == CalibrationMethod::kMinMax) return ranges;
  std::map<std::string, ActivationHistogram> histograms;
  HistogramObserver binning(ranges, &histograms);
  ENCORE_RETURN_IF_ERROR(run_calibration(model, data, threads, &binning, progress, "histograms"));
  for (const auto& [name, h] : histograms) {
    const ChosenRange c = choose_range(h, method);
    ActivationRange& r = ranges[name];
    r.lo = c.lo;
    r.hi = c.hi;
    r.method = c.method;
  }
  return ranges;
}

Result<CalibrationRanges> calibrate(std::shared_ptr<const Model> f32_model, const std::vector<int32_t>& ids, int64_t n,
                                    int64_t seq, int threads, std::ostream* progress) {
  CalibrationSet data;
  data.n = n;
  data.seq = seq;
  data.ids = ids;
  data.mask.assign(ids.size(), 1);
  return calibrate(std::move(f32_model), data, threads, progress);
}

Result<ModelContents> int8_contents(const FloatCheckpoint& ck, const CalibrationRanges& ranges,
                                    const ModelMetadata& metadata, std::ostream& report, bool ffn_down_row_scales) {
  ModelContents m;
  m.config = ck.config;
  m.quantized = true;
  // ModernBERT's GeGLU product, the FFN-down input, is the int8 error that matters most there
  // (a fake-quantization simulation of ModernBERT-base's shape: 0.9823 mean per-token cosine
  // with every point static, 0.9915 with that one point in float, 0.9891 with per-token scales
  // there), so it gets a scale per token; the GEMM is unchanged (nominal input scale 1, output
  // relative to the token's scale), so XNNPACK and encore's kernels still run it.
  m.ffn_down_row_scales = ffn_down_row_scales && ck.config.is_modernbert();
  m.tokenizer = ck.tokenizer;
  m.metadata = metadata;
  const auto& c = ck.config;
  auto tensor = [&](const std::string& name) -> const FloatTensor& { return ck.tensors.at(name); };

  // Word embeddings: f16. They are only looked up, never multiplied, so int8 would save
  // memory but no time, and int8 rows (44 dB) put noise into every token at the first step:
  // over 1,400-4,000 fresh tokens per fixture, int8 rows lowered the 0.1th-percentile
  // per-token cosine by 0.004-0.010. The small position and token-type tables, LayerNorm,
  // pooler and classifier stay f32.
  {
    const FloatTensor& we = tensor("embeddings.word");
    m.tensors.push_back(make_f16_tensor("embeddings.word", we.shape, we.values));
    double signal = 0.0, noise = 0.0;
    for (float v : we.values) {
      const double d = double(v) - double(half_to_float(float_to_half(v)));
      signal += double(v) * v;
      noise += d * d;
    }
    report << "  embeddings.word   f16, SQNR " << std::fixed << std::setprecision(1)
           << (noise > 0.0 ? 10.0 * std::log10(signal / noise) : 999.0) << " dB\n";
  }
  for (const auto& [name, t] : ck.tensors) {
    bool keep_f32 = name.rfind("embeddings.", 0) == 0 ? name != "embeddings.word"
                                                      : (name.find("norm.") != std::string::npos ||
                                                         name.rfind("pooler.", 0) == 0 || name.rfind("classifier.", 0) == 0 ||
                                                         name.rfind("token_head.", 0) == 0 || name.rfind("mlm.", 0) == 0 ||
                                                         name.rfind("head.", 0) == 0 || name.rfind("final_norm.", 0) == 0 ||
                                                         name.rfind("sentence.", 0) == 0);
    if (keep_f32) m.tensors.push_back(make_f32_tensor(name, t.shape, t.values));
  }

  auto act = [&](int l, size_t point) -> Result<ActivationRecord> {
    std::string name = fmt::layer_name(l, fmt::kActivationPoints[point]);
    auto it = ranges.find(name);
    if (it == ranges.end()) return internal_error(cat("calibration recorded nothing for ", name));
    // Per-tensor min/max ranges. Measured over 1,400-4,000 fresh tokens per fixture, each
    // alternative tried did worse on mean and tail cosine: per-channel Q/K/V output scales,
    // ranges widened by 10-25% (less clipping, coarser steps) or narrowed by 10-30%.
    const bool symmetric = point == fmt::kQOutput || point == fmt::kKOutput || point == fmt::kVOutput;
    ActivationRecord a = activation_params(name, it->second.lo, it->second.hi, symmetric);
    a.observed_min = it->second.observed_lo;
    a.observed_max = it->second.observed_hi;
    return a;
  };

  report << "  layer  linear      SQNR dB  input: method, range (observed)     output range\n";
  for (int l = 0; l < c.layer_count; ++l) {
    std::vector<ActivationRecord> acts;
    for (size_t p = 0; p < fmt::kActivationPointCount; ++p) {
      ENCORE_ASSIGN_OR_RETURN(auto a, act(l, p));
      acts.push_back(std::move(a));
    }
    if (m.ffn_down_row_scales) {  // the input's scale is nominal; the output's relative to it
      ActivationRecord& in = acts[fmt::kFfnDownInput];
      in.scale = 1.0f;
      in.zero_point = 0;
      const std::string name = acts[fmt::kFfnDownOutput].name;
      auto it = ranges.find(name + kPerTokenSuffix);
      if (it == ranges.end()) return internal_error(cat("calibration recorded nothing for ", name, kPerTokenSuffix));
      ActivationRecord out = activation_params(name, it->second.lo, it->second.hi, false);
      out.observed_min = it->second.lo;
      out.observed_max = it->second.hi;
      acts[fmt::kFfnDownOutput] = std::move(out);
    }
    // Each linear layer and the activation point feeding it.
    struct Linear { const char* name; size_t input; std::vector<size_t> outputs; };
    const Linear linears[] = {{"qkv", fmt::kQkvInput, {fmt::kQOutput, fmt::kKOutput, fmt::kVOutput}},
                              {"attn_out", fmt::kAttnOutInput, {fmt::kAttnOutOutput}},
                              {"ffn_up", fmt::kFfnUpInput, {fmt::kFfnUpOutput}},
                              {"ffn_down", fmt::kFfnDownInput, {fmt::kFfnDownOutput}}};
    const LayerPrecision precision =
        metadata.layer_precision.empty() ? LayerPrecision{} : metadata.layer_precision[static_cast<size_t>(l)];
    for (const Linear& lin : linears) {
      const std::string base = fmt::layer_name(l, lin.name);
      const FloatTensor& w = tensor(base + ".weight");
      const bool ffn = lin.input == fmt::kFfnUpInput || lin.input == fmt::kFfnDownInput;
      if (ffn ? precision.ffn_f32 : precision.attention_f32) {  // kept in f32 by the quality gate
        m.tensors.push_back(make_f32_tensor(base + ".weight", w.shape, w.values));
        const FloatTensor& b = tensor(base + ".bias");
        m.tensors.push_back(make_f32_tensor(base + ".bias", b.shape, b.values));
        report << "  " << std::setw(5) << l << "  " << std::left << std::setw(10) << lin.name << std::right
               << "     f32  (kept in f32 by the quality gate)\n";
        continue;
      }
      QuantizedRows q = quantize_rows_symmetric(w.values, w.shape[0], w.shape[1]);
      TensorData wt = make_i8_tensor(base + ".weight", w.shape, q.values);
      wt.scales = q.scales;
      wt.zero_points.assign(q.scales.size(), 0);
      m.tensors.push_back(std::move(wt));
      const bool per_token = m.ffn_down_row_scales && lin.input == fmt::kFfnDownInput;
      if (per_token) {  // added in f32 after the dequantization
        const FloatTensor& b = tensor(base + ".bias");
        m.tensors.push_back(make_f32_tensor(base + ".bias", b.shape, b.values));
      } else {
        const std::vector<int32_t> bias = quantize_bias(tensor(base + ".bias").values, acts[lin.input].scale, q.scales);
        TensorData bt = make_i32_tensor(base + ".bias", {w.shape[0]}, bias);
        bt.scales.resize(q.scales.size());
        for (size_t i = 0; i < q.scales.size(); ++i) bt.scales[i] = acts[lin.input].scale * q.scales[i];
        bt.zero_points.assign(q.scales.size(), 0);
        m.tensors.push_back(std::move(bt));
      }

      std::string outs;
      for (size_t o : lin.outputs) {
        outs += (outs.empty() ? "" : " ") + range_str({acts[o].observed_min, acts[o].observed_max});
      }
      report << "  " << std::setw(5) << l << "  " << std::left << std::setw(10) << lin.name << std::right
             << std::setw(8) << std::fixed << std::setprecision(1) << q.sqnr_db << "  " << std::left << std::setw(34)
             << (per_token ? "per token (observed " + range_str({acts[lin.input].observed_min,
                                                                 acts[lin.input].observed_max}) + ")"
                           : input_str(ranges.at(acts[lin.input].name)))
             << std::right << "  " << outs << (per_token ? " x token scale" : "") << "\n";
    }
    for (auto& a : acts) m.activations.push_back(std::move(a));
  }
  return m;
}

namespace {

Result<CalibrationSet> calibration_data(const ConvertOptions& o, const FloatCheckpoint& ck, const Model& f32_model,
                                        std::ostream& err) {
  if (!o.calib_text_path.empty() && !o.calib_path.empty()) {
    return invalid_argument("--calib-text and --calib both given; calibrate on one of them");
  }
  if (!o.calib_mask_path.empty() && o.calib_path.empty()) {
    return invalid_argument("--calib-mask needs --calib IDS.npy (text calibration makes its own masks)");
  }
  if (!o.calib_text_path.empty()) return read_calibration_text(o.calib_text_path, f32_model);
  if (!o.calib_path.empty()) return read_calibration_ids(o.calib_path, o.calib_mask_path, ck.config, err);
  return synthetic_calibration(ck, o.synthetic_sequences, o.synthetic_length, err);
}

// "mean pooling, Dense 384->256 tanh, Normalize -> 256 dimensions, max_seq_length 256, prompts query".
std::string sentence_summary(const EncoderConfig& c) {
  const SentenceEmbeddingConfig& s = c.sentence;
  static const char* const kModes[] = {"cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"};
  std::string modes;
  for (int i = 0; i < 6; ++i) {
    if (s.pooling & (1u << i)) modes += (modes.empty() ? "" : "+") + std::string(kModes[i]);
  }
  std::string text = modes + " pooling";
  for (const SentenceDense& d : s.dense) {
    text += cat(", Dense ", d.in_features, "->", d.out_features, d.bias ? "" : " (no bias)",
                d.activation == DenseActivation::kTanh ? " tanh" : " identity");
  }
  if (s.normalize) text += ", Normalize";
  text += cat(" -> ", c.sentence_dimension(), " dimensions");
  if (s.max_seq_length > 0) text += cat(", max_seq_length ", s.max_seq_length);
  std::string prompts;
  for (const auto& [name, value] : s.prompts) {
    if (!value.empty()) prompts += (prompts.empty() ? "" : ", ") + name;
  }
  if (!prompts.empty()) text += ", prompts " + prompts;
  if (!s.default_prompt_name.empty()) text += " (default " + s.default_prompt_name + ")";
  if (!s.similarity_fn_name.empty()) text += ", similarity " + s.similarity_fn_name;
  return text;
}

// The gate's result in a few lines: the blocks kept in f32, the figures, size and speed.
void print_gate_summary(const QualityGateReport& g, uint64_t bytes, std::ostream& out) {
  std::string kept;
  int count = 0;
  for (const GateBlock& b : g.blocks) {
    if (!b.kept_f32) continue;
    kept += cat(kept.empty() ? "" : ", ", "layer ", b.layer, b.ffn ? " ffn" : " attention");
    ++count;
  }
  const QualityGateFigures& f = g.figures;
  out << std::fixed << std::setprecision(5) << "  quality gate: " << (f.passed ? "passed" : "MISSED the bound") << "; "
      << (count ? cat(count, " of ", g.blocks.size(), " blocks kept in f32 (", kept, ")")
                : cat("every block int8 (", g.blocks.size(), " blocks)"))
      << "\n    held-out per-token cosine vs f32: every block int8 mean " << f.int8_mean_cosine << ", 1st percentile "
      << f.int8_p1_cosine << "; as written mean " << f.mean_cosine << ", 1st percentile " << f.p1_cosine << ", min "
      << f.min_cosine << "\n";
  if (count) {
    out << std::setprecision(2) << "    cost: " << megabytes(g.int8_bytes) << " -> " << megabytes(bytes) << " (+"
        << 100.0 * (double(bytes) - double(g.int8_bytes)) / double(g.int8_bytes) << "%), held-out pass "
        << g.int8_ms << " -> " << g.ms << " ms (x" << g.ms / g.int8_ms << ", 1 thread, median of 3)\n";
  }
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Status convert_model(const ConvertOptions& o, std::ostream& out, std::ostream& err, QualityGateReport* gate) {
  if (!(o.max_cosine_drop > 0.0 && o.max_cosine_drop < 0.1)) {
    return invalid_argument(cat("max_cosine_drop ", o.max_cosine_drop, " must be in (0, 0.1)"));
  }
  if (o.output.empty()) return invalid_argument("no output path given (-o OUT.encore)");
  // The output's temporary file first: a path that cannot be written fails before the work
  // (its directory missing, not writable); it is removed again on any later error.
  ENCORE_ASSIGN_OR_RETURN(io::AtomicFile file, io::AtomicFile::create(o.output));
  ENCORE_ASSIGN_OR_RETURN(FloatCheckpoint ck, read_hf_checkpoint(o.model_dir, o.base_only));
  const auto& c = ck.config;
  ENCORE_RETURN_IF_ERROR(check_prune_options(o.prune, c));
  out << "encore-convert: " << o.model_dir << " -> " << o.output << " (" << (o.int8 ? "int8" : "f32") << ")\n";
  out << "  config: " << c.layer_count << " layers, hidden " << c.hidden_size << ", " << c.head_count << " heads x "
      << c.head_dim() << ", ffn " << c.intermediate_size << ", " << activation_name(c.activation) << ", vocab "
      << c.vocab_size << ", max positions " << c.max_positions << ", layer_norm_eps " << c.layer_norm_eps
      << (c.has_pooler_output() ? ", pooler" : c.has_pooler ? ", head dense layer" : "")
      << (c.has_classifier() ? cat(", classifier with ", c.labels.size(), " labels") : std::string())
      << (c.has_classifier() && c.problem_type != ProblemType::kSingleLabel
              ? cat(" (", problem_type_name(c.problem_type), ")")
              : std::string())
      << (c.has_token_head() ? cat(", ", head_kind_name(c.head), " head, ", c.token_logit_width(), " logits per token")
                             : std::string())
      << "\n";
  if (c.has_sentence_embedding()) out << "  sentence-transformers: " << sentence_summary(c) << "\n";
  if (!ck.skipped.empty()) {
    out << "  skipped " << ck.skipped.size() << " tensor(s) the encoder does not use:";
    for (const auto& s : ck.skipped) out << " " << s;
    out << "\n";
  }
  for (const auto& w : ck.warnings) err << "encore-convert: warning: " << w << "\n";

  ModelMetadata md;
  md.source = o.model_dir;
  md.converter_version = kConverterVersion;
  md.created_utc = utc_now();

  ModelContents contents = f32_contents(ck, md);
  ENCORE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, serialize_model(contents));
  // The f32 model runs over the calibration data for int8 scales and for FFN neuron statistics.
  CalibrationSet data;
  std::shared_ptr<const Model> f32_model;
  if (o.int8 || o.prune.ffn_fraction > 0.0) {
    std::vector<uint8_t> copy = bytes;
    ENCORE_ASSIGN_OR_RETURN(f32_model, Model::load_from_memory(std::move(copy)));
    ENCORE_ASSIGN_OR_RETURN(data, calibration_data(o, ck, *f32_model, err));
    if (o.int8) {
      md.calibration = o.calibration == CalibrationMethod::kMinMax
                           ? data.summary
                           : cat(calibration_method_name(o.calibration), " for GEMM inputs, ", data.summary);
    }
  }
  if (o.int8) {
    auto t0 = std::chrono::steady_clock::now();
    ENCORE_ASSIGN_OR_RETURN(CalibrationRanges ranges, calibrate(f32_model, data, o.threads, &err, o.calibration));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out << "  calibration: " << md.calibration << " (" << std::fixed << std::setprecision(1) << secs << " s)\n";
    out << "  kept in f32 (int8 would cost accuracy, or saves nothing): residual stream, LayerNorm, "
        << (c.is_modernbert() ? "rotary tables, attention softmax, prediction head, classifier"
                              : "position and token-type embeddings, attention softmax, pooler, classifier")
        << (c.head == HeadKind::kMaskedLm ? ", the fill-mask head (its decoder runs with the f16 word embeddings "
                                            "widened to f32)"
            : c.has_token_head()          ? ", the per-token head"
                                          : "")
        << (c.has_sentence_embedding() ? ", sentence-transformers Dense modules" : "") << "\n";
    QualityGateReport local;
    QualityGateReport& gr = gate ? *gate : local;
    if (o.quality_gate && o.prune.any()) {
      gr.skipped = "the quality gate does not run with pruning (it would judge the unpruned model)";
      err << "encore-convert: warning: " << gr.skipped << "\n";
    } else if (o.quality_gate) {
      GateInputs gi{&ck, f32_model, &data, &md, o.threads, o.calibration, o.max_cosine_drop};
      ENCORE_RETURN_IF_ERROR(run_quality_gate(gi, &gr, out, err));
      md.layer_precision = gate_precision(gr);
      md.quality_gate = gr.figures;
    }
    ENCORE_ASSIGN_OR_RETURN(contents, int8_contents(ck, ranges, md, out));
    ENCORE_ASSIGN_OR_RETURN(bytes, serialize_model(contents));
    if (gr.ran) print_gate_summary(gr, bytes.size(), out);
  }
  if (o.prune.any() || !o.prune.eval.path.empty()) {
    out << (o.prune.any() ? "  pruning:\n" : "  evaluation:\n");
    // The mask only when the calibration rows are padded (ids without a mask stay as they were).
    const bool padded = std::find(data.mask.begin(), data.mask.end(), 0) != data.mask.end();
    PruneInputs inputs{&ck, f32_model, &data.ids, padded ? data.mask.data() : nullptr, data.n, data.seq};
    ENCORE_ASSIGN_OR_RETURN(contents, prune_model(o.prune, inputs, contents, out, err));
    ENCORE_ASSIGN_OR_RETURN(bytes, serialize_model(contents));
  }
  // Never write a file the runtime would refuse.
  {
    std::vector<uint8_t> copy = bytes;
    auto check = Model::load_from_memory(std::move(copy));
    if (!check.ok()) return check.status().with_context("internal error: the converted model does not load");
  }
  ENCORE_RETURN_IF_ERROR(file.write(bytes.data(), bytes.size()));
  ENCORE_RETURN_IF_ERROR(file.commit());
  out << "  size: model.safetensors" << (ck.source_shards > 1 ? cat(" (", ck.source_shards, " shards)") : "") << " "
      << megabytes(ck.source_bytes) << " (" << ck.source_dtype << ") -> "
      << o.output << " " << megabytes(bytes.size()) << " (" << std::fixed << std::setprecision(2)
      << double(ck.source_bytes) / double(bytes.size()) << "x smaller)\n";
  return Status::Ok();
}

}  // namespace encore::convert
