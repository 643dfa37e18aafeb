// AtomicFile: the file appears complete at its path or not at all.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "io/atomic_file.h"
#include "io_test_util.h"

namespace encore::io {
namespace {

using testing::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("AtomicFile: commit renames into place, before that only a temporary exists") {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  auto f = AtomicFile::create(path);
  REQUIRE(f.ok());
  REQUIRE(f->write("abc", 3).ok());
  REQUIRE(f->write_zeros(5000).ok());
  CHECK(f->bytes_written() == 5003);
  CHECK_FALSE(std::filesystem::exists(path));
  REQUIRE(dir.names().size() == 1);
  CHECK(dir.names()[0].rfind("out.bin.tmp-", 0) == 0);
  REQUIRE(f->commit().ok());
  const std::string data = read_all(path);
  CHECK(data.size() == 5003);
  CHECK(data.substr(0, 3) == "abc");
  CHECK(data.find_first_not_of('\0', 3) == std::string::npos);
  CHECK(dir.names() == std::vector<std::string>{"out.bin"});
  CHECK_FALSE(f->commit().ok());  // twice is an error, not a crash
}

TEST_CASE("AtomicFile: abandoned writes leave nothing, and an existing file is untouched") {
  TempDir dir;
  const std::string path = dir.file("keep.bin");
  testing::write_bytes(path, "old");
  {
    auto f = AtomicFile::create(path);
    REQUIRE(f.ok());
    REQUIRE(f->write("new data", 8).ok());
    AtomicFile moved(std::move(f).value());  // ownership moves; one cleanup
  }
  CHECK(read_all(path) == "old");
  CHECK(dir.names() == std::vector<std::string>{"keep.bin"});
}

TEST_CASE("AtomicFile: the finished file has the mode a new file gets under the umask") {
  TempDir dir;
  const mode_t saved = umask(0);
  for (mode_t mask : {mode_t{022}, mode_t{077}, mode_t{002}}) {
    umask(mask);
    const std::string path = dir.file("mode.bin");
    auto f = AtomicFile::create(path);
    REQUIRE(f.ok());
    REQUIRE(f->write("x", 1).ok());
    REQUIRE(f->commit().ok());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CAPTURE(mask);
    CHECK((st.st_mode & 0777) == (0666 & ~mask));
    std::filesystem::remove(path);
  }
  umask(saved);
}

TEST_CASE("AtomicFile: a missing directory is an I/O error naming the path") {
  TempDir dir;
  auto f = AtomicFile::create(dir.file("no/such/out.bin"));
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().code() == StatusCode::kIoError);
  CHECK(testing::contains(f.status().message(), "no/such/out.bin"));
  CHECK(AtomicFile::create("").status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace encore::io
