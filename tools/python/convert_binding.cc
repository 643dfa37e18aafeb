// encore.convert's C++ half: ConvertOptions from keyword arguments, convert_model() with the
// GIL released, its progress and warnings on the process's stderr as the CLI prints them, and
// the report text and warnings returned to the Python half (encore/__init__.py builds the dict).
#include <pybind11/stl.h>

#include <iostream>
#include <sstream>
#include <streambuf>

#include "bindings.h"
#include "convert/converter.h"
#include "core/str.h"

namespace encore::python {
namespace {

// The converter's `err` stream: every line is kept (warnings are returned), and echoed to the
// process's stderr when progress is on.
class LineTee : public std::streambuf {
 public:
  explicit LineTee(bool echo) : echo_(echo) {}
  const std::vector<std::string>& lines() const { return lines_; }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return 0;
    const char ch = static_cast<char>(c);
    if (echo_) std::cerr.put(ch);
    if (ch == '\n') {
      lines_.push_back(line_);
      line_.clear();
      if (echo_) std::cerr.flush();
    } else {
      line_ += ch;
    }
    return c;
  }

 private:
  bool echo_;
  std::string line_;
  std::vector<std::string> lines_;
};

// The quality gate's decisions and figures; None when it did not run.
py::object gate_dict(const convert::QualityGateReport& gate) {
  if (!gate.ran) {
    if (gate.skipped.empty()) return py::none();
    py::dict d;
    d["ran"] = false;
    d["skipped"] = gate.skipped;
    return d;
  }
  const QualityGateFigures& f = gate.figures;
  py::dict d;
  d["ran"] = true;
  d["passed"] = f.passed;
  d["max_cosine_drop"] = f.max_cosine_drop;
  d["heldout_sequences"] = f.heldout_sequences;
  d["heldout_tokens"] = f.heldout_tokens;
  d["int8_mean_cosine"] = f.int8_mean_cosine;
  d["int8_p1_cosine"] = f.int8_p1_cosine;
  d["mean_cosine"] = f.mean_cosine;
  d["p1_cosine"] = f.p1_cosine;
  d["min_cosine"] = f.min_cosine;
  py::list kept;
  for (const convert::GateBlock& b : gate.blocks) {
    if (b.kept_f32) kept.append(py::make_tuple(b.layer, b.ffn ? "ffn" : "attention"));
  }
  d["f32_blocks"] = kept;
  d["int8_bytes"] = gate.int8_bytes;
  d["bytes"] = gate.bytes;
  d["int8_ms"] = gate.int8_ms;
  d["ms"] = gate.ms;
  return d;
}

}  // namespace

void bind_convert(py::module_& m) {
  m.def(
      "_convert",
      [](const std::string& model_dir, const std::string& output, const std::string& quant, const std::string& calib,
         const std::string& calib_mask, const std::string& calib_text, const std::string& calibration,
         bool quality_gate, double max_cosine_drop, int threads, const std::string& head, int calib_sequences, int calib_length, const std::string& prune_heads,
         double max_accuracy_drop, const py::object& prune_ffn, const std::string& eval, const std::string& eval_labels,
         const std::string& eval_mask, const std::string& heldout, const std::string& heldout_labels,
         const std::string& heldout_mask, bool progress) {
        convert::ConvertOptions o;
        o.model_dir = model_dir;
        o.output = output;
        if (quant != "int8" && quant != "f32") raise_status(invalid_argument(cat("quant: '", quant, "' is not int8 or f32")));
        o.int8 = quant == "int8";
        if (head != "auto" && head != "base") raise_status(invalid_argument(cat("head: '", head, "' is not auto or base")));
        o.base_only = head == "base";
        o.calib_path = calib;
        o.calib_mask_path = calib_mask;
        o.calib_text_path = calib_text;
        if (!convert::calibration_method_from_name(calibration, &o.calibration)) {
          raise_status(invalid_argument(cat("calibration: '", calibration, "' is not one of minmax, percentile, mse, auto")));
        }
        o.quality_gate = quality_gate;
        if (!(max_cosine_drop > 0.0 && max_cosine_drop < 1.0)) {
          raise_status(invalid_argument(cat("max_cosine_drop: ", max_cosine_drop, " is not in (0, 1)")));
        }
        o.max_cosine_drop = max_cosine_drop;
        if (threads < 1) raise_status(invalid_argument(cat("threads: ", threads, " (must be at least 1)")));
        o.threads = threads;
        if (calib_sequences < 1) raise_status(invalid_argument(cat("calib_sequences: ", calib_sequences, " (must be at least 1)")));
        if (calib_length < 1) raise_status(invalid_argument(cat("calib_length: ", calib_length, " (must be at least 1)")));
        o.synthetic_sequences = calib_sequences;
        o.synthetic_length = calib_length;
        auto& p = o.prune;
        p.heads = prune_heads;
        p.max_accuracy_drop = max_accuracy_drop;
        p.threads = threads;
        if (!prune_ffn.is_none()) {
          if (py::isinstance<py::str>(prune_ffn) && prune_ffn.cast<std::string>() == "auto") {
            p.ffn_auto = true;
          } else if (py::isinstance<py::float_>(prune_ffn) || py::isinstance<py::int_>(prune_ffn)) {
            p.ffn_fraction = prune_ffn.cast<double>();
            if (!(p.ffn_fraction >= 0.0 && p.ffn_fraction < 1.0)) {
              raise_status(invalid_argument(cat("prune_ffn: ", p.ffn_fraction, " is not a fraction in [0, 1)")));
            }
          } else {
            raise_status(invalid_argument("prune_ffn: expected 'auto' or a fraction in [0, 1)"));
          }
        }
        p.eval.path = eval;
        p.eval.labels_path = eval_labels;
        p.eval.mask_path = eval_mask;
        p.heldout.path = heldout;
        p.heldout.labels_path = heldout_labels;
        p.heldout.mask_path = heldout_mask;

        std::ostringstream report;
        LineTee tee(progress);
        std::ostream err(&tee);
        convert::QualityGateReport gate;
        Status st;
        {
          py::gil_scoped_release nogil;
          st = convert::convert_model(o, report, err, &gate);
        }
        check(st);
        std::vector<std::string> warnings;
        for (const auto& line : tee.lines()) {
          const std::string marker = "warning: ";
          const size_t at = line.find(marker);
          if (at != std::string::npos) warnings.push_back(line.substr(at + marker.size()));
        }
        return py::make_tuple(report.str(), warnings, gate_dict(gate));
      },
      py::arg("model_dir"), py::arg("output"), py::arg("quant"), py::arg("calib"), py::arg("calib_mask"),
      py::arg("calib_text"), py::arg("calibration"), py::arg("quality_gate"), py::arg("max_cosine_drop"),
      py::arg("threads"), py::arg("head"),
      py::arg("calib_sequences"), py::arg("calib_length"), py::arg("prune_heads"), py::arg("max_accuracy_drop"),
      py::arg("prune_ffn"), py::arg("eval"), py::arg("eval_labels"), py::arg("eval_mask"), py::arg("heldout"),
      py::arg("heldout_labels"), py::arg("heldout_mask"), py::arg("progress"));
}

}  // namespace encore::python
