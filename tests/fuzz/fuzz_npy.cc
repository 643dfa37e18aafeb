// libFuzzer target: bytes as a NumPy .npy file (the token id inputs of encore-run).
#include <cstddef>
#include <cstdint>

#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)encore::io::parse_npy(data, size, "fuzz.npy");
  return 0;
}
