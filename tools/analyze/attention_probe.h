// Where one word's attention goes, head by head, over a set of texts: for each text a query
// word and two other words of it, a target and a contrast ("it", its referent, the other noun),
// and for every head the attention mass from the query to each of the two.
//
// The probe file (documented in tools/analyze/README.md) is a TSV, one
// "text<TAB>query<TAB>target<TAB>contrast" per line. Each of the three words must occur exactly
// once in the text as a whole word (bytes equal, not preceded or followed by a letter, digit or
// '_'), so a position is never guessed; the words must differ. A word's tokens are those whose
// offsets (TextTokenizer) fall inside it, so a word split into pieces counts with all of them.
// Errors name the file, the line and the word.
//
// Per sequence and head: the query's attention row (the mean of its tokens' rows when it has
// several), summed over the target's tokens and over the contrast's. Over the set: the mean of
// each, and the share of sequences in which the target gets more than the contrast (ties count
// half). A head masked in the session (Session::set_head_masked) has no attention and is
// reported as masked.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "encore/model.h"
#include "encore/session.h"
#include "encore/status.h"

namespace encore::analyze {

struct ProbeText {
  std::vector<int32_t> ids;                       // [CLS] text [SEP], as the model's tokenizer encodes it
  std::vector<int32_t> query, target, contrast;   // token positions of each word
};

struct ProbeSet {
  std::string name;                  // "test_attention.tsv (2000 texts)"
  std::string query_word;            // the query word when every line has the same one, else ""
  std::vector<ProbeText> texts;
};

Result<ProbeSet> load_probe_set(const std::string& path, const Model& model);

struct HeadAttention {
  int layer = 0;
  int head = 0;            // position in the layer (EncoderConfig::original_head gives its index)
  bool masked = false;
  double to_target = 0.0;     // mean attention mass from the query to the target
  double to_contrast = 0.0;   // ... and to the contrast
  double target_share = 0.0;  // share of texts where the target gets more (ties: half)
};

struct ProbeReport {
  std::string name, query_word;
  int64_t count = 0;
  std::vector<HeadAttention> heads;  // layer by layer, head by head
};

// Runs every text alone through `session`, which must keep attention probabilities
// (SessionOptions::attention_probabilities). `progress` (may be null) gets one line at the end.
Result<ProbeReport> run_attention_probe(Session& session, const ProbeSet& set, std::ostream* progress);

// The report as a fixed-width table (stdout of encore-analyze --attention-probe).
std::string probe_table(const ProbeReport& report, const EncoderConfig& config);

}  // namespace encore::analyze
