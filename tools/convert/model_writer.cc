#include "convert/model_writer.h"

#include <algorithm>

#include <cstring>

#include "core/checked_math.h"
#include "core/half.h"
#include "core/str.h"
#include "encore/encore_generated.h"
#include "model/format.h"

namespace encore::convert {

namespace {

fb::DType to_fb(TensorDType t) {
  switch (t) {
    case TensorDType::kF32: return fb::DType::F32;
    case TensorDType::kI8: return fb::DType::I8;
    case TensorDType::kI32: return fb::DType::I32;
    case TensorDType::kF16: return fb::DType::F16;
  }
  return fb::DType::F32;
}

// The sentence-transformers modules (format version 5); absent for other models.
flatbuffers::Offset<fb::SentenceEmbedding> build_sentence(flatbuffers::FlatBufferBuilder& fbb,
                                                          const SentenceEmbeddingConfig& st) {
  if (!st.enabled()) return 0;
  std::vector<flatbuffers::Offset<fb::SentenceDense>> dense;
  for (const SentenceDense& d : st.dense) {
    dense.push_back(fb::CreateSentenceDense(fbb, d.in_features, d.out_features, d.bias,
                                            static_cast<fb::DenseActivation>(d.activation)));
  }
  std::vector<flatbuffers::Offset<fb::KeyValue>> prompts;
  for (const auto& [name, text] : st.prompts) {
    prompts.push_back(fb::CreateKeyValue(fbb, fbb.CreateString(name), fbb.CreateString(text)));
  }
  return fb::CreateSentenceEmbedding(fbb, st.pooling, fbb.CreateVector(dense), st.normalize, st.max_seq_length,
                                     fbb.CreateVector(prompts), fbb.CreateString(st.default_prompt_name),
                                     fbb.CreateString(st.similarity_fn_name));
}

// Builds the FlatBuffer for buffers placed from `data_start` on. BufferRef is a fixed-size
// struct, so the FlatBuffer's size does not depend on data_start: build once to measure,
// once for real.
std::vector<uint8_t> build_flatbuffer(const ModelContents& m, uint64_t data_start) {
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  std::vector<fb::BufferRef> buffers;
  uint64_t offset = data_start;
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const TensorData& t = m.tensors[i];
    buffers.emplace_back(offset, t.bytes.size());
    offset = round_up(offset + t.bytes.size(), format::kBufferAlignment);
    flatbuffers::Offset<fb::Quantization> quant = 0;
    if (!t.scales.empty()) {
      quant = fb::CreateQuantization(fbb, fbb.CreateVector(t.scales), fbb.CreateVector(t.zero_points), t.axis);
    }
    tensors.push_back(fb::CreateTensor(fbb, fbb.CreateString(t.name), to_fb(t.dtype), fbb.CreateVector(t.shape),
                                       static_cast<uint32_t>(i), quant));
  }
  std::vector<flatbuffers::Offset<fb::ActivationQuant>> acts;
  for (const auto& a : m.activations) {
    acts.push_back(fb::CreateActivationQuant(fbb, fbb.CreateString(a.name), a.scale, a.zero_point, a.observed_min,
                                             a.observed_max));
  }
  const EncoderConfig& c = m.config;
  // Per-layer shapes only for a pruned model: an unpruned file stays byte-for-byte version 1.
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::LayerShape>>> layers = 0;
  if (c.is_pruned()) {
    std::vector<flatbuffers::Offset<fb::LayerShape>> shapes;
    for (size_t l = 0; l < c.layer_heads.size(); ++l) {
      const int32_t width = l < c.layer_intermediate_sizes.size() ? c.layer_intermediate_sizes[l] : 0;
      shapes.push_back(fb::CreateLayerShape(fbb, fbb.CreateVector(c.layer_heads[l]), width));
    }
    layers = fbb.CreateVector(shapes);
  }
  auto config = fb::CreateEncoderConfig(
      fbb, c.hidden_size, c.head_count, c.layer_count, c.intermediate_size,
      static_cast<fb::ActivationKind>(c.activation), c.layer_norm_eps, c.max_positions, c.vocab_size,
      c.type_vocab_size, c.pad_token_id, c.has_pooler, fbb.CreateVectorOfStrings(c.labels), layers,
      static_cast<fb::Family>(c.family), c.embedding_size, static_cast<fb::PoolerActivation>(c.pooler_activation),
      c.pooler_output, static_cast<fb::HeadKind>(c.head), static_cast<fb::ProblemType>(c.problem_type),
      static_cast<fb::ActivationKind>(c.head_activation), build_sentence(fbb, c.sentence), c.local_attention,
      c.global_attn_every_n_layers, c.global_rope_theta, c.local_rope_theta,
      static_cast<fb::ClassifierPooling>(c.classifier_pooling));
  flatbuffers::Offset<fb::Tokenizer> tokenizer = 0;
  if (!m.tokenizer.json.empty()) {
    // tokenizer.json defines the pipeline (format version 6); the WordPiece fields stay unset.
    tokenizer = fb::CreateTokenizer(fbb, 0, true, false, false, fbb.CreateString(m.tokenizer.json),
                                    fbb.CreateString(m.tokenizer.source), m.tokenizer.model_max_length);
  } else if (!m.tokenizer.vocab.empty()) {
    tokenizer = fb::CreateTokenizer(fbb, fbb.CreateVectorOfStrings(m.tokenizer.vocab), m.tokenizer.do_lower_case,
                                    m.tokenizer.strip_accents_set, m.tokenizer.strip_accents);
  }
  std::vector<flatbuffers::Offset<fb::KeyValue>> extra;
  for (const auto& [k, v] : m.extra_metadata) {
    extra.push_back(fb::CreateKeyValue(fbb, fbb.CreateString(k), fbb.CreateString(v)));
  }
  const ModelMetadata& md = m.metadata;
  auto metadata = fb::CreateMetadata(fbb, fbb.CreateString(md.source), fbb.CreateString(md.converter_version),
                                     fbb.CreateString(md.created_utc), fbb.CreateString(md.calibration),
                                     fbb.CreateVector(extra));
  // The oldest version that describes the model, so older readers keep reading what they can.
  const bool family_fields = c.family != Family::kBert || c.embedding_size != 0 ||
                             c.pooler_activation != PoolerActivation::kTanh || !c.pooler_output ||
                             c.type_vocab_size == 0;
  const bool head_fields = c.head != HeadKind::kPooled || c.problem_type != ProblemType::kSingleLabel;
  const bool mixed = std::any_of(md.layer_precision.begin(), md.layer_precision.end(),
                                [](const LayerPrecision& p) { return p.attention_f32 || p.ffn_f32; });
  const uint32_t version = m.format_version               ? m.format_version
                           : m.ffn_down_row_scales      ? format::kFormatVersionRowScales
                           : c.is_modernbert()          ? format::kFormatVersionModernBert
                           : mixed                      ? format::kFormatVersionMixedPrecision
                           : !m.tokenizer.json.empty()  ? format::kFormatVersionTokenizerJson
                           : c.has_sentence_embedding() ? format::kFormatVersionSentence
                           : head_fields                ? format::kFormatVersionHeads
                           : family_fields              ? format::kFormatVersionFamilies
                           : c.is_pruned()              ? format::kFormatVersionPruned
                                                        : format::kFormatVersionUniform;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::LayerPrecision>>> precision;
  if (mixed) {
    std::vector<flatbuffers::Offset<fb::LayerPrecision>> layers;
    for (const LayerPrecision& p : md.layer_precision) {
      layers.push_back(fb::CreateLayerPrecision(fbb, p.attention_f32, p.ffn_f32));
    }
    precision = fbb.CreateVector(layers);
  }
  flatbuffers::Offset<fb::QualityGate> gate;
  if (const QualityGateFigures& g = md.quality_gate; g.ran) {
    gate = fb::CreateQualityGate(fbb, float(g.max_cosine_drop), int32_t(g.heldout_sequences), int32_t(g.heldout_tokens),
                                 float(g.int8_mean_cosine), float(g.int8_p1_cosine), float(g.mean_cosine),
                                 float(g.p1_cosine), float(g.min_cosine), g.passed);
  }
  auto root = fb::CreateModel(fbb, version, m.quantized ? fb::QuantMode::Int8 : fb::QuantMode::F32,
                              config, fbb.CreateVector(tensors), fbb.CreateVectorOfStructs(buffers),
                              fbb.CreateVector(acts), tokenizer, metadata, precision, gate, m.ffn_down_row_scales);
  fb::FinishSizePrefixedModelBuffer(fbb, root);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

}  // namespace

Result<std::vector<uint8_t>> serialize_model(const ModelContents& m) {
  std::vector<uint8_t> measured = build_flatbuffer(m, 0);
  if (measured.size() > (uint64_t{1} << 31) - 1) return invalid_argument("model header exceeds 2 GiB");
  const uint64_t data_start = round_up(measured.size(), format::kBufferAlignment);
  std::vector<uint8_t> header = build_flatbuffer(m, data_start);
  if (header.size() != measured.size()) return internal_error("model header size changed between passes");
  uint64_t total = data_start;
  for (const auto& t : m.tensors) total = round_up(total + t.bytes.size(), format::kBufferAlignment);
  std::vector<uint8_t> file(total, 0);
  std::memcpy(file.data(), header.data(), header.size());
  uint64_t offset = data_start;
  for (const auto& t : m.tensors) {
    if (!t.bytes.empty()) std::memcpy(file.data() + offset, t.bytes.data(), t.bytes.size());
    offset = round_up(offset + t.bytes.size(), format::kBufferAlignment);
  }
  return file;
}

namespace {
template <typename T>
TensorData make_tensor(std::string name, TensorDType dtype, std::vector<int64_t> shape, const std::vector<T>& v) {
  TensorData t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}
}  // namespace

TensorData make_f32_tensor(std::string name, std::vector<int64_t> shape, const std::vector<float>& v) {
  return make_tensor(std::move(name), TensorDType::kF32, std::move(shape), v);
}
TensorData make_i8_tensor(std::string name, std::vector<int64_t> shape, const std::vector<int8_t>& v) {
  return make_tensor(std::move(name), TensorDType::kI8, std::move(shape), v);
}
TensorData make_f16_tensor(std::string name, std::vector<int64_t> shape, const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = float_to_half(v[i]);
  return make_tensor(std::move(name), TensorDType::kF16, std::move(shape), h);
}
TensorData make_i32_tensor(std::string name, std::vector<int64_t> shape, const std::vector<int32_t>& v) {
  return make_tensor(std::move(name), TensorDType::kI32, std::move(shape), v);
}

}  // namespace encore::convert
