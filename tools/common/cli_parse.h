// Command-line parsing shared by encore's tools: usage errors are one line on stderr.
#pragma once

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>
#include <string>

namespace encore::tools {

#ifndef ENCORE_VERSION
#error "ENCORE_VERSION comes from CMake (encore_tools_common)"
#endif

// Parses argv, with --version ("TOOL ENCORE_VERSION") added to every tool. Returns an exit code
// when the tool should stop now (help or version printed: 0; usage error printed as
// "TOOL: error: ...": 2), nothing when parsing succeeded.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, const char* tool) {
  app.set_version_flag("--version", std::string(tool) + " " + ENCORE_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << tool << ": error: " << e.what() << " (see " << tool << " --help)\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace encore::tools
