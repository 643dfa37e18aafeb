#include "io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "core/checked_math.h"
#include "core/half.h"
#include "core/str.h"

namespace encore::io {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

// Bytes per element of each safetensors dtype; 0 for an unknown name.
size_t dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

Status read_at(FILE* f, uint64_t offset, void* out, size_t size, const std::string& path) {
  if (fseeko(f, static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(out, 1, size, f) != size) {
    return io_error(cat(path, ": read of ", size, " bytes at offset ", offset, " failed"));
  }
  return Status::Ok();
}

}  // namespace

uint64_t SafetensorsEntry::element_count() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0) return io_error(cat(path, ": cannot open: ", std::strerror(errno)));
  if (!S_ISREG(sb.st_mode)) return io_error(cat(path, ": not a regular file"));
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) return io_error(cat(path, ": cannot open: ", std::strerror(errno)));
  const uint64_t file_size = static_cast<uint64_t>(sb.st_size);
  auto bad = [&](const std::string& msg) { return invalid_model(cat(path, ": ", msg)); };
  if (file_size < 8) return bad(cat("file is ", file_size, " bytes, too short for a safetensors header"));
  uint8_t len_bytes[8];
  ENCORE_RETURN_IF_ERROR(read_at(f.get(), 0, len_bytes, 8, path));
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t(len_bytes[i]) << (8 * i);
  if (header_len > file_size - 8) return bad(cat("header length ", header_len, " exceeds the file size ", file_size));
  if (header_len > kMaxHeaderBytes) return bad(cat("header length ", header_len, " is over the 100 MB limit"));
  std::string header(static_cast<size_t>(header_len), '\0');
  ENCORE_RETURN_IF_ERROR(read_at(f.get(), 8, header.data(), header.size(), path));

  nlohmann::json j = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("the header is not valid JSON");
  if (!j.is_object()) return bad("the header is not a JSON object");

  SafetensorsFile file;
  file.path_ = path;
  const uint64_t data_start = 8 + header_len, data_size = file_size - data_start;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return bad("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) return bad(cat("__metadata__ value '", m.key(), "' is not a string"));
        file.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad_entry = [&](const std::string& msg) { return bad(cat("tensor '", name, "': ", msg)); };
    if (!v.is_object()) return bad_entry("entry is not an object");
    auto dt = v.find("dtype"), sh = v.find("shape"), off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return bad_entry("dtype missing or not a string");
    if (sh == v.end() || !sh->is_array()) return bad_entry("shape missing or not an array");
    if (off == v.end() || !off->is_array() || off->size() != 2) return bad_entry("data_offsets is not [begin, end]");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = dt->get<std::string>();
    const size_t item = dtype_size(e.dtype);
    if (item == 0) return unsupported(cat(path, ": tensor '", name, "' has unknown dtype '", e.dtype, "'"));
    if (sh->size() > 16) return bad_entry("more than 16 dimensions");
    uint64_t count = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) return bad_entry("shape holds something other than non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 40) || !checked_mul(count, dim, &count)) return bad_entry("shape is too large");
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned()) {
      return bad_entry("data_offsets are not non-negative integers");
    }
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    if (begin > end) return bad_entry(cat("data_offsets [", begin, ", ", end, "] are out of order"));
    if (end > data_size) {
      return bad_entry(cat("data_offsets end ", end, " is beyond the data block of ", data_size, " bytes"));
    }
    uint64_t bytes;
    if (!checked_mul(count, item, &bytes) || bytes != end - begin) {
      return bad_entry(cat("holds ", end - begin, " bytes but shape and dtype ", e.dtype, " need ", count, " x ", item));
    }
    e.data_begin = data_start + begin;
    e.data_size = bytes;
    file.entries_.push_back(std::move(e));
  }
  return file;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

