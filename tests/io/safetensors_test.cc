// safetensors: dtype conversion from known bit patterns, and every malformed header rejected.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "io/safetensors.h"
#include "io_test_util.h"

namespace encore::io {
namespace {

using testing::contains;
using testing::TempDir;

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char((v >> (8 * i)) & 0xff);
  return s;
}

std::string u16le(std::initializer_list<uint16_t> values) {
  std::string s;
  for (uint16_t v : values) {
    s.push_back(char(v & 0xff));
    s.push_back(char(v >> 8));
  }
  return s;
}

std::string file_bytes(const std::string& header, const std::string& data) { return u64le(header.size()) + header + data; }

Result<SafetensorsFile> open_bytes(const TempDir& dir, const std::string& bytes) {
  testing::write_bytes(dir.file("m.safetensors"), bytes);
  return SafetensorsFile::open(dir.file("m.safetensors"));
}

TEST_CASE("safetensors: F32, F16 and BF16 read as float32 exactly") {
  TempDir dir;
  const float f32[] = {1.5f, -0.25f, 3e-39f};
  std::string f32_bytes(reinterpret_cast<const char*>(f32), sizeof f32);
  // F16: 1.0, -2.0, 2^-24 (smallest subnormal), 2^-15 (a subnormal), 65504 (max), +inf.
  std::string f16 = u16le({0x3C00, 0xC000, 0x0001, 0x0200, 0x7BFF, 0x7C00});
  // BF16: 1.0, -2.0, 3.140625 (0x4049).
  std::string bf16 = u16le({0x3F80, 0xC000, 0x4049});
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
      R"("b":{"dtype":"F16","shape":[2,3],"data_offsets":[12,24]},)"
      R"("c":{"dtype":"BF16","shape":[3],"data_offsets":[24,30]},)"
      R"("ids":{"dtype":"I64","shape":[1],"data_offsets":[30,38]},)"
      R"("__metadata__":{"format":"pt"}})";
  auto f = open_bytes(dir, file_bytes(header, f32_bytes + f16 + bf16 + u64le(7)));
  INFO(f.status().message());
  REQUIRE(f.ok());
  REQUIRE(f->entries().size() == 4);
  CHECK(f->entries()[0].name == "a");
  CHECK(f->metadata().at("format") == "pt");
  CHECK(f->find("b")->shape == std::vector<int64_t>{2, 3});
  CHECK(f->find("missing") == nullptr);

  auto a = f->read_f32("a");
  REQUIRE(a.ok());
  CHECK(*a == std::vector<float>{1.5f, -0.25f, 3e-39f});
  auto b = f->read_f32("b");
  REQUIRE(b.ok());
  CHECK((*b)[0] == 1.0f);
  CHECK((*b)[1] == -2.0f);
  CHECK((*b)[2] == std::ldexp(1.0f, -24));
  CHECK((*b)[3] == std::ldexp(1.0f, -15));
  CHECK((*b)[4] == 65504.0f);
  CHECK((*b)[5] == std::numeric_limits<float>::infinity());
  auto c = f->read_f32("c");
  REQUIRE(c.ok());
  CHECK(*c == std::vector<float>{1.0f, -2.0f, 3.140625f});

  auto ids = f->read_f32("ids");
  CHECK(ids.status().code() == StatusCode::kUnsupported);
  CHECK(contains(ids.status().message(), "I64"));
  CHECK(f->read_f32("nope").status().code() == StatusCode::kNotFound);
}

TEST_CASE("safetensors: F16 NaN stays NaN") {
  TempDir dir;
  auto f = open_bytes(dir, file_bytes(R"({"n":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", u16le({0x7E00})));
  REQUIRE(f.ok());
  CHECK(std::isnan((*f->read_f32("n"))[0]));
}

TEST_CASE("safetensors: malformed files are rejected with the reason") {
  TempDir dir;
  const std::string d8(8, '\0');
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  const Case cases[] = {
      {"too short", "abc", "too short"},
      {"header length beyond file", u64le(1000) + "{}", "exceeds the file size"},
      {"header length absurd", u64le(~0ull) + "{}", "exceeds the file size"},
      {"not json", file_bytes("{not json", ""), "not valid JSON"},
      {"not an object", file_bytes("[1,2]", ""), "not a JSON object"},
      {"entry not object", file_bytes(R"({"a":3})", ""), "entry is not an object"},
      {"no dtype", file_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", d8), "dtype missing"},
      {"unknown dtype", file_bytes(R"({"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}})", d8),
       "unknown dtype 'F7'"},
      {"shape not array", file_bytes(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", d8), "shape missing"},
      {"negative dim", file_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8),
       "non-negative integers"},
      {"float dim", file_bytes(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", d8),
       "non-negative integers"},
      {"offsets not pair", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", d8),
       "data_offsets is not [begin, end]"},
      {"offsets reversed", file_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", d8),
       "out of order"},
      {"end beyond data", file_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", d8),
       "beyond the data block"},
      {"size mismatch", file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8),
       "holds 8 bytes"},
      {"shape overflow",
       file_bytes(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})", d8),
       "too large"},
      {"metadata not strings", file_bytes(R"({"__metadata__":{"k":1}})", ""), "is not a string"},
  };
  for (const Case& c : cases) {
    auto f = open_bytes(dir, c.bytes);
    INFO(c.what << ": " << f.status().message());
    REQUIRE_FALSE(f.ok());
    CHECK(contains(f.status().message(), c.message));
    CHECK(contains(f.status().message(), "m.safetensors"));
  }
  auto missing = SafetensorsFile::open(dir.file("none.safetensors"));
  CHECK(missing.status().code() == StatusCode::kIoError);
}

}  // namespace
}  // namespace encore::io
