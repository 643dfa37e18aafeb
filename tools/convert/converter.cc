#include "convert/converter.h"

#include "encore/text_tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <limits>
#include <random>

#include "convert/quantizer.h"
#include "core/half.h"
#include "core/str.h"
#include "encore/session.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "model/format.h"

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

class RangeObserver : public ActivationObserver {
 public:
  explicit RangeObserver(CalibrationRanges* ranges) : ranges_(ranges) {}
  void observe(std::string_view name, const float* data, size_t rows, size_t cols, size_t stride) override {
    auto [it, inserted] = ranges_->try_emplace(std::string(name));
    ActivationRange& a = it->second;
    if (inserted) {
      a.lo = std::numeric_limits<float>::infinity();
      a.hi = -a.lo;
    }
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        a.lo = std::min(a.lo, data[r * stride + c]);
        a.hi = std::max(a.hi, data[r * stride + c]);
      }
    }
  }

 private:
  CalibrationRanges* ranges_;
};

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

}  // namespace

Result<CalibrationRanges> calibrate(std::shared_ptr<const Model> model, const std::vector<int32_t>& ids, int64_t n,
                                    int64_t seq, int threads, std::ostream* progress) {
  CalibrationRanges ranges;
  RangeObserver observer(&ranges);
  SessionOptions so;
  so.threads = threads;
  so.observer = &observer;
  ENCORE_ASSIGN_OR_RETURN(auto session, Session::create(std::move(model), so));
  const int64_t batch = 8;
  for (int64_t start = 0; start < n; start += batch) {
    Inputs in;
    in.batch = std::min(batch, n - start);
    in.seq_len = seq;
    in.input_ids = ids.data() + start * seq;
    Outputs out;
    Status st = session->run(in, &out);
    if (!st.ok()) return st.with_context(cat("calibration sequences ", start, "..", start + in.batch - 1));
    if (progress) *progress << "  calibrated " << start + in.batch << "/" << n << " sequences\n" << std::flush;
  }
  return ranges;
}

Result<ModelContents> int8_contents(const FloatCheckpoint& ck, const CalibrationRanges& ranges,
                                    const ModelMetadata& metadata, std::ostream& report) {
  ModelContents m;
  m.config = ck.config;
  m.quantized = true;
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
    return activation_params(name, it->second.lo, it->second.hi, symmetric);
  };

  report << "  layer  linear      SQNR dB  input range         output range\n";
  for (int l = 0; l < c.layer_count; ++l) {
    std::vector<ActivationRecord> acts;
    for (size_t p = 0; p < fmt::kActivationPointCount; ++p) {
      ENCORE_ASSIGN_OR_RETURN(auto a, act(l, p));
      acts.push_back(std::move(a));
    }
    // Each linear layer and the activation point feeding it.
    struct Linear { const char* name; size_t input; std::vector<size_t> outputs; };
    const Linear linears[] = {{"qkv", fmt::kQkvInput, {fmt::kQOutput, fmt::kKOutput, fmt::kVOutput}},
                              {"attn_out", fmt::kAttnOutInput, {fmt::kAttnOutOutput}},
                              {"ffn_up", fmt::kFfnUpInput, {fmt::kFfnUpOutput}},
                              {"ffn_down", fmt::kFfnDownInput, {fmt::kFfnDownOutput}}};
    for (const Linear& lin : linears) {
      const std::string base = fmt::layer_name(l, lin.name);
      const FloatTensor& w = tensor(base + ".weight");
      QuantizedRows q = quantize_rows_symmetric(w.values, w.shape[0], w.shape[1]);
      const std::vector<int32_t> bias = quantize_bias(tensor(base + ".bias").values, acts[lin.input].scale, q.scales);
      TensorData wt = make_i8_tensor(base + ".weight", w.shape, q.values);
      wt.scales = q.scales;
      wt.zero_points.assign(q.scales.size(), 0);
      m.tensors.push_back(std::move(wt));
      TensorData bt = make_i32_tensor(base + ".bias", {w.shape[0]}, bias);
      bt.scales.resize(q.scales.size());
      for (size_t i = 0; i < q.scales.size(); ++i) bt.scales[i] = acts[lin.input].scale * q.scales[i];
      bt.zero_points.assign(q.scales.size(), 0);
      m.tensors.push_back(std::move(bt));

      std::string outs;
      for (size_t o : lin.outputs) {
        outs += (outs.empty() ? "" : " ") + range_str({acts[o].observed_min, acts[o].observed_max});
      }
      report << "  " << std::setw(5) << l << "  " << std::left << std::setw(10) << lin.name << std::right
             << std::setw(8) << std::fixed << std::setprecision(1) << q.sqnr_db << "  " << std::left << std::setw(18)
             << range_str({acts[lin.input].observed_min, acts[lin.input].observed_max}) << std::right << "  " << outs
             << "\n";
    }
    for (auto& a : acts) m.activations.push_back(std::move(a));
  }
  return m;
}

