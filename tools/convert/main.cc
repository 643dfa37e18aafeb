// encore-convert MODEL_DIR -o OUT.encore [--quant int8|f32] [--calib IDS.npy] [--threads N]
#include <CLI/CLI.hpp>

#include "common/cli_parse.h"

#include <iostream>

#include "convert/converter.h"

int main(int argc, char** argv) {
  encore::convert::ConvertOptions o;
  std::string quant = "int8";
  CLI::App app{"Convert a Hugging Face BERT directory (config.json, model.safetensors, vocab.txt) to an encore model."};
  app.add_option("model_dir", o.model_dir, "Hugging Face model directory")->required();
  app.add_option("-o,--output", o.output, "output .encore file")->required();
  app.add_option("--quant", quant, "linear layer precision")->check(CLI::IsMember({"int8", "f32"}))->capture_default_str();
  app.add_option("--calib", o.calib_path, "calibration token ids, .npy int32/int64 [N, S] (default: synthetic)");
  app.add_option("--threads", o.threads, "threads for calibration")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--calib-sequences", o.synthetic_sequences, "synthetic calibration sequences (without --calib)")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--calib-length", o.synthetic_length, "synthetic calibration sequence length (without --calib)")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-convert")) return *code;
  o.int8 = quant == "int8";
  encore::Status st = encore::convert::convert_model(o, std::cout, std::cerr);
  if (!st.ok()) {
    std::cerr << "encore-convert: error: " << st.message() << "\n";
    return 1;
  }
  return 0;
}
