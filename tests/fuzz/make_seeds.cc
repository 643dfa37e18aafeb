// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): tiny valid
// inputs, so the fuzzers start from the format's structure instead of from nothing.
//   encore-fuzz-seeds OUT_DIR
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "convert/pruner.h"
#include "io/npy.h"
#include "support/hf_dir.h"
#include "support/tiny_model.h"

namespace fs = std::filesystem;

namespace {
void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: encore-fuzz-seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* target : {"model_loader", "safetensors", "npy", "hf_config", "tokenizer"}) fs::create_directories(out / target);

  // Models: the smallest shape that still has every part (1 layer, 2 heads, classifier).
  auto cfg = encore::testing::tiny_config();
  cfg.hidden_size = 8;
  cfg.head_count = 2;
  cfg.layer_count = 1;
  cfg.intermediate_size = 16;
  cfg.max_positions = 4;
  cfg.vocab_size = 6;
  cfg.labels = {"no", "yes"};
  auto ck = encore::testing::random_checkpoint(cfg, 3);
  write_bytes(out / "model_loader" / "tiny_f32.encore", encore::testing::f32_model_bytes(ck));
  write_bytes(out / "model_loader" / "tiny_int8.encore", encore::testing::int8_model_bytes(ck));
  // A pruned model (format version 2): layer 0 keeps head 1 and 9 of its 16 FFN neurons, so the
  // fuzzer explores the per-layer shapes and their checks against the tensors.
  {
    encore::convert::PrunePlan plan = encore::convert::keep_everything(ck.config);
    plan.heads[0] = {1};
    plan.neurons[0] = {0, 1, 2, 4, 6, 9, 11, 12, 15};
    auto pruned = encore::convert::prune_contents(encore::testing::int8_contents_for(ck), plan);
    if (!pruned.ok()) return 1;
    auto bytes = encore::convert::serialize_model(*pruned);
    if (!bytes.ok()) return 1;
    write_bytes(out / "model_loader" / "tiny_pruned_int8.encore", *bytes);
  }

  // A Hugging Face directory: its checkpoint and config seed two targets.
  const fs::path hf = out / "hf.tmp";
  fs::create_directories(hf);
  auto dir = encore::testing::HfDir::bert("bert.", 5);
  dir.write(hf.string());
  fs::copy_file(hf / "model.safetensors", out / "safetensors" / "bert.safetensors", fs::copy_options::overwrite_existing);
  fs::copy_file(hf / "config.json", out / "hf_config" / "config.json", fs::copy_options::overwrite_existing);
  fs::remove_all(hf);

  // .npy token ids as encore-run takes them: int64 [B, S] and int32 [S].
  const std::vector<int64_t> ids = {1, 2, 3, 4, 5, 0};
  const std::vector<float> values = {0.5f, -1.0f, 2.0f, 0.0f};
  if (!encore::io::write_npy_i64((out / "npy" / "ids_2x3.npy").string(), {2, 3}, ids.data()).ok()) return 1;
  if (!encore::io::write_npy_f32((out / "npy" / "f32_4.npy").string(), {4}, values.data()).ok()) return 1;
  // Tokenizer: first byte = settings, then text (scripts, accents, CJK, punctuation).
  const char* texts[] = {"\x02Hello, World! unaffable", "\x03" "Caf\xC3\xA9 na\xC3\xAFve \xCE\xA3\xCE\x91",
                         "\x00\xE4\xB8\xAD\xE6\x96\x87 mixed text\t\n", "\x01\xF0\x9F\x99\x82 emoji ##x [SEP]"};
  for (size_t i = 0; i < 4; ++i) {
    std::ofstream(out / "tokenizer" / ("text" + std::to_string(i)), std::ios::binary) << std::string(texts[i], std::strlen(texts[i] + 1) + 1);
  }
  std::printf("seeds written to %s\n", out.c_str());
  return 0;
}
