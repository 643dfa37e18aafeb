// encore-run's text mode (--text / --text-file): texts through the model's own tokenizer, one
// JSON line per text on stdout, by what the model's head gives (label and probabilities,
// entities, answers, fill-mask predictions, or an embedding).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "encore/status.h"
#include "encore/text.h"

namespace encore::run {

// What a sentence-transformers model's text mode adds: the prompt prepended to every text and
// the Matryoshka truncation.
struct SentenceOptions {
  bool pooling_given = false;  // --pooling on the command line (otherwise the model's own)
  bool prompt_given = false;
  std::string prompt_name;     // --prompt
  int dimensions = 0;          // --dimensions, 0: all
};

struct TextRun {
  std::vector<std::string> texts;  // --text, in order
  std::vector<std::string> pairs;  // --text-pair: empty, or one per --text
  std::string text_file;           // --text-file ("-" = standard input)
  std::string text_arg = "--text"; // what the texts given as arguments are called in errors
  bool file_pairs = false;         // --pairs: the file's lines are TEXT<TAB>PAIR
  std::string pooling = "cls";
  bool normalize = false;
  int batch_size = 8;
  int threads = 1;
  encore::TextOptions options;
  std::string attention_path;
  SentenceOptions sentence;
  // The per-token heads: --top-k (0: not given), and question answering's settings.
  int top_k = 0;
  encore::AnswerOptions answer;
};

// Runs `run` on the model at `model_path`, writing JSON lines to stdout.
Status run_text(const std::string& model_path, TextRun run);

// Shared with the ids mode (--output sentence_embedding). Matryoshka truncation: the first `dims`
// of each `width`-wide row, scaled to unit L2 length (sentence-transformers' truncate_dim followed
// by normalize_embeddings).
std::vector<float> truncate_rows(const float* data, int64_t rows, int64_t width, int64_t dims);
// --dimensions N for an embedding `width` wide: N in [1, width] (0: not given).
Status check_dimensions(int dims, int64_t width);

}  // namespace encore::run
