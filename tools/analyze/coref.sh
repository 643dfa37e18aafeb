#!/usr/bin/env bash
# Which heads resolve "it"? The figures of README's "Why several heads?", on the coreference
# example model (tools/train/coref, int8):
#   tools/analyze/coref.sh
# Writes build/analyze-coref/: coref.int8.encore and coref.f32.encore; analysis.{txt,json,html}
# (encore-analyze on the 2,000 held-out sentences with the attention probe from "it" to its
# referent and the other noun, and the seed sentence's attention maps); attention.html
# (encore-inspect attention on the seed sentence); accuracy.txt (f32 and int8, by encore-run, on
# the held-out sentences, on held-out nouns or held-out frames alone, on held-out adjectives, and
# on new sentences of the training frames and nouns) and predicted-SET-QUANT.txt (the labels); analysis-val.{txt,json} (the
# same analysis on sentences of the training frames and nouns); and, when chromium is
# installed, PNG screenshots of the two pages.
set -euo pipefail
cd "$(dirname "$0")/../.."
ex=tools/train/coref
out=build/analyze-coref
seed="The animal didn't cross the street because it was too tired"
preset="${ENCORE_PRESET:-$([[ "${CI:-}" == true ]] && echo ci || echo release)}"
bin=build/$preset/tools
mkdir -p "$out"

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc 2>/dev/null || echo 2)" \
  --target encore-convert encore-analyze encore-inspect encore-run >/dev/null

"$bin/convert/encore-convert" "$ex" -o "$out/coref.int8.encore" --calib "$ex/calib_ids.npy" >/dev/null 2>&1
"$bin/convert/encore-convert" "$ex" -o "$out/coref.f32.encore" --quant f32 >/dev/null 2>&1

# accuracy MODEL TSV PREDICTED: accuracy on a text<TAB>label file, from encore-run's labels
# (written one a line to PREDICTED).
accuracy() {
  cut -f1 "$2" >"$out/texts.txt"
  "$bin/run/encore-run" "$1" --text-file "$out/texts.txt" --batch-size 64 |
    grep -o '"label":"[a-z]*"' | cut -d'"' -f4 | tee "$3" | paste - <(cut -f2 "$2") |
    awk '{ ok += $1 == $2 } END { printf "%.2f%% (%d of %d)", 100 * ok / NR, ok, NR }'
}
{
  for set in test test_new_nouns test_new_frames test_unseen_adj val; do
    for q in f32 int8; do
      echo "$set $q $(accuracy "$out/coref.$q.encore" "$ex/$set.tsv" "$out/predicted-$set-$q.txt")"
    done
  done
} | tee "$out/accuracy.txt"

"$bin/analyze/encore-analyze" "$out/coref.int8.encore" --eval "$ex/test.tsv" \
  --attention-probe "$ex/test_attention.tsv" --json "$out/analysis.json" --html "$out/analysis.html" \
  --text "$seed" 2>/dev/null | tee "$out/analysis.txt"
# The same on 2,000 sentences of the training frames and nouns (not training sentences): what the
# model learned, apart from how far it generalizes.
"$bin/analyze/encore-analyze" "$out/coref.int8.encore" --eval "$ex/val.tsv" \
  --attention-probe "$ex/val_attention.tsv" --json "$out/analysis-val.json" 2>/dev/null >"$out/analysis-val.txt"
"$bin/inspect/encore-inspect" attention "$out/coref.int8.encore" --text "$seed" -o "$out/attention.html" 2>/dev/null

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -n "$browser" ]]; then
  for page in attention analysis; do
    height=$([[ $page == attention ]] && echo 1400 || echo 1300)
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
      --disable-component-update --user-data-dir="$out/.chromium" --virtual-time-budget=5000 \
      --window-size=1480,"$height" --screenshot="$out/$page.png" "file://$PWD/$out/$page.html" >/dev/null 2>&1
  done
  echo "== screenshots: $out/attention.png, $out/analysis.png"
fi
echo "== done: $out/"
