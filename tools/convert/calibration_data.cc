#include "convert/calibration_data.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "core/str.h"
#include "encore/text_tokenizer.h"
#include "io/npy.h"
#include "text/text_batch.h"

namespace encore::convert {

Inputs CalibrationSet::rows(int64_t start, int64_t count) const {
  Inputs in;
  in.batch = count;
  in.seq_len = seq;
  const auto at = static_cast<size_t>(start * seq);
  in.input_ids = ids.data() + at;
  in.attention_mask = mask.data() + at;
  in.token_type_ids = types.empty() ? nullptr : types.data() + at;
  return in;
}

int64_t CalibrationSet::real_tokens(int64_t start, int64_t count) const {
  const auto from = static_cast<size_t>(start * seq), to = static_cast<size_t>((start + count) * seq);
  return std::count(mask.begin() + from, mask.begin() + to, 1);
}

Result<CalibrationSet> read_calibration_ids(const std::string& ids_path, const std::string& mask_path,
                                            const EncoderConfig& c, std::ostream& err) {
  ENCORE_ASSIGN_OR_RETURN(io::NpyArray a, io::read_npy(ids_path));
  if (a.dtype == io::NpyDType::kFloat32 || a.shape.size() != 2 || a.shape[0] < 1 || a.shape[1] < 1) {
    return invalid_argument(cat(ids_path, ": calibration ids must be an int32/int64 array of shape [N, S]"));
  }
  CalibrationSet s;
  s.n = a.shape[0];
  s.seq = a.shape[1];
  // The longest sequence the model takes: max positions, less pad_token_id + 1 for RoBERTa-likes.
  const int64_t longest = c.max_sequence_length();
  if (s.seq > longest) {
    return out_of_range(cat(ids_path, ": sequence length ", s.seq, " exceeds the model's maximum of ", longest));
  }
  s.ids.reserve(a.ints.size());
  for (size_t i = 0; i < a.ints.size(); ++i) {
    if (a.ints[i] < 0 || a.ints[i] >= c.vocab_size) {
      return out_of_range(cat(ids_path, ": token id ", a.ints[i], " at index ", i, " is outside [0, ", c.vocab_size, ")"));
    }
    s.ids.push_back(static_cast<int32_t>(a.ints[i]));
  }
  s.mask.assign(s.ids.size(), 1);
  if (!mask_path.empty()) {
    ENCORE_ASSIGN_OR_RETURN(io::NpyArray m, io::read_npy(mask_path));
    if (m.dtype == io::NpyDType::kFloat32 || m.shape != a.shape) {
      return invalid_argument(cat(mask_path, ": the calibration mask must be an int32/int64 array of the ids' shape [",
                                  s.n, ", ", s.seq, "]"));
    }
    for (size_t i = 0; i < m.ints.size(); ++i) {
      if (m.ints[i] != 0 && m.ints[i] != 1) {
        return invalid_argument(cat(mask_path, ": mask value ", m.ints[i], " at index ", i, " is not 0 or 1"));
      }
      s.mask[i] = static_cast<int32_t>(m.ints[i]);
    }
    for (int64_t r = 0; r < s.n; ++r) {
      if (s.real_tokens(r, 1) == 0) return invalid_argument(cat(mask_path, ": row ", r, " has no token with mask 1"));
    }
  }
  s.summary = cat("min/max over ", s.n, " sequences x ", s.seq, " tokens from ", ids_path);
  if (!mask_path.empty()) s.summary += cat(" (", s.real_tokens(0, s.n), " real tokens by ", mask_path, ")");
  if (s.seq < longest) {
    err << "encore-convert: warning: calibration sequences have " << s.seq << " tokens but the model takes up to "
        << longest << "; activations at later positions were not observed, so longer inputs may lose "
        << "int8 accuracy.\n";
  }
  return s;
}

namespace {

// The file's lines as (text, pair) with 1-based line numbers in errors.
Status read_lines(const std::string& path, std::vector<std::string>* texts, std::vector<std::string>* pairs) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return not_found(cat(path, ": cannot open the calibration text file"));
  std::string line;
  size_t number = 0;
  while (std::getline(f, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t tabs = static_cast<size_t>(std::count(line.begin(), line.end(), '\t'));
    const size_t tab = line.find('\t');
    if (line.find_first_not_of(" \t") == std::string::npos) {
      return invalid_argument(cat(path, " line ", number, ": empty line (each line is one text, or two texts "
                                  "separated by a tab)"));
    }
    if (tabs > 1) {
      return invalid_argument(cat(path, " line ", number, ": ", tabs + 1, " tab-separated fields; a line is one "
                                  "text, or a pair of two texts separated by one tab"));
    }
    if (tabs == 1 && (line.find_first_not_of(' ') == tab || line.find_first_not_of(' ', tab + 1) == std::string::npos)) {
      return invalid_argument(cat(path, " line ", number, ": one text of the tab-separated pair is empty"));
    }
    texts->push_back(tabs ? line.substr(0, tab) : line);
    pairs->push_back(tabs ? line.substr(tab + 1) : std::string());
  }
  if (f.bad()) return internal_error(cat(path, ": read error after line ", number));
  if (texts->empty()) return invalid_argument(cat(path, ": no calibration texts (the file is empty)"));
  return Status::Ok();
}

}  // namespace

Result<CalibrationSet> read_calibration_text(const std::string& path, const Model& f32_model) {
  std::vector<std::string> texts, pairs;
  ENCORE_RETURN_IF_ERROR(read_lines(path, &texts, &pairs));
  auto batch = internal::TextBatch::create(f32_model);
  if (!batch.ok()) return batch.status().with_context(cat(path, ": the model's tokenizer"));
  internal::TextBatch& tb = **batch;
  // Each line encoded alone (a line may be a pair, its neighbour not), then padded into one
  // [texts, longest] set; calibrate() runs it in batches with the mask.
  std::vector<std::vector<int32_t>> ids(texts.size()), types(texts.size());
  size_t longest = 0, pair_count = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<std::string_view> t{texts[i]}, p{pairs[i]};
    const bool pair = !pairs[i].empty();
    pair_count += pair;
    Status st = tb.encode(t, pair ? &p : nullptr);
    if (!st.ok()) return st.with_context(cat(path, " line ", i + 1));
    const Inputs in = tb.inputs();
    ids[i].assign(in.input_ids, in.input_ids + in.seq_len);
    if (in.token_type_ids) types[i].assign(in.token_type_ids, in.token_type_ids + in.seq_len);
    longest = std::max(longest, ids[i].size());
  }
  CalibrationSet s;
  s.n = static_cast<int64_t>(texts.size());
  s.seq = static_cast<int64_t>(longest);
  s.ids.assign(texts.size() * longest, tb.pad_id());
  s.mask.assign(texts.size() * longest, 0);
  if (tb.has_token_types()) s.types.assign(texts.size() * longest, 0);
  for (size_t i = 0; i < texts.size(); ++i) {
    std::copy(ids[i].begin(), ids[i].end(), s.ids.begin() + static_cast<std::ptrdiff_t>(i * longest));
    std::fill_n(s.mask.begin() + static_cast<std::ptrdiff_t>(i * longest), ids[i].size(), 1);
    if (!types[i].empty()) std::copy(types[i].begin(), types[i].end(), s.types.begin() + static_cast<std::ptrdiff_t>(i * longest));
  }
  s.summary = cat("min/max over ", s.n, " texts", pair_count ? cat(" (", pair_count, " pairs)") : std::string(), " from ",
                  path, ", ", s.real_tokens(0, s.n), " tokens, up to ", longest, " per text");
  return s;
}

