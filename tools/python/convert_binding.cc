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

}  // namespace

void bind_convert(py::module_& m) {
  m.def(
      "_convert",
      [](const std::string& model_dir, const std::string& output, const std::string& quant, const std::string& calib,
         int threads, const std::string& head, int calib_sequences, int calib_length, const std::string& prune_heads,
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
        Status st;
        {
          py::gil_scoped_release nogil;
          st = convert::convert_model(o, report, err);
        }
        check(st);
        std::vector<std::string> warnings;
        for (const auto& line : tee.lines()) {
          const std::string marker = "warning: ";
          const size_t at = line.find(marker);
          if (at != std::string::npos) warnings.push_back(line.substr(at + marker.size()));
        }
        return py::make_tuple(report.str(), warnings);
      },
      py::arg("model_dir"), py::arg("output"), py::arg("quant"), py::arg("calib"), py::arg("threads"), py::arg("head"),
      py::arg("calib_sequences"), py::arg("calib_length"), py::arg("prune_heads"), py::arg("max_accuracy_drop"),
      py::arg("prune_ffn"), py::arg("eval"), py::arg("eval_labels"), py::arg("eval_mask"), py::arg("heldout"),
      py::arg("heldout_labels"), py::arg("heldout_mask"), py::arg("progress"));
}

}  // namespace encore::python
