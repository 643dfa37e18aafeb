#!/usr/bin/env bash
# What the example model's heads and FFNs do, an automatically pruned copy, and how much
# faster it runs: the figures of README's "What do the heads do?".
#   tools/analyze/example.sh [MAX_ACCURACY_DROP] [ROUNDS]      (defaults: 0.5 points, 7 rounds)
# Writes build/analyze-example/: the int8 model and its pruned copy (langid.pruned-DROP.encore),
# analysis.{txt,json,html}, attention.html, prune-DROP.txt, bench-DROP.txt and, when chromium
# is installed, PNG screenshots of the two HTML pages.
# Timing: encore-bench on both models in alternating rounds (so load and clock drift hit both
# alike), one thread; the ratio is of the medians of the per-round medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
drop="${1:-0.5}"
rounds="${2:-7}"
ex=tools/train/langid
out=build/analyze-example
# The build to use: ENCORE_PRESET, else ci under CI=true (the tree CI already built), else release.
preset="${ENCORE_PRESET:-$([[ "${CI:-}" == true ]] && echo ci || echo release)}"
bin=build/$preset/tools
mkdir -p "$out"

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc 2>/dev/null || echo 2)" \
  --target encore-convert encore-analyze encore-inspect encore-bench >/dev/null

echo "== int8 model ($ex)"
"$bin/convert/encore-convert" "$ex" -o "$out/langid.encore" --calib "$ex/calib_ids.npy" >/dev/null 2>&1

echo "== encore-analyze on all 5,400 test words"
"$bin/analyze/encore-analyze" "$out/langid.encore" --eval "$ex/test.tsv" --json "$out/analysis.json" \
  --html "$out/analysis.html" --text Schmetterling 2>/dev/null | tee "$out/analysis.txt"
"$bin/inspect/encore-inspect" attention "$out/langid.encore" --text Schmetterling -o "$out/attention.html" 2>/dev/null

echo "== automatic pruning within $drop points: tuned on the even rows of test.tsv, held out: the odd rows"
"$bin/convert/encore-convert" "$ex" -o "$out/langid.pruned-$drop.encore" --calib "$ex/calib_ids.npy" \
  --prune-heads auto --prune-ffn auto --max-accuracy-drop "$drop" --eval "$ex/test.tsv" 2>"$out/prune-$drop.log" |
  sed -n '/pruning:/,$p' | tee "$out/prune-$drop.txt"

echo "== encore-bench, $rounds alternating rounds per model, 1 thread, seq 8 and 16 (median ms per round)"
: >"$out/bench-$drop.txt"
for ((r = 1; r <= rounds; ++r)); do
  for model in langid "langid.pruned-$drop"; do
    # The JSON report has the medians at full precision (the table rounds to microseconds).
    "$bin/bench/encore-bench" "$out/$model.encore" --seq 8,16 --runs 300 --min-time 1 --warmup 50 \
      --json "$out/bench.json" >/dev/null
    grep -o '"median_ms": [0-9.e+-]*' "$out/bench.json" | awk -v m="$model" '{ print m, NR == 1 ? 8 : 16, $2 }' \
      >>"$out/bench-$drop.txt"
  done
done
for seq in 8 16; do
  awk -v seq="$seq" '
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; ++i) for (j = i; j > 1 && a[j - 1] > a[j]; --j) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $2 == seq && $1 == "langid" { u[++nu] = $3 }
    $2 == seq && $1 ~ /pruned/ { p[++np] = $3 }
    END {
      mu = median(u, nu); mp = median(p, np)
      printf "seq %2d: unpruned %.4f ms, pruned %.4f ms (medians of %d rounds): %.3fx as fast\n", seq, mu, mp, nu, mu / mp
    }' "$out/bench-$drop.txt"
done | tee "$out/bench-summary-$drop.txt"

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -n "$browser" ]]; then
  for page in attention analysis; do
    height=$([[ $page == attention ]] && echo 600 || echo 1250)
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
      --disable-component-update --user-data-dir="$out/.chromium" --virtual-time-budget=5000 \
      --window-size=1100,"$height" --screenshot="$out/$page.png" "file://$PWD/$out/$page.html" >/dev/null 2>&1
  done
  echo "== screenshots: $out/attention.png, $out/analysis.png"
fi
echo "== done: $out/"
