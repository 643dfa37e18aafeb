// A token <-> id table shared by the models: strings stored once, looked up by string_view.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/str.h"
#include "tokenizer/pipeline.h"

namespace encore::tok {

class Vocab {
 public:
  // `entries` are (token, id); ids must be >= 0 and not far sparser than the table (a hostile
  // id of 2^31 must not allocate gigabytes).
  void build(std::vector<std::pair<std::string, int64_t>> entries, const std::string& path) {
    strings_.reserve(entries.size());
    map_.reserve(entries.size() * 2);
    int64_t max_id = -1;
    for (auto& [token, id] : entries) {
      if (id < 0 || id > 0x7FFFFFFE) fail_model(cat(path, ": id ", id, " of \"", token, "\" is out of range"));
      if (id > max_id) max_id = id;
    }
    if (max_id >= static_cast<int64_t>(2 * entries.size() + 1024)) {
      fail_model(cat(path, ": ids are too sparse (largest ", max_id, " for ", entries.size(), " entries)"));
    }
    by_id_.assign(static_cast<size_t>(max_id + 1), -1);
    for (auto& [token, id] : entries) {
      strings_.push_back(std::move(token));
      const auto index = static_cast<int32_t>(strings_.size() - 1);
      map_[std::string_view(strings_.back())] = static_cast<int32_t>(id);
      by_id_[static_cast<size_t>(id)] = index;
    }
    size_ = map_.size();
    for (const auto& t : strings_) max_bytes_ = std::max(max_bytes_, t.size());
  }
  size_t max_token_bytes() const { return max_bytes_; }
  int32_t find(std::string_view s) const {
    auto it = map_.find(s);
    return it == map_.end() ? -1 : it->second;
  }
  const std::string* token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= by_id_.size() || by_id_[id] < 0) return nullptr;
    return &strings_[static_cast<size_t>(by_id_[id])];
  }
  size_t size() const { return size_; }
  int32_t max_id() const { return static_cast<int32_t>(by_id_.size()) - 1; }

 private:
  std::vector<std::string> strings_;  // never reallocated after build: map_ views into it
  std::unordered_map<std::string_view, int32_t> map_;
  std::vector<int32_t> by_id_;
  size_t size_ = 0;
  size_t max_bytes_ = 0;
};

// A JSON object {"token": id, ...} as Vocab entries.
inline std::vector<std::pair<std::string, int64_t>> vocab_entries(const Json& j, const std::string& path) {
  if (!j.is_object()) fail_model(path + ": expected an object of token: id");
  std::vector<std::pair<std::string, int64_t>> entries;
  entries.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    entries.emplace_back(it.key(), as_int(it.value(), path + "[\"" + it.key() + "\"]"));
  }
  return entries;
}

}  // namespace encore::tok
