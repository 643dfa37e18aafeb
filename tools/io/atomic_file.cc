#include "io/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/str.h"

namespace encore::io {

namespace {
// The process's umask, read without changing it (Linux reports it in /proc/self/status; the
// umask() round trip is the fallback, racy only against files other threads create then).
mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
  }
  const mode_t mask = umask(0);
  umask(mask);
  return mask;
}
}  // namespace

Result<AtomicFile> AtomicFile::create(const std::string& path) {
  if (path.empty()) return invalid_argument("output path is empty");
  std::string tmp = path + ".tmp-XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0) return io_error(cat(path, ": cannot create the output file: ", std::strerror(errno)));
  tmp.assign(name.data());
  // mkstemp creates the file 0600; the finished file gets the mode any new file would
  // (0666 less the umask), as the shell's redirection or std::ofstream give.
  if (fchmod(fd, 0666 & ~current_umask()) != 0) {
    const int err = errno;
    close(fd);
    std::remove(tmp.c_str());
    return io_error(cat(path, ": cannot set the output file's mode: ", std::strerror(err)));
  }
  FILE* f = fdopen(fd, "wb");
  if (!f) {
    const int err = errno;
    close(fd);
    std::remove(tmp.c_str());
    return io_error(cat(path, ": cannot open the output file: ", std::strerror(err)));
  }
  return AtomicFile(path, std::move(tmp), f);
}

AtomicFile::AtomicFile(std::string path, std::string tmp_path, FILE* file)
    : path_(std::move(path)), tmp_path_(std::move(tmp_path)), file_(file) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_path_(std::move(other.tmp_path_)),
      file_(other.file_),
      written_(other.written_),
      committed_(other.committed_) {
  other.file_ = nullptr;
  other.committed_ = true;  // the moved-from object owns nothing to clean up
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_ && !tmp_path_.empty()) std::remove(tmp_path_.c_str());
}

Status AtomicFile::write(const void* data, size_t size) {
  if (!file_) return internal_error(cat(path_, ": write after commit"));
  if (size && std::fwrite(data, 1, size, file_) != size) {
    return io_error(cat(path_, ": write failed after ", written_, " bytes: ", std::strerror(errno)));
  }
  written_ += size;
  return Status::Ok();
}

Status AtomicFile::write_zeros(size_t size) {
  static const char kZeros[4096] = {};
  while (size > 0) {
    const size_t n = size < sizeof kZeros ? size : sizeof kZeros;
    ENCORE_RETURN_IF_ERROR(write(kZeros, n));
    size -= n;
  }
  return Status::Ok();
}

Status AtomicFile::commit() {
  if (!file_) return internal_error(cat(path_, ": commit called twice"));
  FILE* f = file_;
  file_ = nullptr;
  const bool flushed = std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  const int err = errno;
  if (std::fclose(f) != 0 || !flushed) {
    return io_error(cat(path_, ": cannot write the output file: ", std::strerror(flushed ? errno : err)));
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return io_error(cat(path_, ": cannot rename the finished file into place: ", std::strerror(errno)));
  }
  committed_ = true;
  return Status::Ok();
}

}  // namespace encore::io
