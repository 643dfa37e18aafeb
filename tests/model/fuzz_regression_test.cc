// Inputs the fuzzers once crashed on (tests/fuzz/regressions/), replayed as the fuzz target
// does: load, and if the model loads, run it. Under the sanitizer preset this is where a
// regression would show.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "encore/session.h"

namespace encore {
namespace {

TEST_CASE("fuzz regressions: every model_loader crasher now loads or fails cleanly") {
  const std::filesystem::path dir = std::filesystem::path(ENCORE_FIXTURES_DIR) / ".." / "fuzz" / "regressions" / "model_loader";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CAPTURE(entry.path().filename().string());
    ++files;
    auto model = Model::load_from_memory(bytes);
    if (!model.ok()) {
      CHECK(!model.status().message().empty());
      continue;
    }
    auto session = Session::create(*model);
    if (!session.ok()) continue;
    std::vector<int32_t> ids(3, 0), mask = {1, 1, 0};
    Inputs inputs{1, std::min<int64_t>(3, (*model)->config().max_positions), ids.data(), mask.data(), nullptr};
    Outputs out;
    (void)(*session)->run(inputs, &out);  // any status is fine; a crash or sanitizer report is not
  }
  CHECK(files >= 2);
}

}  // namespace
}  // namespace encore
