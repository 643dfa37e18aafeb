#!/usr/bin/env bash
# encore int8 and ONNX Runtime int8 alternated on one shape, pair after pair, for a shared
# machine whose load drifts: each pair runs both engines back to back, so a pair's ratio sees
# one load. The models are the files compare.sh leaves in build/compare (model.int8.encore,
# onnx/model.int8.onnx; copy them away before the next compare.sh run).
#   tools/bench/alternate.sh MODEL.encore MODEL.onnx --vocab V [--pairs 6] [--seq 128] [--runs 20]
#       [--avoid-id PAD]
# Prints per pair: encore median ms, ONNX Runtime median ms, their ratio, the 1-minute load
# average; then the median ratio. batch 1, 1 thread. Needs build/ort-peer (compare.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
enc="${1:?usage: tools/bench/alternate.sh MODEL.encore MODEL.onnx --vocab V [--pairs N] [--seq S] [--runs N] [--avoid-id PAD]}"
onnx="${2:?usage: tools/bench/alternate.sh MODEL.encore MODEL.onnx --vocab V}"
shift 2
pairs=6; seq=128; runs=20; vocab=; avoid=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) pairs="$2"; shift 2 ;;
    --seq) seq="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --vocab) vocab="$2"; shift 2 ;;
    --avoid-id) avoid=(--avoid-id "$2"); shift 2 ;;
    *) echo "alternate.sh: error: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$vocab" ]] || { echo "alternate.sh: error: --vocab is required" >&2; exit 2; }
export NODE_PATH="$PWD/build/ort-peer/node_modules"
py=/usr/bin/python3
json=$(mktemp)
trap 'rm -f "$json"' EXIT
ratios=()
for i in $(seq 1 "$pairs"); do
  build/release/tools/bench/encore-bench "$enc" --seq "$seq" --batch 1 --threads 1 --runs "$runs" --min-time 0 \
    --warmup 3 --json "$json" >/dev/null
  e=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['shapes'][0]['steady']['median_ms'])" "$json")
  o=$(node tools/bench/peers/ort_peer.js "$onnx" --engine ort_int8 --seq "$seq" --runs "$runs" --warmup 3 \
    --vocab "$vocab" "${avoid[@]}" | "$py" -c "import json,sys; print(json.load(sys.stdin)['median_ms'])")
  r=$("$py" -c "import sys; print(f'{float(sys.argv[2]) / float(sys.argv[1]):.3f}')" "$e" "$o")
  ratios+=("$r")
  printf '%d encore %.2f ms  ort %.2f ms  ratio %s  load %s\n' "$i" "$e" "$o" "$r" "$(cut -d' ' -f1 /proc/loadavg)"
done
"$py" -c "import statistics,sys; print(f'median ratio {statistics.median(map(float, sys.argv[1:])):.2f} over {len(sys.argv) - 1} pairs')" "${ratios[@]}"
