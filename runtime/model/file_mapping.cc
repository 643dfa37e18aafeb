#include "model/file_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/str.h"

namespace encore::internal {

Result<ModelBytes> ModelBytes::map_file(const std::string& path, uint64_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(cat(path, ": cannot open: ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return io_error(cat(path, ": cannot stat: ", std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error(cat(path, ": not a regular file"));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return invalid_model(cat(path, ": file is empty"));
  }
  if (size > max_size) {
    ::close(fd);
    return invalid_model(cat(path, ": file is ", size, " bytes, over the limit of ", max_size));
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) return io_error(cat(path, ": cannot mmap: ", std::strerror(err)));
  ModelBytes bytes;
  bytes.mapping_ = p;
  bytes.data_ = static_cast<const uint8_t*>(p);
  bytes.size_ = size;
  return bytes;
}

ModelBytes ModelBytes::from_vector(std::vector<uint8_t> v) {
  ModelBytes bytes;
  bytes.owned_ = std::move(v);
  bytes.data_ = bytes.owned_.data();
  bytes.size_ = bytes.owned_.size();
  return bytes;
}

ModelBytes::ModelBytes(ModelBytes&& o) noexcept
    : data_(o.data_), size_(o.size_), mapping_(o.mapping_), owned_(std::move(o.owned_)) {
  if (!mapping_) data_ = owned_.data();
  o.mapping_ = nullptr;
  o.data_ = nullptr;
  o.size_ = 0;
}

ModelBytes::~ModelBytes() {
  if (mapping_) ::munmap(mapping_, size_);
}

}  // namespace encore::internal
