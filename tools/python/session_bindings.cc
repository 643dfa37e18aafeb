// encore.Session: token ids in, NumPy out (run), and the text calls (encode, classify, the
// per-token heads) through the model's own tokenizer.
//
// Locking: a C++ Session (and TextEncoder) is used by one thread at a time, so each Python
// Session has a mutex. It is only ever taken with the GIL released (and the GIL only re-taken
// inside it), so two Python threads sharing one Session queue on it instead of deadlocking;
// threads with a Session each run in parallel.
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>

#include "bindings.h"
#include "core/str.h"
#include "model_bindings.h"

namespace encore::python {
namespace {

// One [batch, seq] integer input as the session takes it: the array's own memory when it is
// C-contiguous int32, else its values narrowed into `scratch` (checked: an id that does not fit
// int32 is an error naming its position). The arrays are referenced until the run ends.
class IdsArray {
 public:
  IdsArray(const char* name, const py::object& value, bool allow_bool) : name_(name) {
    if (value.is_none()) return;
    given_ = true;
    array_ = py::array::ensure(value);
    if (!array_) raise_status(invalid_argument(cat(name, ": expected an array of integers")));
    const char kind = array_.dtype().kind();
    if (kind != 'i' && kind != 'u' && !(allow_bool && kind == 'b')) {
      raise_status(invalid_argument(cat(name, ": dtype ", std::string(py::str(array_.dtype())),
                                        " is not an integer type (use int32 or int64)")));
    }
    if (array_.ndim() != 1 && array_.ndim() != 2) {
      raise_status(invalid_argument(cat(name, ": expected [batch, seq_len] (or [seq_len]), got ", array_.ndim(), " dimensions")));
    }
    batch_ = array_.ndim() == 2 ? array_.shape(0) : 1;
    seq_ = array_.ndim() == 2 ? array_.shape(1) : array_.shape(0);
    zero_copy_ = kind == 'i' && array_.itemsize() == 4 && (array_.flags() & py::array::c_style);
  }

  bool given() const { return given_; }
  int64_t batch() const { return batch_; }
  int64_t seq() const { return seq_; }
  bool zero_copy() const { return zero_copy_; }

  // The int32 view; `scratch` is reused between runs (grown, never shrunk). No GIL needed:
  // only the array's memory is read.
  Result<const int32_t*> view(std::vector<int32_t>* scratch) const {
    if (!given()) return static_cast<const int32_t*>(nullptr);
    if (zero_copy_) return static_cast<const int32_t*>(array_.data());
    const size_t n = static_cast<size_t>(batch_ * seq_);
    if (scratch->size() < n) scratch->resize(n);
    const py::ssize_t s0 = array_.ndim() == 2 ? array_.strides(0) : 0;
    const py::ssize_t s1 = array_.strides(array_.ndim() - 1);
    const char* base = static_cast<const char*>(array_.data());
    const char kind = array_.dtype().kind();
    const py::ssize_t size = array_.itemsize();
    for (int64_t b = 0; b < batch_; ++b) {
      for (int64_t t = 0; t < seq_; ++t) {
        const char* p = base + b * s0 + t * s1;
        int64_t v = 0;
        bool fits = true;
        if (kind == 'b') {
          v = *reinterpret_cast<const bool*>(p) ? 1 : 0;
        } else if (kind == 'i') {
          switch (size) {
            case 1: v = *reinterpret_cast<const int8_t*>(p); break;
            case 2: v = *reinterpret_cast<const int16_t*>(p); break;
            case 4: v = *reinterpret_cast<const int32_t*>(p); break;
            default: v = *reinterpret_cast<const int64_t*>(p); break;
          }
        } else {
          uint64_t u = 0;
          switch (size) {
            case 1: u = *reinterpret_cast<const uint8_t*>(p); break;
            case 2: u = *reinterpret_cast<const uint16_t*>(p); break;
            case 4: u = *reinterpret_cast<const uint32_t*>(p); break;
            default: u = *reinterpret_cast<const uint64_t*>(p); break;
          }
          fits = u <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
          v = fits ? static_cast<int64_t>(u) : 0;
        }
        if (!fits || v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
          return out_of_range(cat(name_, "[", b, ", ", t, "]: ", fits ? std::to_string(v) : std::string("value"),
                                  " does not fit int32"));
        }
        (*scratch)[static_cast<size_t>(b * seq_ + t)] = static_cast<int32_t>(v);
      }
    }
    return static_cast<const int32_t*>(scratch->data());
  }

