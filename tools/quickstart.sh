#!/usr/bin/env bash
# First run: installs dependencies, builds encore, converts the PyTorch-made fixture classifier
# to int8 and f32, runs both and prints their outputs and agreement with PyTorch float.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
echo "== building (build/release)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target encore-convert encore-run >/dev/null
bin=build/release/tools
fx=tests/fixtures/tiny_cls
out=build/quickstart
mkdir -p "$out"

echo "== converting $fx (a BertForSequenceClassification checkpoint) to int8"
"$bin/convert/encore-convert" "$fx" -o "$out/tiny_cls.int8.encore" --calib "$fx/calib_ids.npy"
echo "== converting $fx to f32"
"$bin/convert/encore-convert" "$fx" -o "$out/tiny_cls.f32.encore" --quant f32 | head -2

for q in int8 f32; do
  echo "== running the $q model on $fx/input_ids.npy; reference: PyTorch float logits"
  "$bin/run/encore-run" "$out/tiny_cls.$q.encore" --input-ids "$fx/input_ids.npy" \
    --attention-mask "$fx/attention_mask.npy" --token-type-ids "$fx/token_type_ids.npy" \
    --output logits -o "$out/logits.$q.npy" --reference "$fx/logits.npy"
done
echo "== done: models and outputs are in $out/"