Result<std::vector<float>> SafetensorsFile::read_f32(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) return not_found(cat(path_, ": no tensor named '", name, "'"));
  if (e->dtype != "F32" && e->dtype != "F16" && e->dtype != "BF16") {
    return unsupported(cat(path_, ": tensor '", name, "' has dtype ", e->dtype, "; expected F32, F16 or BF16"));
  }
  FilePtr f(std::fopen(path_.c_str(), "rb"));
  if (!f) return io_error(cat(path_, ": cannot open: ", std::strerror(errno)));
  std::vector<uint8_t> raw(static_cast<size_t>(e->data_size));
  ENCORE_RETURN_IF_ERROR(read_at(f.get(), e->data_begin, raw.data(), raw.size(), path_));
  const size_t n = static_cast<size_t>(e->element_count());
  std::vector<float> out(n);
  if (e->dtype == "F32") {
    if (!raw.empty()) std::memcpy(out.data(), raw.data(), raw.size());
  } else {
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = uint16_t(raw[2 * i] | (raw[2 * i + 1] << 8));
      if (e->dtype == "F16") {
        out[i] = half_to_float(h);
      } else {
        const uint32_t bits = uint32_t(h) << 16;
        std::memcpy(&out[i], &bits, 4);
      }
    }
  }
  return out;
}

namespace {
Result<uint64_t> file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return not_found(cat(path, ": not found"));
  return static_cast<uint64_t>(st.st_size);
}
}  // namespace

Result<SafetensorsCheckpoint> SafetensorsCheckpoint::open(const std::string& dir) {
  SafetensorsCheckpoint ck;
  const std::string single = dir + "/model.safetensors";
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;  // tensor -> shard file
  std::vector<std::string> shard_names;
  struct stat st {};
  if (::stat(single.c_str(), &st) == 0) {
    shard_names.push_back("model.safetensors");
  } else if (::stat(index_path.c_str(), &st) == 0) {
    std::FILE* f = std::fopen(index_path.c_str(), "rb");
    if (!f) return io_error(cat(index_path, ": cannot open: ", std::strerror(errno)));
    std::string text;
    char buf[65536];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return invalid_model(cat(index_path, ": not a JSON object"));
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object() || wm->empty()) {
      return invalid_model(cat(index_path, ": 'weight_map' is missing or empty"));
    }
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string()) return invalid_model(cat(index_path, ": weight_map['", it.key(), "'] is not a string"));
      const std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
        return invalid_model(cat(index_path, ": shard '", shard, "' is not a file name in the model directory"));
      }
      weight_map[it.key()] = shard;
      if (std::find(shard_names.begin(), shard_names.end(), shard) == shard_names.end()) shard_names.push_back(shard);
    }
  } else {
    return not_found(cat(single, ": not found"));
  }
  for (const std::string& name : shard_names) {
    const std::string path = dir + "/" + name;
    ENCORE_ASSIGN_OR_RETURN(uint64_t size, file_size(path));
    ENCORE_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::open(path));
    for (const auto& e : file.entries()) {
      if (!ck.file_of_.emplace(e.name, ck.files_.size()).second) {
        return invalid_model(cat(path, ": tensor '", e.name, "' is in another shard too"));
      }
      ck.entries_.push_back(e);
    }
    ck.bytes_ += size;
    ck.files_.push_back(std::move(file));
  }
  for (const auto& [tensor, shard] : weight_map) {
    auto it = ck.file_of_.find(tensor);
    if (it == ck.file_of_.end() || shard_names[it->second] != shard) {
      return invalid_model(cat(index_path, ": tensor '", tensor, "' is not in its shard ", shard));
    }
  }
  return ck;
}

const SafetensorsEntry* SafetensorsCheckpoint::find(const std::string& name) const {
  auto it = file_of_.find(name);
  return it == file_of_.end() ? nullptr : files_[it->second].find(name);
}

Result<std::vector<float>> SafetensorsCheckpoint::read_f32(const std::string& name) const {
  auto it = file_of_.find(name);
  if (it == file_of_.end()) return not_found(cat("tensor '", name, "' is not in the checkpoint"));
  return files_[it->second].read_f32(name);
}

}  // namespace encore::io
