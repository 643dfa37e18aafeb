#include "analyze/attention_probe.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>

#include "core/str.h"
#include "text/text_batch.h"

namespace encore::analyze {

namespace {

std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
    out.push_back(line.substr(start, tab - start));
  }
  out.push_back(line.substr(start));
  return out;
}

// The token positions of `word`'s one whole-word occurrence in `text`. A word that occurs
// twice would make the position a guess, so it is an error; so is a word whose tokens were cut
// off by truncation.
Result<std::vector<int32_t>> word_tokens(const std::string& text, const std::string& word, const TextEncoding& e,
                                         const char* role) {
  if (word.empty()) return invalid_argument(cat("the ", role, " word is empty"));
  size_t found = std::string::npos;
  int occurrences = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    const size_t end = at + word.size();
    if ((at > 0 && word_char(text[at - 1])) || (end < text.size() && word_char(text[end]))) continue;
    if (occurrences++ == 0) found = at;
  }
  if (occurrences != 1) {
    return invalid_argument(cat("the ", role, " word '", word, "' occurs ", occurrences,
                                " times as a whole word in the text; it must occur once"));
  }
  std::vector<int32_t> positions;
  for (size_t t = 0; t < e.ids.size(); ++t) {
    if (e.special_tokens_mask[t]) continue;
    const TokenOffset& o = e.offsets[t];
    if (o.begin >= found && o.end <= found + word.size() && o.end > o.begin) positions.push_back(static_cast<int32_t>(t));
  }
  if (positions.empty()) {
    return invalid_argument(cat("the ", role, " word '", word, "' has no token (cut off by the model's maximum length?)"));
  }
  return positions;
}

}  // namespace

Result<ProbeSet> load_probe_set(const std::string& path, const Model& model) {
  if (model.tokenizer().empty()) {
    return invalid_argument(cat(path, ": the model has no tokenizer, so it cannot read the probe's texts"));
  }
  ENCORE_ASSIGN_OR_RETURN(auto batch, internal::TextBatch::create(model));
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(cat(path, ": cannot open"));
  ProbeSet set;
  std::string line;
  size_t line_no = 0;
  bool same_query = true;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::vector<std::string> f = split_tabs(line);
    if (f.size() != 4) {
      return invalid_argument(cat(path, ":", line_no, ": expected text<TAB>query<TAB>target<TAB>contrast, found ",
                                  f.size(), " fields"));
    }
    if (f[1] == f[2] || f[1] == f[3] || f[2] == f[3]) {
      return invalid_argument(cat(path, ":", line_no, ": the query, target and contrast words must differ"));
    }
    Status st = batch->encode({std::string_view(f[0])});
    if (!st.ok()) return st.with_context(cat(path, ":", line_no));
    const TextEncoding& e = batch->encodings()[0];
    ProbeText t;
    t.ids = e.ids;
    const char* roles[] = {"query", "target", "contrast"};
    std::vector<int32_t>* slots[] = {&t.query, &t.target, &t.contrast};
    for (int k = 0; k < 3; ++k) {
      auto positions = word_tokens(f[0], f[static_cast<size_t>(k) + 1], e, roles[k]);
      if (!positions.ok()) return positions.status().with_context(cat(path, ":", line_no));
      *slots[k] = std::move(positions).value();
    }
    if (set.texts.empty()) set.query_word = f[1];
    same_query = same_query && f[1] == set.query_word;
    set.texts.push_back(std::move(t));
  }
  if (in.bad()) return io_error(cat(path, ": read failed"));
  if (set.texts.empty()) return invalid_argument(cat(path, ": no texts"));
  if (!same_query) set.query_word.clear();
  set.name = cat(base_name(path), " (", set.texts.size(), " texts)");
  return set;
}

Result<ProbeReport> run_attention_probe(Session& session, const ProbeSet& set, std::ostream* progress) {
  const EncoderConfig& c = session.model().config();
  ProbeReport report;
  report.name = set.name;
  report.query_word = set.query_word;
  report.count = static_cast<int64_t>(set.texts.size());
  for (int l = 0; l < c.layer_count; ++l) {
    for (int h = 0; h < c.heads_in_layer(l); ++h) {
      report.heads.push_back(HeadAttention{l, h, session.head_masked(l, h), 0.0, 0.0, 0.0});
    }
  }
  for (const ProbeText& t : set.texts) {
    const int64_t n = static_cast<int64_t>(t.ids.size());
    Inputs in{1, n, t.ids.data(), nullptr, nullptr};
    Outputs out;
    ENCORE_RETURN_IF_ERROR(session.run(in, &out));
    size_t k = 0;
    for (int l = 0; l < c.layer_count; ++l) {
      const float* p = session.attention_probabilities(l);
      if (!p) return invalid_argument("attention probe: the session does not keep attention probabilities");
      for (int h = 0; h < c.heads_in_layer(l); ++h, ++k) {
        const float* block = p + static_cast<size_t>(h) * static_cast<size_t>(n * n);
        // The query's row (the mean of its tokens' rows), summed over each word's columns.
        auto mass = [&](const std::vector<int32_t>& keys) {
          double sum = 0.0;
          for (int32_t q : t.query) {
            for (int32_t key : keys) sum += block[static_cast<size_t>(q) * static_cast<size_t>(n) + static_cast<size_t>(key)];
          }
          return sum / static_cast<double>(t.query.size());
        };
        const double to_target = mass(t.target), to_contrast = mass(t.contrast);
        HeadAttention& a = report.heads[k];
        a.to_target += to_target;
        a.to_contrast += to_contrast;
        a.target_share += to_target > to_contrast ? 1.0 : (to_target == to_contrast ? 0.5 : 0.0);
      }
    }
  }
  for (HeadAttention& a : report.heads) {
    a.to_target /= static_cast<double>(report.count);
    a.to_contrast /= static_cast<double>(report.count);
    a.target_share /= static_cast<double>(report.count);
  }
  if (progress) *progress << "  attention probe: " << report.count << " texts\n" << std::flush;
  return report;
}

std::string probe_table(const ProbeReport& r, const EncoderConfig& c) {
  std::string out = cat("attention from ", r.query_word.empty() ? std::string("the query word") : "'" + r.query_word + "'",
                        " to the target vs the contrast word, on ", r.name, "\n");
  out += "\nlayer  head   to target   to contrast   target gets more\n";
  char line[160];
  for (const HeadAttention& a : r.heads) {
    if (a.masked) {
      std::snprintf(line, sizeof line, "%5d  %4d   (masked)\n", a.layer, c.original_head(a.layer, a.head));
    } else {
      std::snprintf(line, sizeof line, "%5d  %4d   %9.4f   %11.4f   %15.1f%%\n", a.layer, c.original_head(a.layer, a.head),
                    a.to_target, a.to_contrast, 100.0 * a.target_share);
    }
    out += line;
  }
  return out;
}

}  // namespace encore::analyze
