#include "text/heads_text.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace encore::text {

namespace {

// get_tag (token_classification.py): "B-X" -> (B, X), "I-X" -> (I, X), anything else -> (I, itself).
std::pair<char, std::string_view> get_tag(std::string_view label) {
  if (label.rfind("B-", 0) == 0) return {'B', label.substr(2)};
  if (label.rfind("I-", 0) == 0) return {'I', label.substr(2)};
  return {'I', label};
}

// group_sub_entities: entity_group = entities[0]["entity"].split("-", 1)[-1].
std::string group_label(std::string_view label) {
  const size_t dash = label.find('-');
  return std::string(dash == std::string_view::npos ? label : label.substr(dash + 1));
}

// Softmax of one row, in double.
void softmax(const float* x, int64_t n, std::vector<double>* p) {
  p->resize(static_cast<size_t>(n));
  const double top = *std::max_element(x, x + n);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += ((*p)[static_cast<size_t>(i)] = std::exp(double(x[i]) - top));
  for (double& v : *p) v /= total;
}

std::string_view slice(std::string_view text, int64_t start, int64_t end) {
  const auto n = static_cast<int64_t>(text.size());
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  return text.substr(static_cast<size_t>(start), static_cast<size_t>(end - start));
}

struct Tagged {
  int64_t token;
  size_t label;
  double score;
};

TokenEntity make_group(const std::vector<Tagged>& group, const std::vector<std::string>& labels,
                       const CharSpan* offsets, std::string_view text) {
  TokenEntity e;
  e.label = group_label(labels[group.front().label]);
  double sum = 0.0;
  for (const Tagged& t : group) sum += t.score;
  e.score = static_cast<float>(sum / double(group.size()));
  e.first_token = group.front().token;
  e.last_token = group.back().token;
  e.start = offsets[e.first_token].start;
  e.end = offsets[e.last_token].end;
  e.word = std::string(slice(text, e.start, e.end));
  return e;
}

}  // namespace

std::vector<TokenEntity> group_entities_simple(const float* logits, int64_t tokens,
                                               const std::vector<std::string>& labels, const CharSpan* offsets,
                                               const uint8_t* special, std::string_view text,
                                               const std::vector<std::string>& ignore_labels) {
  const auto L = static_cast<int64_t>(labels.size());
  std::vector<TokenEntity> groups;
  if (L == 0) return groups;
  std::vector<double> p;
  std::vector<Tagged> current;
  auto close = [&] {
    if (!current.empty()) groups.push_back(make_group(current, labels, offsets, text));
    current.clear();
  };
  for (int64_t t = 0; t < tokens; ++t) {
    if (special && special[t]) continue;  // gather_pre_entities skips special tokens
    softmax(logits + t * L, L, &p);
    const size_t best = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    const Tagged tagged{t, best, p[best]};
    if (!current.empty()) {
      const auto [bi, tag] = get_tag(labels[best]);
      const auto [last_bi, last_tag] = get_tag(labels[current.back().label]);
      if (!(tag == last_tag && bi != 'B')) close();
    }
    current.push_back(tagged);
  }
  close();
  // postprocess: entities whose entity_group is in ignore_labels are dropped.
  groups.erase(std::remove_if(groups.begin(), groups.end(),
                              [&](const TokenEntity& e) {
                                return std::find(ignore_labels.begin(), ignore_labels.end(), e.label) !=
                                       ignore_labels.end();
                              }),
               groups.end());
  return groups;
}

namespace {

// The characters of a span: token offsets, or with word ids the whole words of its first and last
// token (get_indices with align_to_words: word_to_chars of token_to_word).
CharSpan span_chars(const QaWindow& w, int64_t s, int64_t e) {
  CharSpan c{w.offsets[s].start, w.offsets[e].end};
  if (!w.word_ids || w.word_ids[s] < 0 || w.word_ids[e] < 0) return c;
  int64_t word_start = -1, word_end = -1;
  for (int64_t t = 0; t < w.tokens; ++t) {
    if (w.word_ids[t] == w.word_ids[s] && (word_start < 0 || w.offsets[t].start < word_start)) word_start = w.offsets[t].start;
    if (w.word_ids[t] == w.word_ids[e] && (word_end < 0 || w.offsets[t].end > word_end)) word_end = w.offsets[t].end;
  }
  return CharSpan{word_start, word_end};
}

// Softmax over every token of the window, tokens outside the context at logit -10000.
void masked_softmax(const float* logits, const uint8_t* context, int64_t n, std::vector<double>* p) {
  std::vector<float> masked(logits, logits + n);
  for (int64_t i = 0; i < n; ++i) {
    if (!context[i]) masked[static_cast<size_t>(i)] = -10000.0f;
  }
  softmax(masked.data(), n, p);
}

}  // namespace