namespace {

Result<std::vector<int32_t>> calibration_ids(const ConvertOptions& o, const FloatCheckpoint& ck, int64_t* n,
                                             int64_t* seq, std::string* summary, std::ostream& err) {
  const auto& c = ck.config;
  std::vector<int32_t> ids;
  if (!o.calib_path.empty()) {
    ENCORE_ASSIGN_OR_RETURN(io::NpyArray a, io::read_npy(o.calib_path));
    if (a.dtype == io::NpyDType::kFloat32 || a.shape.size() != 2 || a.shape[0] < 1 || a.shape[1] < 1) {
      return invalid_argument(cat(o.calib_path, ": calibration ids must be an int32/int64 array of shape [N, S]"));
    }
    *n = a.shape[0];
    *seq = a.shape[1];
    // The longest sequence the model takes: max positions, less pad_token_id + 1 for RoBERTa-likes.
    const int64_t longest = c.max_sequence_length();
    if (*seq > longest) {
      return out_of_range(cat(o.calib_path, ": sequence length ", *seq, " exceeds the model's maximum of ", longest));
    }
    ids.reserve(a.ints.size());
    for (size_t i = 0; i < a.ints.size(); ++i) {
      if (a.ints[i] < 0 || a.ints[i] >= c.vocab_size) {
        return out_of_range(cat(o.calib_path, ": token id ", a.ints[i], " at index ", i, " is outside [0, ",
                                c.vocab_size, ")"));
      }
      ids.push_back(static_cast<int32_t>(a.ints[i]));
    }
    *summary = cat("min/max over ", *n, " sequences x ", *seq, " tokens from ", o.calib_path);
    if (*seq < longest) {
      err << "encore-convert: warning: calibration sequences have " << *seq << " tokens but the model takes up to "
          << longest << "; activations at later positions were not observed, so longer inputs may lose "
          << "int8 accuracy.\n";
    }
    return ids;
  }
  *n = o.synthetic_sequences;
  *seq = std::min<int64_t>(o.synthetic_length, c.max_sequence_length());
  // Random tokens framed like real input: the tokenizer's special tokens around a text
  // ([CLS] ... [SEP], <s> ... </s>) when it has any.
  int32_t cls = -1, sep = -1;
  if (!ck.tokenizer.empty()) {
    auto tokenizer = ck.tokenizer.json.empty() ? TextTokenizer::from_wordpiece(ck.tokenizer)
                                               : TextTokenizer::create(ck.tokenizer.json);
    if (tokenizer.ok()) {
      auto framed = (*tokenizer)->encode("");
      if (framed.ok() && framed->ids.size() == 2) {
        cls = framed->ids[0];
        sep = framed->ids[1];
      }
    }
  }
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> token(0, c.vocab_size - 1);
  ids.resize(static_cast<size_t>(*n * *seq));
  for (int64_t r = 0; r < *n; ++r) {
    for (int64_t s = 0; s < *seq; ++s) ids[static_cast<size_t>(r * *seq + s)] = token(rng);
    if (cls >= 0) ids[static_cast<size_t>(r * *seq)] = cls;
    if (sep >= 0 && *seq > 1) ids[static_cast<size_t>(r * *seq + *seq - 1)] = sep;
  }
  err << "encore-convert: warning: no --calib given; calibrating on " << *n << " synthetic random-token sequences of "
      << *seq << " tokens. Pass --calib IDS.npy with token ids of real text for best int8 accuracy.\n";
  *summary = cat("min/max over ", *n, " synthetic random-token sequences x ", *seq, " tokens");
  return ids;
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

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Status convert_model(const ConvertOptions& o, std::ostream& out, std::ostream& err) {
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
  // The f32 model runs over the calibration ids for int8 scales and for FFN neuron statistics.
  int64_t n = 0, seq = 0;
  std::vector<int32_t> ids;
  std::shared_ptr<const Model> f32_model;
  if (o.int8 || o.prune.ffn_fraction > 0.0) {
    std::string summary;
    ENCORE_ASSIGN_OR_RETURN(ids, calibration_ids(o, ck, &n, &seq, &summary, err));
    if (o.int8) md.calibration = summary;
    std::vector<uint8_t> copy = bytes;
    ENCORE_ASSIGN_OR_RETURN(f32_model, Model::load_from_memory(std::move(copy)));
  }
  if (o.int8) {
    auto t0 = std::chrono::steady_clock::now();
    ENCORE_ASSIGN_OR_RETURN(CalibrationRanges ranges, calibrate(f32_model, ids, n, seq, o.threads, &err));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out << "  calibration: " << md.calibration << " (" << std::fixed << std::setprecision(1) << secs << " s)\n";
    out << "  kept in f32 (int8 would cost accuracy, or saves nothing): residual stream, LayerNorm, position and "
           "token-type embeddings, attention softmax, pooler, classifier"
        << (c.head == HeadKind::kMaskedLm ? ", the fill-mask head (its decoder runs with the f16 word embeddings "
                                            "widened to f32)"
            : c.has_token_head()          ? ", the per-token head"
                                          : "")
        << (c.has_sentence_embedding() ? ", sentence-transformers Dense modules" : "") << "\n";
    ENCORE_ASSIGN_OR_RETURN(contents, int8_contents(ck, ranges, md, out));
    ENCORE_ASSIGN_OR_RETURN(bytes, serialize_model(contents));
  }
  if (o.prune.any() || !o.prune.eval.path.empty()) {
    out << (o.prune.any() ? "  pruning:\n" : "  evaluation:\n");
    PruneInputs inputs{&ck, f32_model, &ids, n, seq};
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
