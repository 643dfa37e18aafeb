#!/usr/bin/env bash
# Runs libFuzzer targets for a bounded time each; fails (non-zero) on any crash, leak, sanitizer
# report or timeout, leaving the input in build/fuzz/artifacts/TARGET/.
#   tools/fuzz.sh TARGET [SECONDS]     TARGET: model_loader | safetensors | npy | hf_config | tokenizer |
#                                      tokenizer_json | tokenize_wordpiece | tokenize_bpe | tokenize_unigram | all
# `all` builds every target in one build and runs them side by side, as many at a time as there
# are cores (ENCORE_FUZZ_JOBS overrides): a libFuzzer process uses one core, so each target gets
# its SECONDS of one core either way, in a fraction of the wall time.
# Seeds come from tests/fuzz/corpus/TARGET (committed; rewrite them with
# build/fuzz/tests/fuzz/encore-fuzz-seeds tests/fuzz/corpus); what the fuzzer finds beyond
# them accumulates in build/fuzz/corpus/TARGET across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(model_loader safetensors npy hf_config tokenizer tokenizer_json tokenize_wordpiece tokenize_bpe tokenize_unigram)
target="${1:?usage: tools/fuzz.sh TARGET|all [SECONDS]   (targets: ${targets[*]})}"
seconds="${2:-60}"
if [[ "$target" == all ]]; then
  run=("${targets[@]}")
else
  [[ " ${targets[*]} " == *" $target "* ]] || { echo "fuzz.sh: error: unknown target $target (${targets[*]})" >&2; exit 2; }
  run=("$target")
fi
jobs="${ENCORE_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: error: ENCORE_FUZZ_JOBS must be a positive integer, not '$jobs'" >&2; exit 2; }

tools/install-deps.sh --fuzz >/dev/null
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${run[@]/#/fuzz_}" >/dev/null

# fuzz_one TARGET: prints a short summary on success, libFuzzer's whole report on failure.
fuzz_one() {
  local t=$1
  local corpus="build/fuzz/corpus/$t" artifacts="build/fuzz/artifacts/$t" log="build/fuzz/$t.log"
  mkdir -p "$corpus" "$artifacts"
  # -rss_limit_mb bounds memory: an input must not make the loader allocate without bound.
  if ! "build/fuzz/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    # One write, so that a report does not interleave with another target's summary.
    printf '%s\nfuzz.sh: %s FAILED; reproducer in %s/\n' "$(cat "$log")" "$t" "$artifacts" >&2
    return 1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$log" | sed "s/^/fuzz.sh: $t: /"
}

(( jobs > ${#run[@]} )) && jobs=${#run[@]}
echo "fuzz.sh: ${run[*]}: $seconds s each, $jobs at a time"
failed=0 running=0
for t in "${run[@]}"; do
  if (( running == jobs )); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
while (( running > 0 )); do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