 private:
  const char* name_;
  bool given_ = false;
  py::array array_;
  int64_t batch_ = 0, seq_ = 0;
  bool zero_copy_ = false;
};

py::list profile_list(const std::vector<ProfileRecord>& records) {
  py::list out;
  for (const ProfileRecord& r : records) {
    py::dict d;
    d["layer"] = r.layer;
    d["step"] = profile_step_name(r.step);
    d["kernel"] = r.kernel;
    d["start_ns"] = r.start_ns;
    d["duration_ns"] = r.duration_ns;
    d["operations"] = r.operations;
    d["bytes"] = r.bytes;
    d["linear"] = profile_step_is_linear(r.step);
    out.append(d);
  }
  return out;
}

Int8Gemm int8_gemm(const std::string& name) {
  if (name == "auto") return Int8Gemm::kAuto;
  if (name == "xnnpack") return Int8Gemm::kXnnpack;
  if (name == "own") return Int8Gemm::kOwn;
  raise_status(invalid_argument(cat("int8_gemm: '", name, "' is not one of auto, xnnpack, own")));
}

Pooling pooling_of(const std::string& name) {
  if (name == "cls") return Pooling::kCls;
  if (name == "mean") return Pooling::kMean;
  if (name == "model") return Pooling::kModel;
  raise_status(invalid_argument(cat("pooling: '", name, "' is not one of cls, mean, model")));
}

py::array_t<float> float_vector(const std::vector<float>& v) {
  return copy_array(v.data(), {static_cast<int64_t>(v.size())});
}

py::list char_offset_list(const std::vector<TokenOffset>& offsets, const std::vector<uint8_t>& seq,
                          const std::string& text, const std::string* pair) {
  py::list out;
  for (size_t t = 0; t < offsets.size(); ++t) {
    const bool second = pair && t < seq.size() && seq[t] == 1;
    const auto c = char_offsets(second ? *pair : text, {offsets[t].begin}, {offsets[t].end});
    out.append(py::make_tuple(c[0].first, c[0].second));
  }
  return out;
}

// What every text result carries: its ids, tokens and character offsets.
template <typename R>
void add_tokens(py::dict& d, const R& r, const std::string& text, const std::string* pair) {
  d["ids"] = r.ids;
  d["tokens"] = r.tokens;
  d["offsets"] = char_offset_list(r.offsets, r.sequence_ids, text, pair);
  d["truncated"] = r.truncated;
}

class PySession {
 public:
  PySession(std::shared_ptr<PyModel> model, const SessionOptions& options, const TextOptions& text_options)
      : model_(std::move(model)), options_(options), text_options_(text_options) {
    Result<std::unique_ptr<Session>> created = [&] {
      py::gil_scoped_release nogil;
      return Session::create(model_->model(), options_);
    }();
    session_ = take(std::move(created));
  }

  py::dict run(const py::object& input_ids, const py::object& attention_mask, const py::object& token_type_ids) {
    if (input_ids.is_none()) raise_status(invalid_argument("input_ids: required"));
    const IdsArray ids("input_ids", input_ids, false), mask("attention_mask", attention_mask, true),
        types("token_type_ids", token_type_ids, false);
    for (const IdsArray* a : {&mask, &types}) {
      if (a->given() && (a->batch() != ids.batch() || a->seq() != ids.seq())) {
        raise_status(invalid_argument(cat(a == &mask ? "attention_mask" : "token_type_ids", ": shape [", a->batch(),
                                          ", ", a->seq(), "] differs from input_ids' [", ids.batch(), ", ", ids.seq(),
                                          "]")));
      }
    }
    py::dict result;
    Status st;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      st = run_locked(ids, mask, types);
      if (st.ok()) {
        py::gil_scoped_acquire gil;
        result = outputs_dict(outputs_);
      }
    }
    check(st);
    return result;
  }

