#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time; fails (non-zero) on any crash, leak, sanitizer
# report or timeout, leaving the input in build/fuzz/artifacts/TARGET/.
#   tools/fuzz.sh TARGET [SECONDS]     TARGET: model_loader | safetensors | npy | hf_config | tokenizer |
#                                      tokenizer_json | tokenize_wordpiece | tokenize_bpe | tokenize_unigram | all
# Seeds come from tests/fuzz/corpus/TARGET (committed; rewrite them with
# build/fuzz/tests/fuzz/encore-fuzz-seeds tests/fuzz/corpus); what the fuzzer finds beyond
# them accumulates in build/fuzz/corpus/TARGET across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(model_loader safetensors npy hf_config tokenizer tokenizer_json tokenize_wordpiece tokenize_bpe tokenize_unigram)
target="${1:?usage: tools/fuzz.sh TARGET|all [SECONDS]   (targets: ${targets[*]})}"
seconds="${2:-60}"
if [[ "$target" == all ]]; then
  for t in "${targets[@]}"; do "$0" "$t" "$seconds"; done
  exit 0
fi
[[ " ${targets[*]} " == *" $target "* ]] || { echo "fuzz.sh: error: unknown target $target (${targets[*]})" >&2; exit 2; }

tools/install-deps.sh --fuzz >/dev/null
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "fuzz_$target" >/dev/null
corpus="build/fuzz/corpus/$target"
artifacts="build/fuzz/artifacts/$target"
mkdir -p "$corpus" "$artifacts"
echo "fuzz.sh: $target for $seconds s"
# -rss_limit_mb bounds memory: an input must not make the loader allocate without bound.
# Output is kept short on success; on failure libFuzzer's report is printed in full.
log="build/fuzz/$target.log"
if ! "build/fuzz/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "tests/fuzz/corpus/$target" >"$log" 2>&1; then
  cat "$log"
  echo "fuzz.sh: $target FAILED; reproducer in $artifacts/" >&2
  exit 1
fi
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$log" | sed "s/^/fuzz.sh: $target: /"
