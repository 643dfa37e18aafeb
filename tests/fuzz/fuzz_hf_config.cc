// libFuzzer target: bytes as a Hugging Face config.json (types, ranges, missing keys).
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)encore::io::parse_hf_config(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