CalibrationSet synthetic_calibration(const FloatCheckpoint& ck, int64_t count, int64_t length, std::ostream& err) {
  const auto& c = ck.config;
  CalibrationSet s;
  s.n = count;
  s.seq = std::min<int64_t>(length, c.max_sequence_length());
  // Random tokens framed like real input: the tokenizer's special tokens around a text
  // ([CLS] ... [SEP], <s> ... </s>) when it has any.
  int32_t cls = -1, sep = -1;
  if (!ck.tokenizer.empty()) {
    auto tokenizer = ck.tokenizer.json.empty() ? TextTokenizer::from_wordpiece(ck.tokenizer)
                                               : TextTokenizer::create(ck.tokenizer.json);
    if (tokenizer.ok()) {
      auto framed = (*tokenizer)->encode("");
      if (framed.ok() && framed->ids.size() == 2) {
        cls = framed->ids[0];
        sep = framed->ids[1];
      }
    }
  }
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> token(0, c.vocab_size - 1);
  s.ids.resize(static_cast<size_t>(s.n * s.seq));
  for (int64_t r = 0; r < s.n; ++r) {
    for (int64_t p = 0; p < s.seq; ++p) s.ids[static_cast<size_t>(r * s.seq + p)] = token(rng);
    if (cls >= 0) s.ids[static_cast<size_t>(r * s.seq)] = cls;
    if (sep >= 0 && s.seq > 1) s.ids[static_cast<size_t>(r * s.seq + s.seq - 1)] = sep;
  }
  s.mask.assign(s.ids.size(), 1);
  err << "encore-convert: warning: no --calib given; calibrating on " << s.n << " synthetic random-token sequences of "
      << s.seq << " tokens. Pass --calib-text FILE (real texts, one per line) or --calib IDS.npy for best int8 "
      << "accuracy.\n";
  s.summary = cat("min/max over ", s.n, " synthetic random-token sequences x ", s.seq, " tokens");
  return s;
}

}  // namespace encore::convert
