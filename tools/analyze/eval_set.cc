#include "analyze/eval_set.h"

#include <algorithm>
#include <fstream>
#include <limits>

#include "core/str.h"
#include "text/text_batch.h"
#include "io/npy.h"

namespace encore::analyze {

namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const std::string t(suffix);
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Fills lengths from the mask; a sequence must have a real first token.
Status finish(EvalSet* set, const std::string& what) {
  set->lengths.assign(static_cast<size_t>(set->count), 0);
  for (int64_t r = 0; r < set->count; ++r) {
    int32_t length = 0;
    for (int64_t s = 0; s < set->seq; ++s) {
      if (set->mask[static_cast<size_t>(r * set->seq + s)]) length = static_cast<int32_t>(s + 1);
    }
    if (length == 0) return invalid_argument(cat(what, ": sequence ", r, " has no real token (all padding)"));
    set->lengths[static_cast<size_t>(r)] = length;
  }
  return Status::Ok();
}

Result<EvalSet> load_tsv(const std::string& path, const Model& model) {
  const auto& c = model.config();
  if (model.tokenizer().empty()) {
    return invalid_argument(cat(path, ": the model has no tokenizer, so it cannot read text; give token ids "
                                      "(.npy) instead"));
  }
  ENCORE_ASSIGN_OR_RETURN(auto batch, internal::TextBatch::create(model));
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(cat(path, ": cannot open"));
  std::vector<TextEncoding> encodings;
  EvalSet set;
  std::string line;
  size_t line_no = 0;
  int64_t longest = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t tab = line.rfind('\t');
    if (tab == std::string::npos) return invalid_argument(cat(path, ":", line_no, ": expected text<TAB>label"));
    const std::string label = line.substr(tab + 1);
    auto it = std::find(c.labels.begin(), c.labels.end(), label);
    if (it == c.labels.end()) {
      std::string known;
      for (const auto& l : c.labels) known += (known.empty() ? "" : ", ") + l;
      return invalid_argument(cat(path, ":", line_no, ": label '", label, "' is not one of the model's labels (", known,
                                  ")"));
    }
    const std::string text = line.substr(0, tab);
    Status st = batch->encode({std::string_view(text)});
    if (!st.ok()) return st.with_context(cat(path, ":", line_no));
    TextEncoding& e = batch->encodings()[0];
    longest = std::max<int64_t>(longest, static_cast<int64_t>(e.ids.size()));
    encodings.push_back(std::move(e));
    set.labels.push_back(static_cast<int32_t>(it - c.labels.begin()));
  }
  if (in.bad()) return io_error(cat(path, ": read failed"));
  if (encodings.empty()) return invalid_argument(cat(path, ": no labelled texts"));
  set.count = static_cast<int64_t>(encodings.size());
  set.seq = longest;
  const int32_t pad = batch->pad_id();
  set.ids.assign(static_cast<size_t>(set.count * set.seq), pad);
  set.mask.assign(set.ids.size(), 0);
  for (size_t r = 0; r < encodings.size(); ++r) {
    std::copy(encodings[r].ids.begin(), encodings[r].ids.end(), set.ids.begin() + static_cast<std::ptrdiff_t>(r * set.seq));
    std::fill_n(set.mask.begin() + static_cast<std::ptrdiff_t>(r * set.seq), encodings[r].ids.size(), 1);
  }
  set.name = cat(base_name(path), " (", set.count, " texts)");
  ENCORE_RETURN_IF_ERROR(finish(&set, path));
  return set;
}

Result<io::NpyArray> read_int_array(const std::string& path, const char* what, size_t dims) {
  ENCORE_ASSIGN_OR_RETURN(io::NpyArray a, io::read_npy(path));
  if (a.dtype == io::NpyDType::kFloat32 || a.shape.size() != dims) {
    return invalid_argument(cat(path, ": ", what, " must be an int32/int64 array of ", dims, " dimension",
                                dims > 1 ? "s" : ""));
  }
  for (int64_t d : a.shape) {
    if (d < 1) return invalid_argument(cat(path, ": ", what, " is empty"));
  }
  return a;
}

