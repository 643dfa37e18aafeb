// Writes a file so that it either appears complete at its final path or not at all:
// data goes to "<path>.tmp-XXXXXX" in the same directory, commit() fsyncs and renames it,
// and the destructor removes the temporary file if commit() was never reached. The file gets
// the mode a plain new file would: 0666 less the process's umask.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

#include "encore/status.h"

namespace encore::io {

class AtomicFile {
 public:
  static Result<AtomicFile> create(const std::string& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();

  Status write(const void* data, size_t size);
  Status write_zeros(size_t size);
  uint64_t bytes_written() const { return written_; }
  Status commit();

 private:
  AtomicFile(std::string path, std::string tmp_path, FILE* file);
  std::string path_, tmp_path_;
  FILE* file_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace encore::io