  // Embeddings of `texts` in batches: [n, dim] float32 ([dim] for one str).
  py::array_t<float> encode(const py::handle& texts, int batch_size, const py::object& normalize,
                            const py::object& pooling, const py::object& dimensions) {
    bool single = false;
    const std::vector<std::string> all = text_list(texts, "texts", &single);
    if (batch_size < 1) raise_status(invalid_argument(cat("batch_size: ", batch_size, " (must be at least 1)")));
    const EncoderConfig& c = model_->config();
    const Pooling p = pooling.is_none() ? (c.has_sentence_embedding() ? Pooling::kModel : Pooling::kCls)
                                        : pooling_of(pooling.cast<std::string>());
    const bool norm = !normalize.is_none() && normalize.cast<bool>();
    const int64_t width = p == Pooling::kModel ? c.sentence_dimension() : c.hidden_size;
    int64_t dims = width;
    if (!dimensions.is_none()) {
      dims = dimensions.cast<int64_t>();
      if (dims < 1 || dims > width) {
        raise_status(invalid_argument(cat("dimensions: ", dims, " is outside [1, ", width, "]")));
      }
    }
    py::array_t<float> out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(all.size()), static_cast<py::ssize_t>(dims)});
    float* dst = out.mutable_data();
    Status st;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      st = ensure_text();
      std::vector<std::string> chunk;
      for (size_t begin = 0; st.ok() && begin < all.size(); begin += static_cast<size_t>(batch_size)) {
        const size_t end = std::min(all.size(), begin + static_cast<size_t>(batch_size));
        chunk.assign(all.begin() + static_cast<std::ptrdiff_t>(begin), all.begin() + static_cast<std::ptrdiff_t>(end));
        // Normalization after the Matryoshka cut, as sentence-transformers truncates first.
        auto r = text_->embed(chunk, p, norm && dims == width);
        if (!r.ok()) {
          st = r.status().with_context(cat("texts ", begin, "..", end - 1));
          break;
        }
        for (size_t i = 0; i < r->size(); ++i) {
          float* row = dst + (begin + i) * static_cast<size_t>(dims);
          std::memcpy(row, (*r)[i].values.data(), static_cast<size_t>(dims) * sizeof(float));
          if (norm && dims != width) {
            double sum = 0;
            for (int64_t d = 0; d < dims; ++d) sum += double(row[d]) * row[d];
            const float scale = static_cast<float>(1.0 / std::max(std::sqrt(sum), 1e-12));
            for (int64_t d = 0; d < dims; ++d) row[d] *= scale;
          }
        }
      }
      last_text_ = true;
    }
    check(st);
    if (single) return py::array_t<float>(out[py::int_(0)]);
    return out;
  }

  py::object classify(const py::handle& texts, const py::object& pairs, int batch_size) {
    bool single = false;
    const std::vector<std::string> all = text_list(texts, "texts", &single);
    std::vector<std::string> all_pairs;
    if (!pairs.is_none()) {
      bool single_pair = false;
      all_pairs = text_list(pairs, "pairs", &single_pair);
      if (all_pairs.size() != all.size()) {
        raise_status(invalid_argument(cat("pairs: ", all_pairs.size(), " given for ", all.size(), " texts")));
      }
    }
    if (batch_size < 1) raise_status(invalid_argument(cat("batch_size: ", batch_size, " (must be at least 1)")));
    std::vector<TextClassification> results;
    Status st;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      st = ensure_text();
      std::vector<std::string> chunk, chunk_pairs;
      for (size_t begin = 0; st.ok() && begin < all.size(); begin += static_cast<size_t>(batch_size)) {
        const size_t end = std::min(all.size(), begin + static_cast<size_t>(batch_size));
        const auto b = static_cast<std::ptrdiff_t>(begin), e = static_cast<std::ptrdiff_t>(end);
        chunk.assign(all.begin() + b, all.begin() + e);
        auto r = all_pairs.empty() ? text_->classify(chunk)
                                   : (chunk_pairs.assign(all_pairs.begin() + b, all_pairs.begin() + e),
                                      text_->classify(chunk, chunk_pairs));
        if (!r.ok()) {
          st = r.status().with_context(cat("texts ", begin, "..", end - 1));
          break;
        }
        for (auto& x : *r) results.push_back(std::move(x));
      }
      last_text_ = true;
    }
    check(st);
    py::list out;
    for (size_t i = 0; i < results.size(); ++i) {
      const TextClassification& r = results[i];
      py::dict d;
      d["label"] = r.label;
      d["score"] = r.probabilities.empty() ? 0.0f : r.probabilities[static_cast<size_t>(r.label_index)];
      d["index"] = r.label_index;
      d["probabilities"] = float_vector(r.probabilities);
      d["logits"] = float_vector(r.logits);
      add_tokens(d, r, all[i], all_pairs.empty() ? nullptr : &all_pairs[i]);
      out.append(d);
    }
    if (single) return out[0];
    return out;
  }

  py::object classify_tokens(const py::handle& texts) {
    bool single = false;
    const std::vector<std::string> all = text_list(texts, "texts", &single);
    const auto results = text_call<std::vector<TokenClassificationResult>>([&] { return text_->classify_tokens(all); });
    py::list out;
    for (size_t i = 0; i < results.size(); ++i) {
      py::list entities;
      for (const TextEntity& e : results[i].entities) {
        py::dict d;
        d["entity_group"] = e.label;
        d["score"] = e.score;
        d["word"] = e.word;
        d["start"] = e.char_start;
        d["end"] = e.char_end;
        entities.append(d);
      }
      out.append(entities);
    }
    if (single) return out[0];
    return out;
  }

  py::object answer(const std::string& question, const std::string& context, const AnswerOptions& options) {
    const auto result = text_call<QuestionAnswers>([&] { return text_->answer(question, context, options); });
    py::list out;
    for (const TextAnswer& a : result.answers) {
      py::dict d;
      d["score"] = a.score;
      d["start"] = a.char_start;
      d["end"] = a.char_end;
      d["answer"] = a.answer;
      out.append(d);
    }
    // As the pipeline: one answer as a dict, several as a list.
    if (options.top_k == 1 && out.size() == 1) return out[0];
    return out;
  }

  py::object fill_mask(const py::handle& texts, int top_k) {
    bool single = false;
    const std::vector<std::string> all = text_list(texts, "texts", &single);
    const auto results = text_call<std::vector<FillMaskResult>>([&] { return text_->fill_mask(all, top_k); });
    py::list out;
    for (const FillMaskResult& r : results) {
      py::list masks;
      for (const MaskPredictions& m : r.masks) {
        py::list predictions;
        for (const MaskPrediction& p : m.predictions) {
          py::dict d;
          d["score"] = p.score;
          d["token"] = p.token_id;
          d["token_str"] = p.token;
          d["sequence"] = p.sequence;
          predictions.append(d);
        }
        masks.append(predictions);
      }
      // As the pipeline: a text with one mask gives its predictions, with several a list per mask.
      out.append(masks.size() == 1 ? py::object(masks[0]) : py::object(masks));
    }
    if (single) return out[0];
    return out;
  }

  py::list profile() {
    std::vector<ProfileRecord> records;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      records = last_text_ && text_ ? text_->session().profile() : session_->profile();
    }
    return profile_list(records);
  }

  uint64_t activation_bytes() {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    return last_text_ && text_ ? text_->session().activation_bytes() : session_->activation_bytes();
  }

  const std::shared_ptr<PyModel>& model() const { return model_; }

 private:
  Status run_locked(const IdsArray& ids, const IdsArray& mask, const IdsArray& types) {
    Inputs in;
    in.batch = ids.batch();
    in.seq_len = ids.seq();
    ENCORE_ASSIGN_OR_RETURN(in.input_ids, ids.view(&ids_scratch_));
    ENCORE_ASSIGN_OR_RETURN(in.attention_mask, mask.view(&mask_scratch_));
    ENCORE_ASSIGN_OR_RETURN(in.token_type_ids, types.view(&types_scratch_));
    last_text_ = false;
    return session_->run(in, &outputs_);
  }

  // One TextEncoder call (returning Result<T>) under the session's lock with the GIL released;
  // raises its error with the GIL back.
  template <typename T, typename F>
  T text_call(F&& call) {
    T value{};
    Status st;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      st = ensure_text();
      if (st.ok()) {
        Result<T> r = call();
        if (r.ok()) {
          value = std::move(r).value();
        } else {
          st = r.status();
        }
      }
      last_text_ = true;
    }
    check(st);
    return value;
  }

  Status ensure_text() {
    if (text_) return Status::Ok();
    ENCORE_ASSIGN_OR_RETURN(text_, TextEncoder::create(model_->model(), options_, text_options_));
    return Status::Ok();
  }

  py::dict outputs_dict(const Outputs& o) const {
    const EncoderConfig& c = model_->config();
    py::dict d;
    d["last_hidden_state"] = copy_array(o.last_hidden_state, {o.batch, o.seq_len, o.hidden});
    if (o.pooler_output) d["pooler_output"] = copy_array(o.pooler_output, {o.batch, o.hidden});
    if (o.logits) d["logits"] = copy_array(o.logits, {o.batch, o.labels});
    if (o.token_logits) {
      const int64_t w = o.token_logit_width;
      if (c.head == HeadKind::kQuestionAnswering) {
        // Hugging Face's start_logits / end_logits [batch, seq_len]: the QA head's two columns.
        py::array_t<float> start({o.batch, o.seq_len}), end({o.batch, o.seq_len});
        float* s = start.mutable_data();
        float* e = end.mutable_data();
        for (int64_t i = 0; i < o.batch * o.seq_len; ++i) {
          s[i] = o.token_logits[i * w];
          e[i] = o.token_logits[i * w + 1];
        }
        d["start_logits"] = start;
        d["end_logits"] = end;
      } else {
        d["logits"] = copy_array(o.token_logits, {o.batch, o.seq_len, w});
      }
    }
    if (o.sentence_embedding) d["sentence_embedding"] = copy_array(o.sentence_embedding, {o.batch, o.sentence_dim});
    return d;
  }

  std::shared_ptr<PyModel> model_;
  SessionOptions options_;
  TextOptions text_options_;
  std::mutex mu_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<TextEncoder> text_;  // created by the first text call
  Outputs outputs_;
  bool last_text_ = false;  // which of the two ran last (for profile())
  std::vector<int32_t> ids_scratch_, mask_scratch_, types_scratch_;
};

}  // namespace

