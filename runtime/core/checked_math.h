// Overflow-checked size arithmetic, for shapes and offsets that come from files.
#pragma once

#include <cstddef>
#include <cstdint>

namespace encore {

// Returns false (and leaves *out unspecified) when a * b overflows.
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

inline size_t round_up(size_t value, size_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace encore
