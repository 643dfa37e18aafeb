// WordPiece model of tokenizer.json (tokenizers/src/models/wordpiece/mod.rs): greedy longest
// match first, continuations carry the prefix; a word longer than max_input_chars_per_word or
// with a part that matches nothing becomes the unk token as a whole.
#include <algorithm>

#include "tokenizer/vocab.h"

namespace encore::tok {
namespace {

class WordPiece final : public Model {
 public:
  WordPiece(const Json& j, const std::string& path) {
    vocab_.build(vocab_entries(field(j, "vocab", path), path + ".vocab"), path + ".vocab");
    unk_ = optional(j, "unk_token") ? get_string(j, "unk_token", path) : "[UNK]";
    prefix_ = optional(j, "continuing_subword_prefix") ? get_string(j, "continuing_subword_prefix", path) : "##";
    if (const Json* m = optional(j, "max_input_chars_per_word")) {
      const int64_t v = as_int(*m, path + ".max_input_chars_per_word");
      if (v < 0) fail_model(path + ".max_input_chars_per_word: must not be negative");
      max_chars_ = static_cast<size_t>(v);
    }
    finish();
  }
  WordPiece(std::vector<std::pair<std::string, int64_t>> vocab, std::string unk, std::string prefix,
            size_t max_chars)
      : unk_(std::move(unk)), prefix_(std::move(prefix)), max_chars_(max_chars) {
    vocab_.build(std::move(vocab), "vocab");
    finish();
  }
  void finish() {
    unk_id_ = vocab_.find(unk_);
    // The longest token bounds the candidates tried at each start (same result, fewer lookups).
    max_token_bytes_ = vocab_.max_token_bytes();
  }

  Status tokenize(std::string_view word, std::vector<Token>* out) const override {
    size_t chars = 0;
    for (size_t i = 0; i < word.size(); i += utf8_len_of_lead(static_cast<unsigned char>(word[i]))) ++chars;
    const size_t first = out->size();
    if (chars <= max_chars_) {
      std::string buf;
      buf.reserve(prefix_.size() + word.size());
      size_t start = 0;
      bool bad = false;
      while (start < word.size()) {
        size_t end = word.size();
        // Candidates longer than the longest token cannot match: start below the bound (at a
        // character boundary) instead of at the end of the word.
        if (end - start > max_token_bytes_) {
          end = start + max_token_bytes_;
          while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
        }
        int32_t found = -1;
        while (start < end) {
          buf.clear();
          if (start > 0) buf.append(prefix_);
          buf.append(word.data() + start, end - start);
          found = vocab_.find(buf);
          if (found >= 0) break;
          // step back one character
          --end;
          while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
        }
        if (found < 0) {
          bad = true;
          break;
        }
        out->push_back({found, static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
        start = end;
      }
      if (!bad) return Status::Ok();
      out->resize(first);
    }
    if (unk_id_ < 0) return invalid_argument("WordPiece: the unk token \"" + unk_ + "\" is not in the vocabulary");
    out->push_back({unk_id_, 0, static_cast<uint32_t>(word.size())});
    return Status::Ok();
  }
  int32_t token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }
  int32_t max_id() const override { return vocab_.max_id(); }

 private:
  Vocab vocab_;
  std::string unk_, prefix_;
  size_t max_chars_ = 100;
  size_t max_token_bytes_ = 0;
  int32_t unk_id_ = -1;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(const Json& j, const std::string& path) {
  return std::make_unique<WordPiece>(j, path);
}

std::unique_ptr<Model> make_wordpiece(std::vector<std::pair<std::string, int64_t>> vocab, std::string unk,
                                      std::string prefix, size_t max_chars) {
  return std::make_unique<WordPiece>(std::move(vocab), std::move(unk), std::move(prefix), max_chars);
}

}  // namespace encore::tok
