#include "convert/quality_gate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "core/str.h"
#include "encore/session.h"

namespace encore::convert {

namespace {

constexpr int64_t kBatch = 8;

// Per-token mean, 1st percentile (nearest rank) and minimum.
struct Figures {
  double mean = 0.0, p1 = 0.0, min = 0.0;
};

Figures figures_of(std::vector<double> cos) {
  Figures f;
  if (cos.empty()) return f;
  std::sort(cos.begin(), cos.end());
  f.mean = std::accumulate(cos.begin(), cos.end(), 0.0) / double(cos.size());
  const size_t rank = static_cast<size_t>(std::ceil(0.01 * double(cos.size())));
  f.p1 = cos[rank > 0 ? rank - 1 : 0];
  f.min = cos.front();
  return f;
}

// The held-out rows' last hidden states, real tokens only, one after another.
Result<std::vector<float>> hidden_states(std::shared_ptr<const Model> model, const CalibrationSet& rows, int threads) {
  SessionOptions so;
  so.threads = threads;
  ENCORE_ASSIGN_OR_RETURN(auto session, Session::create(std::move(model), so));
  std::vector<float> states;
  for (int64_t start = 0; start < rows.n; start += kBatch) {
    const Inputs in = rows.rows(start, std::min(kBatch, rows.n - start));
    Outputs out;
    ENCORE_RETURN_IF_ERROR(session->run(in, &out));
    for (int64_t t = 0; t < in.batch * in.seq_len; ++t) {
      if (!in.attention_mask[t]) continue;
      states.insert(states.end(), out.last_hidden_state + t * out.hidden, out.last_hidden_state + (t + 1) * out.hidden);
    }
  }
  return states;
}

std::vector<double> token_cosines(const std::vector<float>& a, const std::vector<float>& b, size_t hidden) {
  std::vector<double> cos;
  for (size_t at = 0; at + hidden <= a.size(); at += hidden) {
    double dot = 0.0, na = 0.0, nb = 0.0;
    for (size_t i = at; i < at + hidden; ++i) {
      dot += double(a[i]) * b[i];
      na += double(a[i]) * a[i];
      nb += double(b[i]) * b[i];
    }
    cos.push_back(na > 0.0 && nb > 0.0 ? dot / std::sqrt(na * nb) : (na == nb ? 1.0 : 0.0));
  }
  return cos;
}

// One configuration's int8 model (calibrated on the tuning rows), its file size and figures.
class Trials {
 public:
  Trials(const GateInputs& in, const CalibrationRanges& ranges, const CalibrationSet& heldout, std::vector<float> ref)
      : in_(in), ranges_(ranges), heldout_(heldout), ref_(std::move(ref)) {}

  Result<std::shared_ptr<const Model>> model(const std::vector<LayerPrecision>& precision, uint64_t* bytes) const {
    ModelMetadata md = *in_.metadata;
    md.layer_precision = precision;
    std::ostringstream quiet;
    ENCORE_ASSIGN_OR_RETURN(ModelContents contents, int8_contents(*in_.checkpoint, ranges_, md, quiet));
    ENCORE_ASSIGN_OR_RETURN(std::vector<uint8_t> file, serialize_model(contents));
    if (bytes) *bytes = file.size();
    return Model::load_from_memory(std::move(file));
  }

  Result<Figures> measure(const std::vector<LayerPrecision>& precision) const {
    ENCORE_ASSIGN_OR_RETURN(auto m, model(precision, nullptr));
    ENCORE_ASSIGN_OR_RETURN(std::vector<float> states, hidden_states(m, heldout_, in_.threads));
    if (states.size() != ref_.size()) return internal_error("quality gate: held-out outputs differ in size");
    return figures_of(token_cosines(states, ref_, static_cast<size_t>(in_.checkpoint->config.hidden_size)));
  }