Result<EvalSet> load_npy(const EvalSource& src, const Model& model) {
  const auto& c = model.config();
  if (src.labels_path.empty()) {
    return invalid_argument(cat(src.path, ": token ids need their labels (a .npy of one label index per row)"));
  }
  ENCORE_ASSIGN_OR_RETURN(io::NpyArray ids, read_int_array(src.path, "token ids", 2));
  ENCORE_ASSIGN_OR_RETURN(io::NpyArray labels, read_int_array(src.labels_path, "labels", 1));
  EvalSet set;
  set.count = ids.shape[0];
  set.seq = ids.shape[1];
  if (labels.shape[0] != set.count) {
    return invalid_argument(cat(src.labels_path, ": ", labels.shape[0], " labels for ", set.count, " sequences"));
  }
  if (set.seq > c.max_positions) {
    return out_of_range(cat(src.path, ": sequences of ", set.seq, " tokens exceed the model's maximum of ", c.max_positions));
  }
  set.ids.resize(ids.ints.size());
  for (size_t i = 0; i < ids.ints.size(); ++i) {
    if (ids.ints[i] < 0 || ids.ints[i] >= c.vocab_size) {
      return out_of_range(cat(src.path, ": token id ", ids.ints[i], " at [", i / static_cast<size_t>(set.seq), "][",
                              i % static_cast<size_t>(set.seq), "] is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
    set.ids[i] = static_cast<int32_t>(ids.ints[i]);
  }
  const int64_t label_count = static_cast<int64_t>(c.labels.size());
  for (size_t i = 0; i < labels.ints.size(); ++i) {
    if (labels.ints[i] < 0 || labels.ints[i] >= label_count) {
      return out_of_range(cat(src.labels_path, ": label ", labels.ints[i], " at index ", i, " is outside [0, ",
                              label_count, ")"));
    }
    set.labels.push_back(static_cast<int32_t>(labels.ints[i]));
  }
  if (!src.mask_path.empty()) {
    ENCORE_ASSIGN_OR_RETURN(io::NpyArray mask, read_int_array(src.mask_path, "attention mask", 2));
    if (mask.shape != ids.shape) return invalid_argument(cat(src.mask_path, ": mask shape differs from the token ids'"));
    for (size_t i = 0; i < mask.ints.size(); ++i) {
      if (mask.ints[i] != 0 && mask.ints[i] != 1) {
        return invalid_argument(cat(src.mask_path, ": mask value ", mask.ints[i], " at index ", i, " is not 0 or 1"));
      }
      set.mask.push_back(static_cast<int32_t>(mask.ints[i]));
    }
  } else {
    for (int32_t id : set.ids) set.mask.push_back(id != c.pad_token_id);
  }
  set.name = cat(base_name(src.path), " (", set.count, " sequences)");
  ENCORE_RETURN_IF_ERROR(finish(&set, src.path));
  return set;
}

}  // namespace

Result<EvalSet> load_eval_set(const EvalSource& source, const Model& model) {
  if (!model.config().has_classifier()) {
    return invalid_argument("the model has no classifier head: evaluation needs labels to predict");
  }
  if (ends_with(source.path, ".tsv")) {
    if (!source.labels_path.empty() || !source.mask_path.empty()) {
      return invalid_argument(cat(source.path, ": a TSV carries its labels; no labels or mask file goes with it"));
    }
    return load_tsv(source.path, model);
  }
  if (ends_with(source.path, ".npy")) return load_npy(source, model);
  return invalid_argument(cat(source.path, ": an evaluation set is a .tsv (text<TAB>label) or a .npy of token ids"));
}

std::pair<EvalSet, EvalSet> split_even_odd(const EvalSet& set) {
  EvalSet halves[2];
  for (int part = 0; part < 2; ++part) {
    EvalSet& h = halves[part];
    h.seq = set.seq;
    for (int64_t r = part; r < set.count; r += 2) {
      const auto at = static_cast<std::ptrdiff_t>(r * set.seq);
      h.ids.insert(h.ids.end(), set.ids.begin() + at, set.ids.begin() + at + set.seq);
      h.mask.insert(h.mask.end(), set.mask.begin() + at, set.mask.begin() + at + set.seq);
      h.lengths.push_back(set.lengths[static_cast<size_t>(r)]);
      h.labels.push_back(set.labels[static_cast<size_t>(r)]);
    }
    h.count = static_cast<int64_t>(h.labels.size());
    h.name = cat(part == 0 ? "even" : "odd", " rows of ", set.name, ": ", h.count);
  }
  return {std::move(halves[0]), std::move(halves[1])};
}

}  // namespace encore::analyze
