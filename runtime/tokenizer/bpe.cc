// BPE model of tokenizer.json (tokenizers/src/models/bpe/{model.rs, word.rs}): a word starts
// as its characters (continuing_subword_prefix on all but the first, end_of_word_suffix on the
// last; unknown ones become byte tokens <0xXX> with byte_fallback, else unk, fused when
// fuse_unk), then merges are applied lowest rank first (lowest position among equal ranks).
#include <cstdio>
#include <algorithm>

#include "tokenizer/vocab.h"

namespace encore::tok {
namespace {

class Bpe final : public Model {
 public:
  Bpe(const Json& j, const std::string& path) {
    if (const Json* d = optional(j, "dropout")) {
      if (!d->is_number()) fail_model(path + ".dropout: expected a number or null");
      if (d->get<double>() != 0.0) fail_unsupported(path + ".dropout: BPE dropout is not supported (must be null)");
    }
    auto opt_string = [&](const char* key) -> std::string {
      const Json* v = optional(j, key);
      if (!v) return "";
      if (!v->is_string()) fail_model(cat(path, ".", key, ": expected a string or null"));
      return v->get<std::string>();
    };
    unk_ = opt_string("unk_token");
    has_unk_ = optional(j, "unk_token") != nullptr;
    prefix_ = opt_string("continuing_subword_prefix");
    suffix_ = opt_string("end_of_word_suffix");
    fuse_unk_ = get_bool(j, "fuse_unk", false, path);
    byte_fallback_ = get_bool(j, "byte_fallback", false, path);
    ignore_merges_ = get_bool(j, "ignore_merges", false, path);
    vocab_.build(vocab_entries(field(j, "vocab", path), path + ".vocab"), path + ".vocab");

    const Json& merges = field(j, "merges", path);
    if (!merges.is_array()) fail_model(path + ".merges: expected an array");
    merges_.reserve(merges.size() * 2);
    std::string merged;
    for (size_t i = 0; i < merges.size(); ++i) {
      const Json& m = merges[i];
      std::string a, b;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
          fail_model(cat(path, ".merges[", i, "]: expected \"a b\", got \"", s, "\""));
        }
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      } else {
        fail_model(cat(path, ".merges[", i, "]: expected \"a b\" or [a, b]"));
      }
      const int32_t ia = vocab_.find(a), ib = vocab_.find(b);
      if (ia < 0) fail_model(cat(path, ".merges[", i, "]: \"", a, "\" is not in the vocabulary"));
      if (ib < 0) fail_model(cat(path, ".merges[", i, "]: \"", b, "\" is not in the vocabulary"));
      // model.rs cuts prefix_len bytes off b whether or not b starts with the prefix.
      if (b.size() < prefix_.size()) fail_model(cat(path, ".merges[", i, "]: \"", b, "\" is shorter than the prefix"));
      const size_t cut = prefix_.size();
      merged = a;
      merged.append(b, cut, std::string::npos);
      const int32_t id = vocab_.find(merged);
      if (id < 0) fail_model(cat(path, ".merges[", i, "]: \"", merged, "\" is not in the vocabulary"));
      merges_[key(ia, ib)] = {static_cast<int32_t>(i), id};
    }
    if (byte_fallback_) {
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        byte_ids_[b] = vocab_.find(name);
      }
    }
  }

  Status tokenize(std::string_view word, std::vector<Token>* out) const override {
    if (word.empty()) return Status::Ok();
    if (ignore_merges_) {
      const int32_t id = vocab_.find(word);
      if (id >= 0) {
        out->push_back({id, 0, static_cast<uint32_t>(word.size())});
        return Status::Ok();
      }
    }
    // Per-thread scratch: no allocation per word once warm (encode() may run on many threads).
    thread_local std::vector<Symbol> symbols;
    thread_local std::string buf;
    symbols.clear();
    auto add = [&](int32_t c, uint32_t len) {
      const int32_t n = static_cast<int32_t>(symbols.size());
      if (n > 0) symbols.back().next = n;
      symbols.push_back({c, n - 1, -1, len});
    };
    int32_t unk_id = -1;
    uint32_t unk_len = 0;
    bool have_unk = false;
    size_t i = 0;
    while (i < word.size()) {
      const size_t len = utf8_len_of_lead(static_cast<unsigned char>(word[i]));
      const bool first = i == 0, last = i + len >= word.size();
      buf.clear();
      if (!first) buf.append(prefix_);
      buf.append(word.data() + i, len);
      if (last) buf.append(suffix_);
      i += len;
      const int32_t id = vocab_.find(buf);
      if (id >= 0) {
        if (have_unk) {
          add(unk_id, unk_len);
          have_unk = false;
        }
        add(id, static_cast<uint32_t>(len));
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (char ch : buf) all = all && byte_ids_[static_cast<unsigned char>(ch)] >= 0;
        if (all) {
          for (char ch : buf) add(byte_ids_[static_cast<unsigned char>(ch)], 1);
          continue;
        }
      }
      if (has_unk_) {
        const int32_t uid = vocab_.find(unk_);
        if (uid < 0) return invalid_argument("BPE: the unk token \"" + unk_ + "\" is not in the vocabulary");
        if (have_unk && fuse_unk_) {
          unk_len += static_cast<uint32_t>(len);
        } else {
          if (have_unk) add(unk_id, unk_len);
          unk_id = uid;
          unk_len = static_cast<uint32_t>(len);
          have_unk = true;
        }
      }
    }
    if (have_unk) add(unk_id, unk_len);
    merge_all(&symbols);
    uint32_t pos = 0;
    for (const auto& s : symbols) {
      if (s.len == 0) continue;
      out->push_back({s.c, pos, pos + s.len});
      pos += s.len;
    }
    return Status::Ok();
  }

  int32_t token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }
  int32_t max_id() const override { return vocab_.max_id(); }

 private:
  struct Symbol {
    int32_t c, prev, next;
    uint32_t len;
  };
  struct Merge {
    size_t pos;
    int32_t rank, new_id;
    bool operator<(const Merge& o) const {  // max-heap order: top = lowest rank, then lowest pos
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  const std::pair<int32_t, int32_t>* find_merge(int32_t a, int32_t b) const {
    auto it = merges_.find(key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  // Word::merge_all without dropout.
  void merge_all(std::vector<Symbol>* sym) const {
    auto& s = *sym;
    thread_local std::vector<Merge> heap;  // std::push_heap / pop_heap: top = lowest rank, then pos
    heap.clear();
    auto push = [&](const Merge& m) {
      heap.push_back(m);
      std::push_heap(heap.begin(), heap.end());
    };
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      if (auto* m = find_merge(s[i].c, s[i + 1].c)) push({i, m->first, m->second});
    }
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end());
      const Merge top = heap.back();
      heap.pop_back();
      Symbol& cur = s[top.pos];
      if (cur.len == 0 || cur.next == -1) continue;
      const auto next_pos = static_cast<size_t>(cur.next);
      const Symbol right = s[next_pos];
      auto* m = find_merge(cur.c, right.c);
      if (!m || m->second != top.new_id) continue;
      cur.c = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      s[next_pos].len = 0;
      if (right.next > -1 && static_cast<size_t>(right.next) < s.size()) s[right.next].prev = static_cast<int32_t>(top.pos);
      if (cur.prev >= 0) {
        const Symbol& p = s[cur.prev];
        if (auto* pm = find_merge(p.c, cur.c)) push({static_cast<size_t>(cur.prev), pm->first, pm->second});
      }
      if (cur.next >= 0 && static_cast<size_t>(cur.next) < s.size()) {
        const Symbol& n = s[cur.next];
        if (auto* nm = find_merge(cur.c, n.c)) push({top.pos, nm->first, nm->second});
      }
    }
  }

  Vocab vocab_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (a, b) -> (rank, merged id)
  std::string unk_, prefix_, suffix_;
  bool has_unk_ = false, fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];
};

}  // namespace

std::unique_ptr<Model> make_bpe(const Json& j, const std::string& path) { return std::make_unique<Bpe>(j, path); }

}  // namespace encore::tok
