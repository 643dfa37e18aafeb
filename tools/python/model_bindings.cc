#include "model_bindings.h"

#include <pybind11/stl.h>

#include "core/str.h"

namespace encore::python {

TruncationStrategy truncation_strategy(const std::string& name) {
  if (name == "longest_first") return TruncationStrategy::kLongestFirst;
  if (name == "only_first") return TruncationStrategy::kOnlyFirst;
  if (name == "only_second") return TruncationStrategy::kOnlySecond;
  raise_status(invalid_argument(cat("truncation: '", name, "' is not one of longest_first, only_first, only_second")));
}

Status PyModel::ensure_batch() {
  if (batch_) return Status::Ok();
  if (model_->tokenizer().empty()) {
    return invalid_argument("the model has no tokenizer (convert it from a directory that has one)");
  }
  ENCORE_ASSIGN_OR_RETURN(batch_, internal::TextBatch::create(*model_));
  return Status::Ok();
}

int64_t PyModel::max_length() {
  if (model_->tokenizer().empty()) return model_->config().max_sequence_length();
  Status st;
  int64_t limit = 0;
  {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    st = ensure_batch();
    if (st.ok()) limit = static_cast<int64_t>(batch_->model_max_length());
  }
  check(st);
  return limit;
}

namespace {

// [rows, longest] int32 from the batch's padded view.
py::array_t<int32_t> batch_array(const int32_t* data, int64_t rows, int64_t cols) {
  py::array_t<int32_t> out({rows, cols});
  if (rows * cols > 0) std::memcpy(out.mutable_data(), data, static_cast<size_t>(rows * cols) * sizeof(int32_t));
  return out;
}

}  // namespace

py::dict PyModel::tokenize(const py::handle& texts, const py::object& pairs, size_t max_length,
                           const std::string& truncation, bool special_tokens_as_text) {
  const std::vector<std::string> text = text_list(texts, "texts");
  std::vector<std::string> pair;
  if (!pairs.is_none()) {
    pair = text_list(pairs, "pairs");
    if (pair.size() != text.size()) {
      raise_status(invalid_argument(cat("pairs: ", pair.size(), " given for ", text.size(), " texts")));
    }
  }
  if (text.empty()) raise_status(invalid_argument("texts: empty (give at least one text)"));
  internal::TextBatchOptions options;
  options.max_length = max_length;
  options.truncation = truncation_strategy(truncation);
  options.special_tokens_as_text = special_tokens_as_text;

  py::dict out;
  Status st;
  {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    internal::TextBatch* batch = nullptr;
    st = ensure_batch();
    if (st.ok()) {
      batch = batch_.get();
      st = batch->set_options(options);
    }
    if (st.ok()) {
      std::vector<std::string_view> views(text.begin(), text.end()), pair_views(pair.begin(), pair.end());
      st = batch->encode(views, pair.empty() ? nullptr : &pair_views);
    }
    if (st.ok()) {
      py::gil_scoped_acquire gil;
      const Inputs in = batch->inputs();
      out["input_ids"] = batch_array(in.input_ids, in.batch, in.seq_len);
      out["attention_mask"] = batch_array(in.attention_mask, in.batch, in.seq_len);
      if (in.token_type_ids) out["token_type_ids"] = batch_array(in.token_type_ids, in.batch, in.seq_len);
      py::list tokens, offsets, sequence_ids, truncated;
      auto& encodings = batch->encodings();
      for (size_t i = 0; i < encodings.size(); ++i) {
        const TextEncoding& e = encodings[i];
        tokens.append(py::cast(e.tokens));
        std::vector<uint32_t> begins, ends;
        py::list seq;
        py::list offs;
        for (size_t t = 0; t < e.offsets.size(); ++t) {
          const bool second = t < e.sequence_ids.size() && e.sequence_ids[t] == 1;
          const auto c = char_offsets(second ? pair[i] : text[i], {e.offsets[t].begin}, {e.offsets[t].end});
          offs.append(py::make_tuple(c[0].first, c[0].second));
          const uint8_t s = t < e.sequence_ids.size() ? e.sequence_ids[t] : 255;
          seq.append(s == 255 ? py::object(py::none()) : py::object(py::int_(s)));
        }
        offsets.append(offs);
        sequence_ids.append(seq);
        truncated.append(e.truncated);
      }
      out["tokens"] = tokens;
      out["offsets"] = offsets;
      out["sequence_ids"] = sequence_ids;
      out["truncated"] = truncated;
    }
  }
  check(st);
  return out;
}

namespace {

py::dict config_dict(const EncoderConfig& c) {
  py::dict d;
  d["family"] = family_name(c.family);
  d["hidden_size"] = c.hidden_size;
  d["num_attention_heads"] = c.head_count;
  d["num_hidden_layers"] = c.layer_count;
  d["intermediate_size"] = c.intermediate_size;
  d["hidden_act"] = activation_name(c.activation);
  d["layer_norm_eps"] = c.layer_norm_eps;
  d["max_position_embeddings"] = c.max_positions;
  d["vocab_size"] = c.vocab_size;
  d["type_vocab_size"] = c.type_vocab_size;
  d["pad_token_id"] = c.pad_token_id;
  d["embedding_size"] = c.embedding_width();
  d["head"] = head_kind_name(c.head);
  if (c.has_classifier()) d["problem_type"] = problem_type_name(c.problem_type);
  d["labels"] = c.labels;
  if (c.is_pruned()) {
    d["layer_heads"] = c.layer_heads;
    d["layer_intermediate_sizes"] = c.layer_intermediate_sizes;
  }
  if (c.has_sentence_embedding()) d["sentence_dimension"] = c.sentence_dimension();
  return d;
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<PyModel, std::shared_ptr<PyModel>>(m, "Model")
      .def(py::init([](const std::string& path) {
             Result<std::shared_ptr<const Model>> loaded = [&] {
               py::gil_scoped_release nogil;
               return Model::load(path);
             }();
             return std::make_shared<PyModel>(path, take(std::move(loaded)));
           }),
           py::arg("path"))
      .def_property_readonly("path", &PyModel::path)
      .def_property_readonly("config", [](const PyModel& p) { return config_dict(p.config()); })
      .def_property_readonly("family", [](const PyModel& p) { return family_name(p.config().family); })
      .def_property_readonly("head", [](const PyModel& p) { return head_kind_name(p.config().head); })
      .def_property_readonly("problem_type", [](const PyModel& p) -> py::object {
        if (!p.config().has_classifier()) return py::none();
        return py::str(problem_type_name(p.config().problem_type));
      })
      .def_property_readonly("precision", [](const PyModel& p) { return p.model()->is_quantized() ? "int8" : "f32"; })
      .def_property_readonly("labels", [](const PyModel& p) { return p.config().labels; })
      .def_property_readonly("hidden_size", [](const PyModel& p) { return p.config().hidden_size; })
      .def_property_readonly("sentence_dimension", [](const PyModel& p) -> py::object {
        if (!p.config().has_sentence_embedding()) return py::none();
        return py::int_(p.config().sentence_dimension());
      })
      .def_property_readonly("prompts", [](const PyModel& p) {
        py::dict d;
        for (const auto& [name, text] : p.config().sentence.prompts) d[py::str(name)] = text;
        return d;
      })
      .def_property_readonly("default_prompt_name", [](const PyModel& p) -> py::object {
        const auto& s = p.config().sentence;
        if (s.default_prompt_name.empty()) return py::none();
        return py::str(s.default_prompt_name);
      })
      .def_property_readonly("similarity_fn_name", [](const PyModel& p) -> py::object {
        const auto& s = p.config().sentence;
        if (s.similarity_fn_name.empty()) return py::none();
        return py::str(s.similarity_fn_name);
      })
      .def_property_readonly("max_length", &PyModel::max_length)
      .def_property_readonly("tokenizer", [](const PyModel& p) -> py::object {
        const TokenizerInfo& t = p.model()->tokenizer();
        if (t.empty()) return py::none();
        py::dict d;
        d["source"] = t.source;
        d["kind"] = t.json.empty() ? "wordpiece" : "tokenizer.json";
        if (t.json.empty()) {
          d["do_lower_case"] = t.do_lower_case;
          d["vocab_size"] = t.vocab.size();
        }
        d["model_max_length"] = t.model_max_length;
        return d;
      })
      .def_property_readonly("metadata", [](const PyModel& p) {
        const ModelMetadata& md = p.model()->metadata();
        py::dict d;
        d["source"] = md.source;
        d["converter_version"] = md.converter_version;
        d["created_utc"] = md.created_utc;
        d["calibration"] = md.calibration;
        return d;
      })
      .def_property_readonly("file_size", [](const PyModel& p) { return p.model()->file_size(); })
      .def("tokenize", &PyModel::tokenize, py::arg("texts"), py::arg("pairs") = py::none(),
           py::arg("max_length") = 0, py::arg("truncation") = "longest_first",
           py::arg("special_tokens_as_text") = false)
      .def("__repr__", [](const PyModel& p) {
        const EncoderConfig& c = p.config();
        return cat("<encore.Model ", p.path(), ": ", family_name(c.family), " ", c.layer_count, " layers, hidden ",
                   c.hidden_size, ", ", p.model()->is_quantized() ? "int8" : "f32", ", head ", head_kind_name(c.head),
                   ">");
      });
}

}  // namespace encore::python