std::vector<QaAnswer> select_answers(const std::vector<QaWindow>& windows, std::string_view context, int top_k,
                                     int max_answer_len, bool handle_impossible_answer) {
  std::vector<QaAnswer> answers;
  double min_null_score = 1000000.0;
  std::vector<double> ps, pe;
  const size_t k = static_cast<size_t>(std::max(top_k, 1));
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    const QaWindow& w = windows[wi];
    const int64_t n = w.tokens;
    if (n < 1) continue;
    masked_softmax(w.start_logits, w.context, n, &ps);
    masked_softmax(w.end_logits, w.context, n, &pe);
    if (handle_impossible_answer) min_null_score = std::min(min_null_score, ps[0] * pe[0]);
    ps[0] = pe[0] = 0.0;
    // decode_spans: every (s, e) of the upper band s <= e < s + max_answer_len (np.tril(np.triu)),
    // the top k by score over the whole [n, n] table (zeros outside the band included), ties by
    // flat index; then only spans whose both ends are context tokens.
    struct Cand {
      double score;
      int64_t flat;
    };
    std::vector<Cand> cands;
    cands.reserve(static_cast<size_t>(n * n));
    for (int64_t s = 0; s < n; ++s) {
      for (int64_t e = 0; e < n; ++e) {
        const bool in_band = e >= s && e - s <= static_cast<int64_t>(max_answer_len) - 1;
        cands.push_back({in_band ? ps[static_cast<size_t>(s)] * pe[static_cast<size_t>(e)] : 0.0, s * n + e});
      }
    }
    const size_t take = std::min(k, cands.size());
    std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(take), cands.end(),
                      [](const Cand& a, const Cand& b) { return a.score != b.score ? a.score > b.score : a.flat < b.flat; });
    for (size_t i = 0; i < take; ++i) {
      const int64_t s = cands[i].flat / n, e = cands[i].flat % n;
      if (!w.context[s] || !w.context[e]) continue;
      const CharSpan c = span_chars(w, s, e);
      QaAnswer a;
      a.score = static_cast<float>(cands[i].score);
      a.start = c.start;
      a.end = c.end;
      a.window = static_cast<int64_t>(wi);
      a.start_token = s;
      a.end_token = e;
      a.answer = std::string(slice(context, c.start, c.end));
      answers.push_back(std::move(a));
    }
  }
  if (handle_impossible_answer) {
    QaAnswer none;
    none.score = static_cast<float>(min_null_score);
    answers.push_back(none);
  }
  std::stable_sort(answers.begin(), answers.end(), [](const QaAnswer& a, const QaAnswer& b) { return a.score > b.score; });
  if (answers.size() > k) answers.resize(k);
  return answers;
}

std::vector<FillMaskCandidate> fill_mask_top_k(const float* logits, int64_t vocab, int top_k) {
  std::vector<FillMaskCandidate> out;
  if (vocab < 1 || top_k < 1) return out;
  std::vector<double> p;
  softmax(logits, vocab, &p);
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  const size_t take = std::min<size_t>(static_cast<size_t>(top_k), ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(take), ids.end(), [&](int32_t a, int32_t b) {
    return p[static_cast<size_t>(a)] != p[static_cast<size_t>(b)] ? p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)]
                                                                  : a < b;
  });
  for (size_t i = 0; i < take; ++i) out.push_back({ids[i], static_cast<float>(p[static_cast<size_t>(ids[i])])});
  return out;
}

}  // namespace encore::text
