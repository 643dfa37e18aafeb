// Unigram model of tokenizer.json (tokenizers/src/models/unigram/model.rs, encode_optimized):
// Viterbi over the pieces' log-probabilities; a character no piece starts with gets the unk
// score (lowest score - 10); consecutive unk pieces are fused into one; with byte_fallback an
// unknown piece becomes its bytes <0xXX> when all of them are in the vocabulary.
#include <cstdio>
#include <limits>

#include "tokenizer/vocab.h"

namespace encore::tok {
namespace {

constexpr double kUnkPenalty = 10.0;

class Unigram final : public Model {
 public:
  Unigram(const Json& j, const std::string& path) {
    const Json& v = field(j, "vocab", path);
    if (!v.is_array()) fail_model(path + ".vocab: expected an array of [piece, score]");
    std::vector<std::pair<std::string, int64_t>> entries;
    entries.reserve(v.size());
    scores_.reserve(v.size());
    min_score_ = std::numeric_limits<double>::infinity();
    trie_.emplace_back();
    for (auto& r : root_) r = -1;
    for (size_t i = 0; i < v.size(); ++i) {
      const Json& e = v[i];
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number()) {
        fail_model(cat(path, ".vocab[", i, "]: expected [piece, score]"));
      }
      entries.emplace_back(e[0].get<std::string>(), static_cast<int64_t>(i));
      const double score = e[1].get<double>();
      scores_.push_back(score);
      if (score < min_score_) min_score_ = score;
      add_to_trie(entries.back().first, static_cast<int32_t>(i));
    }
    if (const Json* u = optional(j, "unk_id")) {
      const int64_t id = as_int(*u, path + ".unk_id");
      if (v.empty()) fail_model(path + ".vocab: empty, but unk_id is set");
      if (id < 0 || static_cast<size_t>(id) >= v.size()) fail_model(cat(path, ".unk_id: ", id, " is not in the vocabulary"));
      unk_id_ = static_cast<int32_t>(id);
    }
    byte_fallback_ = get_bool(j, "byte_fallback", false, path);
    vocab_.build(std::move(entries), path + ".vocab");
    if (byte_fallback_) {
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        byte_ids_[b] = vocab_.find(name);
      }
    }
  }

  Status tokenize(std::string_view s, std::vector<Token>* out) const override {
    const size_t size = s.size();
    if (size == 0) return Status::Ok();
    struct Node {
      int32_t id = 0;
      double score = 0;
      int64_t starts_at = -1;
    };
    thread_local std::vector<Node> best;
    best.assign(size + 1, Node{});
    const double unk_score = min_score_ - kUnkPenalty;
    size_t at = 0;
    while (at < size) {
      const double here = best[at].score;
      const size_t mblen = utf8_len_of_lead(static_cast<unsigned char>(s[at]));
      bool single = false;
      // common prefix search in the byte trie
      int32_t node = 0;
      for (size_t k = at; k < size; ++k) {
        node = child(node, static_cast<unsigned char>(s[k]));
        if (node < 0) break;
        const int32_t id = trie_[static_cast<size_t>(node)].piece;
        if (id < 0) continue;
        const size_t key_pos = k + 1;
        const double cand = scores_[static_cast<size_t>(id)] + here;
        Node& t = best[key_pos];
        if (t.starts_at < 0 || cand > t.score) {
          t.score = cand;
          t.starts_at = static_cast<int64_t>(at);
          t.id = id;
        }
        if (key_pos - at == mblen) single = true;
      }
      if (!single) {
        Node& t = best[at + mblen];
        const double cand = unk_score + here;
        if (t.starts_at < 0 || cand > t.score) {
          if (unk_id_ < 0) return invalid_argument("Unigram: an unknown piece needs unk_id, which is missing");
          t.score = cand;
          t.starts_at = static_cast<int64_t>(at);
          t.id = unk_id_;
        }
      }
      at += mblen;
    }
    // Back to front: pieces, with consecutive unk pieces fused.
    struct Piece {
      uint32_t begin, end;
      int32_t id;  // -1: fused unknown text, looked up as a string
    };
    thread_local std::vector<Piece> pieces;
    pieces.clear();
    size_t end = size;
    uint32_t fused_begin = 0;
    bool fusing = false;
    uint32_t fused_end = 0;
    while (end > 0) {
      const Node& n = best[end];
      const auto start = static_cast<uint32_t>(n.starts_at);
      if (n.id == unk_id_) {
        if (!fusing) fused_end = static_cast<uint32_t>(end);
        fusing = true;
        fused_begin = start;
      } else {
        if (fusing) pieces.push_back({fused_begin, fused_end, -1});
        fusing = false;
        pieces.push_back({start, static_cast<uint32_t>(end), n.id});
      }
      end = start;
    }
    if (fusing) pieces.push_back({fused_begin, fused_end, -1});
    for (size_t k = pieces.size(); k-- > 0;) {
      const uint32_t b = pieces[k].begin, e = pieces[k].end;
      const std::string_view piece = s.substr(b, e - b);
      const int32_t id = pieces[k].id >= 0 ? pieces[k].id : vocab_.find(piece);
      if (id >= 0) {
        out->push_back({id, b, e, false});
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (char ch : piece) all = all && byte_ids_[static_cast<unsigned char>(ch)] >= 0;
        if (all) {
          for (char ch : piece) out->push_back({byte_ids_[static_cast<unsigned char>(ch)], b, e, false});
          continue;
        }
      }
      if (unk_id_ < 0) return invalid_argument("Unigram: an unknown piece needs unk_id, which is missing");
      out->push_back({unk_id_, b, e, true});
    }
    return Status::Ok();
  }

  int32_t token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return scores_.size(); }
  int32_t max_id() const override { return static_cast<int32_t>(scores_.size()) - 1; }

 private:
  struct TrieNode {
    std::vector<std::pair<unsigned char, int32_t>> next;  // sorted by byte
    int32_t piece = -1;
  };
  int32_t child(int32_t node, unsigned char c) const {
    if (node == 0) return root_[c];
    const auto& nx = trie_[static_cast<size_t>(node)].next;
    for (const auto& [b, n] : nx) {
      if (b == c) return n;
      if (b > c) break;
    }
    return -1;
  }
  // A node holds the id of the last piece with its text, as token_to_ids (a map) does.
  void add_to_trie(const std::string& piece, int32_t id) {
    int32_t node = 0;
    for (char ch : piece) {
      const auto c = static_cast<unsigned char>(ch);
      int32_t n = child(node, c);
      if (n < 0) {
        n = static_cast<int32_t>(trie_.size());
        trie_.emplace_back();
        if (node == 0) {
          root_[c] = n;
        } else {
          auto& nx = trie_[static_cast<size_t>(node)].next;
          auto it = nx.begin();
          while (it != nx.end() && it->first < c) ++it;
          nx.insert(it, {c, n});
        }
      }
      node = n;
    }
    if (!piece.empty()) trie_[static_cast<size_t>(node)].piece = id;
  }

  Vocab vocab_;
  std::vector<double> scores_;
  double min_score_ = 0;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
  int32_t byte_ids_[256];
  std::vector<TrieNode> trie_;
  int32_t root_[256];
};

}  // namespace

std::unique_ptr<Model> make_unigram(const Json& j, const std::string& path) {
  return std::make_unique<Unigram>(j, path);
}

}  // namespace encore::tok
