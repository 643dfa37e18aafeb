// Shared by the end-to-end golden tests: fixtures written by tools/reference (PyTorch), converted
// with encore-convert's pipeline and run through a session.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "convert/converter.h"
#include "encore/session.h"
#include "io/npy.h"

namespace encore::e2e {

namespace fs = std::filesystem;

inline std::string fixture(const std::string& name) { return std::string(ENCORE_FIXTURES_DIR) + "/" + name; }

inline io::NpyArray npy(const std::string& path) {
  auto a = io::read_npy(path);
  INFO(path << ": " << (a.ok() ? "" : a.status().message()));
  REQUIRE(a.ok());
  return std::move(a).value();
}

inline std::vector<int32_t> as_i32(const io::NpyArray& a) { return std::vector<int32_t>(a.ints.begin(), a.ints.end()); }

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/encore-e2e-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

// The fixture converted (int8 calibrated on its calib_ids.npy) and loaded.
// Converts as encore-convert would with these options and loads the result; both must succeed.
inline std::shared_ptr<const Model> convert_and_load(const convert::ConvertOptions& o) {
  std::ostringstream out, err;
  Status st = convert::convert_model(o, out, err);
  INFO(st.message());
  REQUIRE(st.ok());
  auto m = Model::load(o.output);
  REQUIRE(m.ok());
  return m.value();
}

inline std::shared_ptr<const Model> convert_fixture(const std::string& name, bool int8, const TempDir& dir) {
  convert::ConvertOptions o;
  o.model_dir = fixture(name);
  o.output = (dir.path / (name + (int8 ? ".int8.encore" : ".f32.encore"))).string();
  o.int8 = int8;
  if (int8) o.calib_path = fixture(name) + "/calib_ids.npy";
  if (int8 && fs::exists(fixture(name) + "/calib_mask.npy")) o.calib_mask_path = fixture(name) + "/calib_mask.npy";
  return convert_and_load(o);
}

// One run on a fixture's inputs (PREFIXinput_ids.npy, attention_mask, and token_type_ids when
// the fixture has them); the outputs stay in the session.
struct Run {
  Outputs out;
  std::unique_ptr<Session> session;
  io::NpyArray ids, mask, types;
};

inline void run_inputs(std::shared_ptr<const Model> model, const std::string& dir, const std::string& prefix, Run* r) {
  r->ids = npy(dir + "/" + prefix + "input_ids.npy");
  r->mask = npy(dir + "/" + prefix + "attention_mask.npy");
  const bool has_types = fs::exists(dir + "/" + prefix + "token_type_ids.npy");
  if (has_types) r->types = npy(dir + "/" + prefix + "token_type_ids.npy");
  auto s = Session::create(std::move(model));
  REQUIRE(s.ok());
  r->session = std::move(s).value();
  std::vector<int32_t> ids = as_i32(r->ids), mask = as_i32(r->mask), types = as_i32(r->types);
  Inputs in{r->ids.shape[0], r->ids.shape[1], ids.data(), mask.data(), has_types ? types.data() : nullptr};
  Status st = r->session->run(in, &r->out);
  INFO(st.message());
  REQUIRE(st.ok());
}

}  // namespace encore::e2e
