// libFuzzer target: bytes as a .safetensors checkpoint. The reader works on paths (it reads
// tensors lazily from the file), so each input is written to one scratch file per process;
// every tensor the header declares is then read back as float32.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "io/safetensors.h"

namespace {
const std::string& scratch_path() {
  static const std::string path = "/tmp/encore-fuzz-" + std::to_string(getpid()) + ".safetensors";
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(scratch_path().c_str(), "wb");
  if (!f) return 0;
  const bool written = std::fwrite(data, 1, size, f) == size;
  std::fclose(f);
  if (!written) return 0;
  auto file = encore::io::SafetensorsFile::open(scratch_path());
  if (!file.ok()) return 0;
  for (const auto& entry : file->entries()) (void)file->read_f32(entry.name);
  return 0;
}
