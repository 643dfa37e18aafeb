// What the files of the Python module (_encore) share: turning a Status into the Python
// exception of its code, and NumPy arrays in and out.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "encore/status.h"

namespace encore::python {

namespace py = pybind11;

// Raises the exception class registered for `status.code()` (encore/__init__.py defines them:
// encore.Error and one subclass per code) with the status's one-line message. Call with the
// GIL held; never returns.
[[noreturn]] void raise_status(const Status& status);

inline void check(const Status& status) {
  if (!status.ok()) raise_status(status);
}

template <typename T>
T take(Result<T>&& result) {
  if (!result.ok()) raise_status(result.status());
  return std::move(result).value();
}

// A new float32 array of `shape` holding a copy of `data` (row-major): outputs are owned by
// Python, never views of buffers the next run overwrites.
py::array_t<float> copy_array(const float* data, const std::vector<int64_t>& shape);

// Code-point offsets of byte offsets into `text` (valid UTF-8: the tokenizer checked it), as
// Python strings index, and as Hugging Face's Python tokenizers report them.
std::vector<std::pair<size_t, size_t>> char_offsets(const std::string& text, const std::vector<uint32_t>& begins,
                                                    const std::vector<uint32_t>& ends);

// Texts from a Python str (one text) or a sequence of str; `single` tells which it was.
std::vector<std::string> text_list(const py::handle& texts, const char* what, bool* single = nullptr);

void bind_model(py::module_& m);
void bind_session(py::module_& m);
void bind_convert(py::module_& m);

}  // namespace encore::python
