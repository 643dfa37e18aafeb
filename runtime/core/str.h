// Small string helpers for building error messages.
#pragma once

#include <sstream>
#include <string>

namespace encore {

// Concatenates anything streamable: cat("layer ", 3, ": ", name).
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace encore
