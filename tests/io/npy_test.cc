// .npy reading and writing: round trips, numpy's own byte layouts, and malformed files.
#include <doctest/doctest.h>

#include <cstring>

#include "io/npy.h"
#include "io_test_util.h"

namespace encore::io {
namespace {

using testing::contains;
using testing::TempDir;

// An .npy file as numpy writes it: magic, version, little-endian header length, header.
std::string npy_bytes(int major, const std::string& dict, const std::string& data) {
  std::string header = dict;
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t unpadded = 6 + 2 + len_bytes + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(char(major));
  out.push_back(0);
  for (size_t i = 0; i < len_bytes; ++i) out.push_back(char((header.size() >> (8 * i)) & 0xff));
  return out + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

Result<NpyArray> parse(const std::string& bytes) {
  return parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.npy");
}

TEST_CASE("npy: float32 and int64 round trip through the writer, any rank") {
  TempDir dir;
  for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {5}, {2, 3}, {2, 1, 4}, {0, 3}}) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= uint64_t(d);
    std::vector<float> f(n);
    std::vector<int64_t> i(n);
    for (uint64_t k = 0; k < n; ++k) {
      f[k] = float(k) * 0.5f - 3.0f;
      i[k] = int64_t(k) * 1000000007LL - 5;
    }
    REQUIRE(write_npy_f32(dir.file("f.npy"), shape, f.data()).ok());
    REQUIRE(write_npy_i64(dir.file("i.npy"), shape, i.data()).ok());
    auto rf = read_npy(dir.file("f.npy"));
    auto ri = read_npy(dir.file("i.npy"));
    REQUIRE(rf.ok());
    REQUIRE(ri.ok());
    CHECK(rf->dtype == NpyDType::kFloat32);
    CHECK(ri->dtype == NpyDType::kInt64);
    CHECK(rf->shape == shape);
    CHECK(ri->shape == shape);
    CHECK(rf->floats == f);
    CHECK(ri->ints == i);
    CHECK(rf->element_count() == n);
  }
  // The data starts on a 64-byte boundary, as numpy lays it out.
  std::vector<float> one = {1.0f};
  REQUIRE(write_npy_f32(dir.file("one.npy"), {1}, one.data()).ok());
  CHECK((std::filesystem::file_size(dir.file("one.npy")) - 4) % 64 == 0);
}

TEST_CASE("npy: numpy's layouts parse, versions 1 and 2, int32 widened") {
  auto a = parse(npy_bytes(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }",
                           raw(std::vector<int32_t>{1, -2, 2147483647, -2147483647 - 1})));
  REQUIRE(a.ok());
  CHECK(a->dtype == NpyDType::kInt32);
  CHECK(a->ints == std::vector<int64_t>{1, -2, 2147483647, -2147483648LL});
  auto b = parse(npy_bytes(2, "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
                           raw(std::vector<float>{0.5f, -1.0f, 3.0f})));
  REQUIRE(b.ok());
  CHECK(b->shape == std::vector<int64_t>{3});
  CHECK(b->floats == std::vector<float>{0.5f, -1.0f, 3.0f});
  auto scalar = parse(npy_bytes(1, "{'descr': '<i8', 'fortran_order': False, 'shape': ()}",
                                raw(std::vector<int64_t>{42})));
  REQUIRE(scalar.ok());
  CHECK(scalar->shape.empty());
  CHECK(scalar->ints == std::vector<int64_t>{42});
}

TEST_CASE("npy: malformed files are errors naming the problem") {
  const std::string good_dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }";
  const std::string two = raw(std::vector<int64_t>{1, 2});
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  std::string bad_len = npy_bytes(1, good_dict, two);
  bad_len[8] = char(0xff);
  bad_len[9] = char(0xff);
  const Case cases[] = {
      {"empty", "", "not a NumPy .npy file"},
      {"bad magic", "\x93NUMPZ\x01\x00", "not a NumPy .npy file"},
      {"version 9", npy_bytes(1, good_dict, two).replace(6, 1, "\x09"), "unsupported .npy format version 9"},
      {"header longer than file", bad_len, "exceeds the file size"},
      {"float64", npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", two),
       "dtype '<f8' is not supported"},
      {"big-endian", npy_bytes(1, "{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }", two),
       "dtype '>i8' is not supported"},
      {"fortran order", npy_bytes(1, "{'descr': '<i8', 'fortran_order': True, 'shape': (2,), }", two),
       "Fortran"},
      {"data too short", npy_bytes(1, good_dict, two.substr(0, 12)), "needs 2 elements"},
      {"data too long", npy_bytes(1, good_dict, two + "x"), "needs 2 elements"},
      {"shape overflow",
       npy_bytes(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776, 1000), }", two),
       "shape overflows"},
      {"negative dim", npy_bytes(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (-2,), }", two),
       "non-negative integers"},
      {"missing key", npy_bytes(1, "{'descr': '<i8', 'shape': (2,), }", two), "missing"},
      {"not a dict", npy_bytes(1, "[1, 2]", two), "expected '{'"},
      {"unterminated", npy_bytes(1, "{'descr: <i8", two), "unterminated string"},
  };
  for (const Case& c : cases) {
    auto r = parse(c.bytes);
    INFO(c.what << ": " << r.status().message());
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.status().message(), c.message));
    CHECK(contains(r.status().message(), "x.npy"));
  }
}

TEST_CASE("npy: unreadable paths and failed writes leave nothing behind") {
  TempDir dir;
  auto r = read_npy(dir.file("missing.npy"));
  CHECK(r.status().code() == StatusCode::kIoError);
  CHECK(contains(r.status().message(), "missing.npy"));
  r = read_npy(dir.path.string());
  CHECK(contains(r.status().message(), "not a regular file"));
  std::vector<float> v = {1.0f};
  Status st = write_npy_f32(dir.file("no/such/dir/out.npy"), {1}, v.data());
  CHECK(st.code() == StatusCode::kIoError);
  CHECK(dir.names().empty());
}

}  // namespace
}  // namespace encore::io
