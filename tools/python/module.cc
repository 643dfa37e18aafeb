// _encore: the Python module over encore's C++ API (encore/__init__.py is its public face).
//
// One job per file: this one holds the module, its errors and the helpers the others share;
// model_bindings.cc the Model, session_bindings.cc the Session (ids and text),
// convert_binding.cc the converter. Every call that computes (conversion, a run, a text batch)
// releases the GIL; everything that touches a Python object holds it.
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "bindings.h"
#include "core/cpu_description.h"
#include "core/str.h"

namespace encore::python {
namespace {

// encore/__init__.py registers its exception classes here, one per StatusCode, before anything
// else runs (the module is private: _encore is imported only by the package).
py::dict& error_classes() {
  static py::dict* classes = new py::dict();  // lives as long as the interpreter's module
  return *classes;
}

// The keys encore/__init__.py's classes register under (their `code` attribute).
const char* code_key(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: break;
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kIoError: return "io_error";
    case StatusCode::kInvalidModel: return "invalid_model";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kOutOfRange: return "out_of_range";
    case StatusCode::kResourceExhausted: return "resource_exhausted";
    case StatusCode::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace

void raise_status(const Status& status) {
  py::dict& classes = error_classes();
  py::str key(code_key(status.code()));
  PyObject* cls = classes.contains(key) ? py::object(classes[key]).ptr() : PyExc_RuntimeError;
  PyErr_SetString(cls, status.message().c_str());
  throw py::error_already_set();
}

py::array_t<float> copy_array(const float* data, const std::vector<int64_t>& shape) {
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  py::array_t<float> out(dims);
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  if (n > 0) std::memcpy(out.mutable_data(), data, n * sizeof(float));
  return out;
}

std::vector<std::pair<size_t, size_t>> char_offsets(const std::string& text, const std::vector<uint32_t>& begins,
                                                    const std::vector<uint32_t>& ends) {
  std::vector<size_t> chars_before(text.size() + 1, 0);
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    chars_before[i] = n;
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
  }
  chars_before[text.size()] = n;
  std::vector<std::pair<size_t, size_t>> out(begins.size());
  for (size_t t = 0; t < begins.size(); ++t) {
    out[t] = {chars_before[std::min<size_t>(begins[t], text.size())], chars_before[std::min<size_t>(ends[t], text.size())]};
  }
  return out;
}

std::vector<std::string> text_list(const py::handle& texts, const char* what, bool* single) {
  if (single) *single = false;
  if (py::isinstance<py::str>(texts)) {
    if (single) *single = true;
    return {texts.cast<std::string>()};
  }
  if (py::isinstance<py::bytes>(texts) || !py::isinstance<py::sequence>(texts)) {
    raise_status(invalid_argument(cat(what, ": expected a str or a sequence of str, got ",
                                      std::string(py::str(texts.get_type().attr("__name__"))))));
  }
  std::vector<std::string> out;
  size_t i = 0;
  for (const py::handle item : texts) {
    if (!py::isinstance<py::str>(item)) {
      raise_status(invalid_argument(cat(what, "[", i, "]: expected a str, got ",
                                        std::string(py::str(item.get_type().attr("__name__"))))));
    }
    out.push_back(item.cast<std::string>());
    ++i;
  }
  return out;
}

}  // namespace encore::python

PYBIND11_MODULE(_encore, m) {
  namespace py = pybind11;
  using namespace encore::python;
  m.doc() = "encore's C++ runtime (use the encore package, not this module)";
  m.attr("__version__") = ENCORE_VERSION;
  m.def("_register_errors", [](py::dict classes) {
    for (auto item : classes) error_classes()[item.first] = item.second;
  });
  m.def("describe_cpu", [] {
    const encore::CpuDescription cpu = encore::describe_cpu();
    py::dict d;
    d["name"] = cpu.name;
    d["uarch"] = cpu.uarch;
    d["cores"] = cpu.cores;
    py::list simd;
    std::istringstream features(cpu.simd);
    for (std::string f; features >> f;) simd.append(f);
    d["simd"] = simd;
    d["summary"] = encore::to_string(cpu);
    return d;
  });
  bind_model(m);
  bind_session(m);
  bind_convert(m);
}