void bind_session(py::module_& m) {
  py::class_<PySession, std::shared_ptr<PySession>>(m, "Session")
      .def_property_readonly("model", &PySession::model)
      .def("run", &PySession::run, py::arg("input_ids"), py::arg("attention_mask") = py::none(),
           py::arg("token_type_ids") = py::none())
      .def("encode", &PySession::encode, py::arg("texts"), py::arg("batch_size") = 32, py::arg("normalize") = py::none(),
           py::arg("pooling") = py::none(), py::arg("dimensions") = py::none())
      .def("classify", &PySession::classify, py::arg("texts"), py::arg("pairs") = py::none(), py::arg("batch_size") = 32)
      .def("classify_tokens", &PySession::classify_tokens, py::arg("texts"))
      .def(
          "answer",
          [](PySession& s, const std::string& question, const std::string& context, int top_k, int max_answer_len,
             size_t max_seq_len, const py::object& doc_stride, bool handle_impossible_answer, bool align_to_words) {
            AnswerOptions o;
            o.top_k = top_k;
            o.max_answer_len = max_answer_len;
            o.max_seq_len = max_seq_len;
            o.doc_stride = doc_stride.is_none() ? -1 : doc_stride.cast<int64_t>();
            o.handle_impossible_answer = handle_impossible_answer;
            o.align_to_words = align_to_words;
            return s.answer(question, context, o);
          },
          py::arg("question"), py::arg("context"), py::arg("top_k") = 1, py::arg("max_answer_len") = 15,
          py::arg("max_seq_len") = 0, py::arg("doc_stride") = py::none(), py::arg("handle_impossible_answer") = false,
          py::arg("align_to_words") = true)
      .def("fill_mask", &PySession::fill_mask, py::arg("texts"), py::arg("top_k") = 5)
      .def("profile", &PySession::profile)
      .def_property_readonly("activation_bytes", &PySession::activation_bytes);

  // Model.session(...): defined here, where PySession is known.
  py::class_<PyModel, std::shared_ptr<PyModel>> model_class = m.attr("Model");
  model_class.def(
      "session",
      [](std::shared_ptr<PyModel> model, int threads, bool profile, uint64_t max_activation_bytes,
         const std::string& gemm, size_t max_length, const std::string& truncation, bool special_tokens_as_text) {
        if (threads < 1) raise_status(invalid_argument(cat("threads: ", threads, " (must be at least 1)")));
        SessionOptions so;
        so.threads = threads;
        so.profile = profile;
        so.max_activation_bytes = max_activation_bytes;
        so.int8_gemm = int8_gemm(gemm);
        TextOptions to;
        to.max_length = max_length;
        to.truncation = truncation_strategy(truncation);
        to.special_tokens_as_text = special_tokens_as_text;
        return std::make_shared<PySession>(std::move(model), so, to);
      },
      py::arg("threads") = 1, py::arg("profile") = false, py::arg("max_activation_bytes") = 0,
      py::arg("int8_gemm") = "auto", py::arg("max_length") = 0, py::arg("truncation") = "longest_first",
      py::arg("special_tokens_as_text") = false);
}

}  // namespace encore::python
