#include "io/npy.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

#include "core/checked_math.h"
#include "core/str.h"
#include "io/atomic_file.h"

namespace encore::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kMaxHeader = 1 << 20;

// A tiny parser for the Python-literal dict numpy writes as the header:
// {'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : s_(text) {}

  Status parse(std::string* descr, bool* fortran, std::vector<int64_t>* shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_space();
    if (!consume('{')) return error("expected '{'");
    while (true) {
      skip_space();
      if (consume('}')) break;
      std::string key;
      ENCORE_RETURN_IF_ERROR(parse_string(&key));
      skip_space();
      if (!consume(':')) return error("expected ':' after '" + key + "'");
      skip_space();
      if (key == "descr") {
        ENCORE_RETURN_IF_ERROR(parse_string(descr));
        have_descr = true;
      } else if (key == "fortran_order") {
        if (s_.compare(pos_, 4, "True") == 0) {
          *fortran = true;
          pos_ += 4;
        } else if (s_.compare(pos_, 5, "False") == 0) {
          *fortran = false;
          pos_ += 5;
        } else {
          return error("fortran_order is not True or False");
        }
        have_fortran = true;
      } else if (key == "shape") {
        ENCORE_RETURN_IF_ERROR(parse_shape(shape));
        have_shape = true;
      } else {
        return error("unexpected key '" + key + "'");
      }
      skip_space();
      if (consume(',')) continue;
      skip_space();
      if (consume('}')) break;
      return error("expected ',' or '}'");
    }
    if (!have_descr || !have_fortran || !have_shape) return error("descr, fortran_order or shape missing");
    return Status::Ok();
  }

 private:
  Status error(const std::string& what) const { return invalid_argument("malformed header: " + what); }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  Status parse_string(std::string* out) {
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return error("expected a quoted string");
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == std::string::npos) return error("unterminated string");
    *out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return Status::Ok();
  }
  Status parse_shape(std::vector<int64_t>* shape) {
    shape->clear();
    if (!consume('(')) return error("shape is not a tuple");
    while (true) {
      skip_space();
      if (consume(')')) return Status::Ok();
      if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        return error("shape holds something other than non-negative integers");
      }
      int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        if (v > (int64_t{1} << 40)) return error("shape dimension is too large");
        v = v * 10 + (s_[pos_++] - '0');
      }
      if (shape->size() >= 32) return error("more than 32 dimensions");
      shape->push_back(v);
      skip_space();
      if (consume(',')) continue;
      skip_space();
      if (consume(')')) return Status::Ok();
      return error("expected ',' or ')' in shape");
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
};

uint32_t read_le(const uint8_t* p, size_t bytes) {
  uint32_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= uint32_t(p[i]) << (8 * i);
  return v;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  return s + ")";
}

Status write_npy(const std::string& path, const char* descr, size_t item, const std::vector<int64_t>& shape,
                 const void* data) {
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || !checked_mul(count, uint64_t(d), &count)) return invalid_argument(cat(path, ": invalid shape"));
  }
  std::string header = cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape_text(shape), ", }");
  // numpy's layout: magic + version + length + header, padded with spaces and ending in
  // '\n' so the data starts on a 64-byte boundary.
  const size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;
  header.append(round_up(unpadded, 64) - unpadded, ' ');
  header.push_back('\n');
  if (header.size() > 0xffff) return invalid_argument(cat(path, ": shape too long for an npy header"));
  ENCORE_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  const uint8_t prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(header.size() & 0xff),
                              uint8_t(header.size() >> 8)};
  ENCORE_RETURN_IF_ERROR(f.write(prefix, sizeof prefix));
  ENCORE_RETURN_IF_ERROR(f.write(header.data(), header.size()));
  ENCORE_RETURN_IF_ERROR(f.write(data, count * item));
  return f.commit();
}

}  // namespace

uint64_t NpyArray::element_count() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

