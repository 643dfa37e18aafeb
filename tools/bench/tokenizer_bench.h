// encore-bench --tokenizer: throughput of a TextTokenizer on English texts, one text at a time on
// one thread, and optionally the cost of tokenization next to a model's inference on the same
// texts. tools/bench/tokenizer_js.js measures @huggingface/tokenizers the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_report.h"
#include "encore/session.h"
#include "encore/text_tokenizer.h"

namespace encore::bench {

// The built-in corpus: the regular files of `dir` (Debian's /usr/share/common-licenses; symlinks
// such as GPL -> GPL-3 skipped so no text counts twice), in name order, each split into
// paragraphs of `words` whitespace-separated words joined by single spaces (the last, shorter
// paragraph of a file included). kNotFound when the directory holds no text.
Result<std::vector<std::string>> license_corpus(const std::string& dir, size_t words);

// `text` split at whitespace into paragraphs of `words` words, joined by single spaces.
std::vector<std::string> split_paragraphs(const std::string& text, size_t words);

// One text per line (a trailing \r dropped; blank lines are empty texts).
Result<std::vector<std::string>> read_texts(const std::string& path);

// Each text cut to its longest prefix of whole words whose encoding, special tokens included,
// has at most `max_tokens` tokens (at least one word is kept). For "a 128-token text".
Result<std::vector<std::string>> fit_to_tokens(const TextTokenizer& tokenizer, const std::vector<std::string>& texts,
                                               size_t max_tokens);

// The tokenizer to measure: a tokenizer.json file, or an .encore model's stored tokenizer.
struct LoadedTokenizer {
  std::unique_ptr<TextTokenizer> tokenizer;
  std::string kind;  // the tokenizer.json model type (WordPiece / BPE / Unigram), or "model"
};
Result<LoadedTokenizer> load_tokenizer(const std::string& path);

// Passes over all texts: one untimed pass first (it also counts the tokens), then timed passes
// until both `min_passes` and `min_time_s` are reached. Rates use the median pass.
struct CorpusTiming {
  size_t texts = 0, bytes = 0, tokens = 0;  // per pass; tokens include the special tokens
  TimingStats passes;                       // ms per pass over all texts
  double total_s = 0;                       // time spent in timed passes
  // Process CPU time / wall time over the timed passes: ~1 when the thread had a core to itself,
  // less when a shared machine's other jobs took turns on it (then the rates are low).
  double cpu_share = 0;
  double texts_per_s() const { return passes.median_ms > 0 ? 1e3 * double(texts) / passes.median_ms : 0.0; }
  double mb_per_s() const { return passes.median_ms > 0 ? 1e-3 * double(bytes) / passes.median_ms : 0.0; }
  double tokens_per_s() const { return passes.median_ms > 0 ? 1e3 * double(tokens) / passes.median_ms : 0.0; }
  double us_per_text() const { return texts ? 1e3 * passes.median_ms / double(texts) : 0.0; }
};
Result<CorpusTiming> time_tokenizer(const TextTokenizer& tokenizer, const std::vector<std::string>& texts,
                                    int min_passes, double min_time_s);

// The model run on each text's ids alone (batch 1, the text's own length, no padding), the ids
// encoded beforehand (truncated to the model's positions; *truncated counts those texts).
Result<CorpusTiming> time_inference(Session& session, const TextTokenizer& tokenizer,
                                    const std::vector<std::string>& texts, int64_t max_positions, int min_passes,
                                    double min_time_s, size_t* truncated);

nlohmann::json to_json(const CorpusTiming& t);

}  // namespace encore::bench