  // Median of 3 timed passes over the held-out rows on one thread (after one untimed pass).
  Result<double> milliseconds(const std::vector<LayerPrecision>& precision, uint64_t* bytes) const {
    ENCORE_ASSIGN_OR_RETURN(auto m, model(precision, bytes));
    ENCORE_ASSIGN_OR_RETURN(auto session, Session::create(m));
    std::vector<double> ms;
    for (int pass = 0; pass < 4; ++pass) {
      auto t0 = std::chrono::steady_clock::now();
      for (int64_t start = 0; start < heldout_.n; start += kBatch) {
        Outputs out;
        ENCORE_RETURN_IF_ERROR(session->run(heldout_.rows(start, std::min(kBatch, heldout_.n - start)), &out));
      }
      if (pass > 0) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[1];
  }

 private:
  const GateInputs& in_;
  const CalibrationRanges& ranges_;
  const CalibrationSet& heldout_;
  std::vector<float> ref_;
};

bool passes(const Figures& f, double drop) { return f.mean >= 1.0 - drop && f.p1 >= 1.0 - 10.0 * drop; }

std::string figures_str(const Figures& f) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(5) << "mean " << f.mean << ", 1st percentile " << f.p1 << ", min " << f.min;
  return s.str();
}

std::string block_name(const GateBlock& b) { return cat("layer ", b.layer, b.ffn ? " ffn" : " attention"); }

}  // namespace

std::vector<LayerPrecision> gate_precision(const QualityGateReport& report) {
  std::vector<LayerPrecision> p;
  bool any = false;
  for (const GateBlock& b : report.blocks) {
    if (static_cast<size_t>(b.layer) >= p.size()) p.resize(static_cast<size_t>(b.layer) + 1);
    (b.ffn ? p[static_cast<size_t>(b.layer)].ffn_f32 : p[static_cast<size_t>(b.layer)].attention_f32) = b.kept_f32;
    any |= b.kept_f32;
  }
  if (!any) p.clear();
  return p;
}

Status run_quality_gate(const GateInputs& in, QualityGateReport* report, std::ostream& out, std::ostream& err) {
  const CalibrationSet& data = *in.data;
  const int layers = in.checkpoint->config.layer_count;
  report->blocks.clear();
  for (int l = 0; l < layers; ++l) {
    for (bool ffn : {false, true}) report->blocks.push_back(GateBlock{l, ffn});
  }
  if (data.n < 4) {
    report->ran = false;
    report->skipped = cat("the quality gate needs at least 4 calibration sequences to hold one out; it has ", data.n);
    err << "encore-convert: warning: " << report->skipped << ", so it did not run\n";
    return Status::Ok();
  }
  const CalibrationSet tuning = data.subset([](int64_t r) { return r % 4 != 3; });
  const CalibrationSet heldout = data.subset([](int64_t r) { return r % 4 == 3; });
  const double drop = in.max_cosine_drop;
  out << "  quality gate: " << heldout.n << " of " << data.n << " calibration sequences held out ("
      << heldout.real_tokens(0, heldout.n) << " tokens); bound: mean per-token cosine >= " << std::fixed
      << std::setprecision(5) << 1.0 - drop << ", 1st percentile >= " << 1.0 - 10.0 * drop << "\n";
  ENCORE_ASSIGN_OR_RETURN(CalibrationRanges ranges, calibrate(in.f32_model, tuning, in.threads, nullptr, in.method));
  ENCORE_ASSIGN_OR_RETURN(std::vector<float> ref, hidden_states(in.f32_model, heldout, in.threads));
  const Trials trials(in, ranges, heldout, std::move(ref));

  std::vector<LayerPrecision> precision(static_cast<size_t>(layers));
  ENCORE_ASSIGN_OR_RETURN(const Figures int8, trials.measure({}));
  out << "    every block int8: " << figures_str(int8) << (passes(int8, drop) ? " (passes)" : " (misses the bound)")
      << "\n";
  Figures now = int8;
  if (!passes(int8, drop)) {
    for (GateBlock& b : report->blocks) {
      std::vector<LayerPrecision> alone(static_cast<size_t>(layers));
      (b.ffn ? alone[static_cast<size_t>(b.layer)].ffn_f32 : alone[static_cast<size_t>(b.layer)].attention_f32) = true;
      ENCORE_ASSIGN_OR_RETURN(const Figures f, trials.measure(alone));
      b.measured = true;
      b.mean_cosine_alone = f.mean;
      out << "    " << std::left << std::setw(22) << block_name(b) << std::right << " alone in f32: "
          << figures_str(f) << "\n" << std::flush;
    }
    std::vector<size_t> order(report->blocks.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return report->blocks[a].mean_cosine_alone > report->blocks[b].mean_cosine_alone;
    });
    for (size_t i : order) {
      GateBlock& b = report->blocks[i];
      b.kept_f32 = true;
      (b.ffn ? precision[static_cast<size_t>(b.layer)].ffn_f32 : precision[static_cast<size_t>(b.layer)].attention_f32) =
          true;
      ENCORE_ASSIGN_OR_RETURN(now, trials.measure(precision));
      out << "    keep " << std::left << std::setw(22) << block_name(b) << std::right << " in f32: " << figures_str(now)
          << "\n" << std::flush;
      if (passes(now, drop)) break;
    }
  }
  report->ran = true;
  QualityGateFigures& g = report->figures;
  g.ran = true;
  g.max_cosine_drop = drop;
  g.heldout_sequences = heldout.n;
  g.heldout_tokens = heldout.real_tokens(0, heldout.n);
  g.int8_mean_cosine = int8.mean;
  g.int8_p1_cosine = int8.p1;
  g.mean_cosine = now.mean;
  g.p1_cosine = now.p1;
  g.min_cosine = now.min;
  g.passed = passes(now, drop);
  const std::vector<LayerPrecision> chosen = gate_precision(*report);
  // The cost of the blocks kept in f32 (none to measure when every block stays int8).
  if (!chosen.empty()) {
    ENCORE_ASSIGN_OR_RETURN(report->int8_ms, trials.milliseconds({}, &report->int8_bytes));
    ENCORE_ASSIGN_OR_RETURN(report->ms, trials.milliseconds(chosen, &report->bytes));
  }
  if (!g.passed) {
    err << "encore-convert: warning: the quality gate could not reach its bound (" << figures_str(now)
        << ") even with every block in f32; the f16 word embeddings or the calibration set may be the cause\n";
  }
  return Status::Ok();
}

}  // namespace encore::convert
