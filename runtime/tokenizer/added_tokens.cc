// Added tokens of tokenizer.json (tokenizers/src/tokenizer/added_vocabulary.rs): found in the
// text before the model sees it, leftmost-longest, "normalized": false ones in the raw text
// and "normalized": true ones in each normalized piece.
#include <algorithm>
#include <unordered_map>

#include "tokenizer/pipeline.h"

namespace encore::tok {

void AddedVocabulary::Trie::add(const std::string& s, int32_t token) {
  if (empty) {
    for (auto& r : root_next) r = -1;
    empty = false;
  }
  int32_t node = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    int32_t n = -1;
    if (node == 0) {
      n = root_next[c];
    } else {
      for (const auto& [b, x] : nodes[static_cast<size_t>(node)].next) {
        if (b == c) n = x;
      }
    }
    if (n < 0) {
      n = static_cast<int32_t>(nodes.size());
      nodes.emplace_back();
      if (node == 0) {
        root_next[c] = n;
      } else {
        auto& nx = nodes[static_cast<size_t>(node)].next;
        nx.insert(std::lower_bound(nx.begin(), nx.end(), std::make_pair(c, int32_t{-1})), {c, n});
      }
    }
    node = n;
  }
  // Two tokens with the same text: the later one wins (AHashMap insert).
  nodes[static_cast<size_t>(node)].token = token;
}

int32_t AddedVocabulary::Trie::longest_at(std::string_view s, size_t at, size_t* len) const {
  int32_t best = -1;
  int32_t node = root_next[static_cast<unsigned char>(s[at])];
  size_t i = at;
  while (node >= 0) {
    ++i;
    if (nodes[static_cast<size_t>(node)].token >= 0) {
      best = nodes[static_cast<size_t>(node)].token;
      *len = i - at;
    }
    if (i >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    int32_t n = -1;
    for (const auto& [b, x] : nodes[static_cast<size_t>(node)].next) {
      if (b == c) {
        n = x;
        break;
      }
      if (b > c) break;
    }
    node = n;
  }
  return best;
}

void AddedVocabulary::build(std::vector<AddedToken> tokens, const Model& model, const Normalizer* normalizer) {
  // added_vocabulary.rs add_tokens: the model's id when it has the content, else the next id.
  int32_t next_id = static_cast<int32_t>(model.vocab_size());
  std::unordered_map<std::string, int32_t> ids;  // content -> id of the tokens added so far
  for (auto& t : tokens) {
    if (t.content.empty()) continue;
    int32_t id = -1;
    if (auto it = ids.find(t.content); it != ids.end()) id = it->second;
    if (id < 0) id = model.token_to_id(t.content);
    if (id < 0) id = next_id++;
    t.id = id;
    ids[t.content] = id;
    std::string match = t.content;
    if (t.normalized && normalizer) {
      NormalizedString n = NormalizedString::from(t.content);
      normalizer->normalize(&n);
      match = n.text;
    }
    by_content_[t.content] = static_cast<int32_t>(tokens_.size());
    by_id_[id] = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(t);
    match_text_.push_back(match);
  }
  for (size_t k = 0; k < tokens_.size(); ++k) {
    if (match_text_[k].empty()) continue;
    (tokens_[k].normalized ? normalized_ : raw_).add(match_text_[k], static_cast<int32_t>(k));
  }
}

namespace {

bool ends_with_word(std::string_view s) {  // regex \w$
  if (s.empty()) return false;
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  size_t l = 0;
  return is_word_char(decode_utf8(s.data() + i, &l));
}

bool starts_with_word(std::string_view s) {  // regex ^\w
  if (s.empty()) return false;
  size_t l = 0;
  return is_word_char(decode_utf8(s.data(), &l));
}

}  // namespace

void AddedVocabulary::find_matches(std::string_view s, const Trie& trie, bool skip_special,
                                   std::vector<std::pair<int32_t, Offsets>>* out) const {
  out->clear();
  if (s.empty()) {
    out->push_back({-1, {0, 0}});
    return;
  }
  if (trie.empty) {
    out->push_back({-1, {0, static_cast<uint32_t>(s.size())}});
    return;
  }
  size_t start_offset = 0;
  size_t at = 0;
  while (at < s.size()) {
    size_t len = 0;
    const int32_t k = trie.longest_at(s, at, &len);
    if (k < 0) {
      ++at;
      continue;
    }
    size_t start = at, stop = at + len;
    at = stop;  // leftmost-longest, non-overlapping
    const AddedToken& t = tokens_[static_cast<size_t>(k)];
    if (skip_special && t.special) continue;
    if (t.single_word) {
      const bool start_space = start == 0 || !ends_with_word(s.substr(0, start));
      const bool stop_space = stop == s.size() || !starts_with_word(s.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) {
      // \s*$ on s[..start]: the leftmost start of the trailing whitespace run
      size_t b = start;
      while (b > 0) {
        size_t p = b - 1;
        while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
        size_t l = 0;
        if (!is_white_space(decode_utf8(s.data() + p, &l))) break;
        b = p;
      }
      start = std::max(b, start_offset);
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        size_t l = 0;
        if (!is_white_space(decode_utf8(s.data() + stop, &l))) break;
        stop += l;
      }
    }
    if (start_offset < start) out->push_back({-1, {static_cast<uint32_t>(start_offset), static_cast<uint32_t>(start)}});
    out->push_back({k, {static_cast<uint32_t>(start), static_cast<uint32_t>(stop)}});
    start_offset = stop;
  }
  if (start_offset != s.size()) {
    out->push_back({-1, {static_cast<uint32_t>(start_offset), static_cast<uint32_t>(s.size())}});
  }
}

void AddedVocabulary::split_with_indices(const NormalizedString& n, const Trie& trie, bool skip_special,
                                         std::vector<Split>* out) const {
  std::vector<std::pair<int32_t, Offsets>> matches;
  find_matches(n.text, trie, skip_special, &matches);
  for (const auto& [k, o] : matches) {
    Split s{n.slice(o.first, o.second), {}, false};
    if (k >= 0) {
      s.tokenized = true;
      s.tokens.push_back({tokens_[static_cast<size_t>(k)].id, 0, o.second - o.first, true});
    }
    if (s.n.text.empty()) continue;
    out->push_back(std::move(s));
  }
}

void AddedVocabulary::extract_and_normalize(std::string_view text, const Normalizer* normalizer, bool skip_special,
                                            std::vector<Split>* out) const {
  out->clear();
  NormalizedString root = NormalizedString::from(text);
  std::vector<Split> first;
  if (raw_.empty) {
    if (!root.text.empty()) first.push_back(Split{std::move(root), {}, false});
  } else {
    split_with_indices(root, raw_, skip_special, &first);
  }
  for (auto& s : first) {
    if (s.tokenized) {
      out->push_back(std::move(s));
      continue;
    }
    if (normalizer) normalizer->normalize(&s.n);
    if (normalized_.empty) {
      if (!s.n.text.empty()) out->push_back(std::move(s));
    } else {
      split_with_indices(s.n, normalized_, skip_special, out);
    }
  }
}

int32_t AddedVocabulary::token_to_id(std::string_view s) const {
  auto it = by_content_.find(std::string(s));
  return it == by_content_.end() ? -1 : tokens_[static_cast<size_t>(it->second)].id;
}

const std::string* AddedVocabulary::id_to_token(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[static_cast<size_t>(it->second)].content;
}

int32_t AddedVocabulary::max_id() const {
  int32_t m = -1;
  for (const auto& t : tokens_) m = std::max(m, t.id);
  return m;
}

}  // namespace encore::tok
