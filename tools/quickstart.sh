#!/usr/bin/env bash
# First run: installs dependencies, builds encore, converts the example model (a small BERT
# trained to tell which of nine languages a word is from, tools/train/langid) to int8 and f32,
# classifies a few words, measures both models' accuracy on the held-out test words and, if
# encore-bench is built, prints the per-layer latency profile of the int8 model.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
echo "== building (build/release)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target encore-convert encore-run encore-bench encore-serve >/dev/null
bin=build/release/tools
ex=tools/train/langid
out=build/quickstart
mkdir -p "$out"

echo "== converting $ex (BertForSequenceClassification, 9 languages) to int8 and f32"
"$bin/convert/encore-convert" "$ex" -o "$out/langid.int8.encore" --calib "$ex/calib_ids.npy" | grep -E "size:|calibration:"
"$bin/convert/encore-convert" "$ex" -o "$out/langid.f32.encore" --quant f32 | grep "size:"

echo "== classifying words with the int8 model"
"$bin/run/encore-run" "$out/langid.int8.encore" --text Schmetterling --text butterfly --text papillon \
  --text mariposa --text farfalla --text borboleta --text vlinder --text fjäril --text motyl |
  sed -E 's/,"logits":.*$/}/'

# Accuracy on the held-out words: the label each model prints against test.tsv's.
words="$out/test_words.txt"
cut -f1 "$ex/test.tsv" >"$words"
for q in f32 int8; do
  "$bin/run/encore-run" "$out/langid.$q.encore" --text-file "$words" --batch-size 64 |
    sed -E 's/.*"label":"([^"]*)".*/\1/' >"$out/predicted.$q.txt"
  paste <(cut -f2 "$ex/test.tsv") "$out/predicted.$q.txt" |
    awk -v q="$q" '{ n++; ok += ($1 == $2) } END { printf "== %s model: test accuracy %.2f%% (%d of %d words)\n", q, 100 * ok / n, ok, n }'
done
if [[ -x "$bin/bench/encore-bench" ]]; then
  echo "== int8 latency per layer (encore-bench --profile, 8 tokens, 1 thread)"
  "$bin/bench/encore-bench" "$out/langid.int8.encore" --seq 8 --runs 50 --profile | sed -n '/^layer/,/^time outside/p'
fi
echo "== done: models and outputs are in $out/"
