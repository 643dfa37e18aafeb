// encore-inspect MODEL.encore [--tensors] [--activations]: what a model file holds — config,
// tokenizer settings, provenance, sizes by dtype, and optionally every tensor (shape, dtype,
// bytes, quantization) and every calibrated activation range. The file is fully validated
// (Model::load) before anything is printed, so a file this tool describes is one encore runs.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "common/cli_parse.h"
#include "encore/encore_generated.h"
#include "encore/model.h"

namespace {

std::string shape_string(const flatbuffers::Vector<int64_t>* shape) {
  std::string s = "[";
  if (shape) {
    for (uint32_t i = 0; i < shape->size(); ++i) s += (i ? ", " : "") + std::to_string(shape->Get(i));
  }
  return s + "]";
}

std::string megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MB", double(bytes) / 1e6);
  return buf;
}

int inspect(const std::string& path, bool tensors, bool activations) {
  auto loaded = encore::Model::load(path);
  if (!loaded.ok()) {
    std::cerr << "encore-inspect: error: " << loaded.status().message() << "\n";
    return 1;
  }
  const encore::Model& model = **loaded;
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() != model.file_size()) {
    std::cerr << "encore-inspect: error: " << path << " changed while it was read\n";
    return 1;
  }
  const encore::fb::Model& m = *encore::fb::GetSizePrefixedModel(bytes.data());
  const encore::EncoderConfig& c = model.config();

  std::cout << path << ": encore model, format version " << m.format_version() << ", "
            << (model.is_quantized() ? "int8" : "f32") << " linear layers, " << megabytes(model.file_size()) << "\n";
  std::cout << "config: " << c.layer_count << " layers, hidden " << c.hidden_size << ", " << c.head_count
            << " heads (head size " << c.head_dim() << "), FFN " << c.intermediate_size << ", "
            << encore::activation_name(c.activation) << ", LayerNorm eps " << c.layer_norm_eps << "\n";
  std::cout << "        max positions " << c.max_positions << ", vocab " << c.vocab_size << ", token types "
            << c.type_vocab_size << ", pooler " << (c.has_pooler ? "yes" : "no") << ", ";
  if (c.labels.empty()) {
    std::cout << "no classifier\n";
  } else {
    std::cout << c.labels.size() << " labels:";
    for (const auto& l : c.labels) std::cout << " " << l;
    std::cout << "\n";
  }
  const auto& tok = model.tokenizer();
  std::cout << "tokenizer: ";
  if (tok.vocab.empty()) {
    std::cout << "none (token ids only)\n";
  } else {
    const bool strip = tok.strip_accents_set ? tok.strip_accents : tok.do_lower_case;
    std::cout << "WordPiece, " << tok.vocab.size() << " tokens, lowercase " << (tok.do_lower_case ? "yes" : "no")
              << ", strip accents " << (strip ? "yes" : "no") << (tok.strip_accents_set ? "" : " (default)") << "\n";
  }
  const auto& md = model.metadata();
  std::cout << "source: " << (md.source.empty() ? "-" : md.source) << "\nconverter: "
            << (md.converter_version.empty() ? "-" : md.converter_version) << ", created "
            << (md.created_utc.empty() ? "-" : md.created_utc) << "\ncalibration: "
            << (md.calibration.empty() ? "-" : md.calibration) << "\n";

  // Sizes by dtype.
  std::map<std::string, std::pair<int, uint64_t>> by_dtype;
  if (m.tensors()) {
    for (const auto* t : *m.tensors()) {
      auto& e = by_dtype[encore::fb::EnumNameDType(t->dtype())];
      e.first += 1;
      e.second += m.buffers()->Get(t->buffer())->size();
    }
  }
  std::cout << "tensors:";
  for (const auto& [dtype, e] : by_dtype) std::cout << " " << e.first << " " << dtype << " (" << megabytes(e.second) << ")";
  std::cout << "\n";

  if (tensors && m.tensors()) {
    std::cout << "\n  name                                                dtype  shape               bytes  quantization\n";
    for (const auto* t : *m.tensors()) {
      const auto* q = t->quantization();
      std::string quant = "-";
      if (q && q->scale() && q->scale()->size() > 0) {
        const auto* s = q->scale();
        float lo = s->Get(0), hi = s->Get(0);
        for (uint32_t i = 1; i < s->size(); ++i) {
          lo = std::min(lo, s->Get(i));
          hi = std::max(hi, s->Get(i));
        }
        char buf[96];
        if (s->size() == 1) {
          std::snprintf(buf, sizeof buf, "per tensor, scale %.3g", double(lo));
        } else {
          std::snprintf(buf, sizeof buf, "per channel (%u), scale %.3g..%.3g", s->size(), double(lo), double(hi));
        }
        quant = buf;
      }
      char line[256];
      std::snprintf(line, sizeof line, "  %-50s %-5s  %-18s %10llu  %s\n", t->name()->c_str(),
                    encore::fb::EnumNameDType(t->dtype()), shape_string(t->shape()).c_str(),
                    static_cast<unsigned long long>(m.buffers()->Get(t->buffer())->size()), quant.c_str());
      std::cout << line;
    }
  }
  if (activations && m.activations()) {
    std::cout << "\n  activation                                   scale    zero point   observed range\n";
    for (const auto* a : *m.activations()) {
      char line[256];
      std::snprintf(line, sizeof line, "  %-40s %10.4g %8d      [%.4g, %.4g]\n", a->name()->c_str(), double(a->scale()),
                    a->zero_point(), double(a->observed_min()), double(a->observed_max()));
      std::cout << line;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  bool tensors = false, activations = false;
  CLI::App app{"Describe an encore model file: config, tokenizer, provenance, sizes, tensors."};
  app.add_option("model", path, ".encore model file")->required();
  app.add_flag("--tensors", tensors, "list every tensor: dtype, shape, bytes, quantization");
  app.add_flag("--activations", activations, "list every calibrated activation: scale, zero point, observed range");
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-inspect")) return *code;
  return inspect(path, tensors, activations);
}
