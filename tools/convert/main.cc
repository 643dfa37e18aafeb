// encore-convert MODEL_DIR -o OUT.encore [--quant int8|f32] [--calib-text FILE | --calib IDS.npy [--calib-mask MASK.npy]]
//   [--calibration minmax|percentile|mse|auto] [--no-quality-gate] [--max-cosine-drop D] [--threads N]
//   [--prune-heads auto|L:H,... [--max-accuracy-drop P]] [--prune-ffn FRACTION] [--eval EVAL [--heldout EVAL]]
#include <CLI/CLI.hpp>

#include "common/cli_parse.h"

#include <iostream>
#include <string>

#include "convert/converter.h"

int main(int argc, char** argv) {
  encore::convert::ConvertOptions o;
  std::string quant = "int8";
  CLI::App app{"Convert a Hugging Face BERT directory (config.json, model.safetensors, vocab.txt) to an encore model."};
  app.add_option("model_dir", o.model_dir, "Hugging Face model directory")->required();
  app.add_option("-o,--output", o.output, "output .encore file")->required();
  app.add_option("--quant", quant, "linear layer precision")->check(CLI::IsMember({"int8", "f32"}))->capture_default_str();
  std::string head = "auto";
  app.add_option("--head", head,
                 "auto: the head config.json's architectures names; base: the encoder alone (last_hidden_state and "
                 "the pooler if the checkpoint has one), e.g. for embeddings from a *ForMaskedLM checkpoint")
      ->check(CLI::IsMember({"auto", "base"}))
      ->capture_default_str();
  app.add_option("--calib-text", o.calib_text_path, "calibration texts, one per line (a pair: two texts separated by "
                                                   "a tab), tokenized with the model's tokenizer");
  app.add_option("--calib", o.calib_path, "calibration token ids, .npy int32/int64 [N, S] (default: synthetic)");
  app.add_option("--calib-mask", o.calib_mask_path, "with --calib: attention mask .npy [N, S], 0 for padding");
  std::string calibration = "minmax";
  app.add_option("--calibration", calibration,
                 "how each GEMM input's int8 range is chosen: minmax (nothing clipped), percentile (0.01%..99.99%), "
                 "mse (least squared error of the int8 grid), auto (mse where it halves min/max's error)")
      ->check(CLI::IsMember({"minmax", "percentile", "mse", "auto"}))
      ->capture_default_str();
  bool no_gate = false;
  app.add_flag("--no-quality-gate", no_gate,
               "int8: skip the quality gate (held-out check against the f32 model that keeps the blocks int8 hurts "
               "most in f32)");
  app.add_option("--max-cosine-drop", o.max_cosine_drop,
                 "quality gate bound: mean per-token cosine >= 1 - DROP and 1st percentile >= 1 - 10 x DROP")
      ->check(CLI::Range(1e-6, 0.0999))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "threads for calibration")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--calib-sequences", o.synthetic_sequences, "synthetic calibration sequences (without --calib)")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--calib-length", o.synthetic_length, "synthetic calibration sequence length (without --calib)")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  auto& p = o.prune;
  app.add_option("--prune-heads", p.heads, "remove attention heads: 'auto' (greedy, within --max-accuracy-drop on "
                                          "--eval) or LAYER:HEAD,... (e.g. 0:3,1:0)");
  app.add_option("--max-accuracy-drop", p.max_accuracy_drop, "with --prune-heads auto: allowed drop, percentage points")
      ->check(CLI::Range(0.0, 100.0))->capture_default_str();
  app.add_option("--prune-margin", p.margin_sigmas, "auto searches: a step fits when its tuning drop plus this many "
                                                  "standard errors does")
      ->check(CLI::Range(0.0, 10.0))->capture_default_str();
  std::string prune_ffn;
  app.add_option("--prune-ffn", prune_ffn, "remove FFN neurons: a FRACTION of each layer's (the least important), or "
                                          "'auto' (chunks of 1/16 per layer within --max-accuracy-drop on --eval)");
  app.add_option("--eval", p.eval.path, "labelled set (.tsv text<TAB>label, or .npy ids with --eval-labels): tunes "
                                       "--prune-heads auto on its even rows, reports accuracy before/after");
  app.add_option("--eval-labels", p.eval.labels_path, "with .npy --eval ids: label indices [N]");
  app.add_option("--eval-mask", p.eval.mask_path, "with .npy --eval ids: attention mask [N, S]");
  app.add_option("--heldout", p.heldout.path, "held-out labelled set for the report (default: --eval's odd rows)");
  app.add_option("--heldout-labels", p.heldout.labels_path, "with .npy --heldout ids: label indices [N]");
  app.add_option("--heldout-mask", p.heldout.mask_path, "with .npy --heldout ids: attention mask [N, S]");
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-convert")) return *code;
  o.base_only = head == "base";
  o.int8 = quant == "int8";
  o.quality_gate = !no_gate;
  encore::convert::calibration_method_from_name(calibration, &o.calibration);
  p.threads = o.threads;
  if (prune_ffn == "auto") {
    p.ffn_auto = true;
  } else if (!prune_ffn.empty()) {
    size_t used = 0;
    try {
      p.ffn_fraction = std::stod(prune_ffn, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != prune_ffn.size() || !(p.ffn_fraction >= 0.0 && p.ffn_fraction < 1.0)) {
      std::cerr << "encore-convert: error: --prune-ffn " << prune_ffn << " is neither 'auto' nor a fraction in [0, 1)\n";
      return 2;
    }
  }
  if (app.count("--prune-heads") && p.heads.empty()) {
    std::cerr << "encore-convert: error: --prune-heads needs 'auto' or a LAYER:HEAD list\n";
    return 2;
  }
  encore::Status st = encore::convert::convert_model(o, std::cout, std::cerr);
  if (!st.ok()) {
    std::cerr << "encore-convert: error: " << st.message() << "\n";
    return 1;
  }
  return 0;
}