Result<NpyArray> parse_npy(const uint8_t* data, size_t size, const std::string& what) {
  auto fail = [&](const std::string& msg) { return invalid_argument(cat(what, ": ", msg)); };
  if (size < kMagicSize + 2 || std::memcmp(data, kMagic, kMagicSize) != 0) return fail("not a NumPy .npy file");
  const uint8_t major = data[6];
  size_t len_bytes;
  if (major == 1) {
    len_bytes = 2;
  } else if (major == 2 || major == 3) {
    len_bytes = 4;
  } else {
    return fail(cat("unsupported .npy format version ", int(major), ".", int(data[7])));
  }
  const size_t prefix = kMagicSize + 2 + len_bytes;
  if (size < prefix) return fail("truncated header");
  const uint32_t header_len = read_le(data + kMagicSize + 2, len_bytes);
  if (header_len > kMaxHeader || header_len > size - prefix) {
    return fail(cat("header length ", header_len, " exceeds the file size ", size));
  }
  const std::string header(reinterpret_cast<const char*>(data + prefix), header_len);
  NpyArray a;
  std::string descr;
  bool fortran = false;
  Status st = HeaderParser(header).parse(&descr, &fortran, &a.shape);
  if (!st.ok()) return fail(st.message());
  size_t item;
  if (descr == "<i4" || descr == "=i4") {
    a.dtype = NpyDType::kInt32;
    item = 4;
  } else if (descr == "<i8" || descr == "=i8") {
    a.dtype = NpyDType::kInt64;
    item = 8;
  } else if (descr == "<f4" || descr == "=f4") {
    a.dtype = NpyDType::kFloat32;
    item = 4;
  } else {
    return unsupported(cat(what, ": dtype '", descr, "' is not supported (expected int32, int64 or float32)"));
  }
  if (fortran) return unsupported(cat(what, ": Fortran-ordered arrays are not supported (save a C-ordered copy)"));
  uint64_t count = 1;
  for (int64_t d : a.shape) {
    if (!checked_mul(count, uint64_t(d), &count)) return fail("shape overflows");
  }
  uint64_t bytes;
  const size_t available = size - prefix - header_len;
  if (!checked_mul(count, item, &bytes) || bytes != available) {
    return fail(cat("shape ", shape_text(a.shape), " needs ", count, " elements of ", item, " bytes but the file holds ",
                    available, " data bytes"));
  }
  const uint8_t* p = data + prefix + header_len;
  if (a.dtype == NpyDType::kFloat32) {
    a.floats.resize(count);
    if (bytes) std::memcpy(a.floats.data(), p, bytes);  // empty arrays have no data pointer
  } else if (a.dtype == NpyDType::kInt32) {
    a.ints.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      a.ints[i] = v;
    }
  } else {
    a.ints.resize(count);
    if (bytes) std::memcpy(a.ints.data(), p, bytes);
  }
  return a;
}

Result<NpyArray> read_npy(const std::string& path) {
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0) return io_error(cat(path, ": cannot open: ", std::strerror(errno)));
  if (!S_ISREG(sb.st_mode)) return io_error(cat(path, ": not a regular file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(cat(path, ": cannot open: ", std::strerror(errno)));
  // Arrays given to the tools are token ids and outputs; 4 GiB is far beyond any of them.
  if (static_cast<uint64_t>(sb.st_size) > (uint64_t{1} << 32)) return invalid_argument(cat(path, ": file is over 4 GiB"));
  std::vector<uint8_t> bytes(static_cast<size_t>(sb.st_size));
  if (!bytes.empty() && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    return io_error(cat(path, ": read failed"));
  }
  return parse_npy(bytes.data(), bytes.size(), path);
}

Status write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  return write_npy(path, "<f4", 4, shape, data);
}

Status write_npy_i64(const std::string& path, const std::vector<int64_t>& shape, const int64_t* data) {
  return write_npy(path, "<i8", 8, shape, data);
}

}  // namespace encore::io
