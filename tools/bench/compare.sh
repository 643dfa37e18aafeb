#!/usr/bin/env bash
# Side-by-side latency and accuracy of encore and the engines users would otherwise pick, on one
# Hugging Face encoder directory (bert, distilbert, roberta, xlm-roberta, camembert, electra, and
# modernbert: a ModernBertModel directory such as tools/reference/modernbert.py --shape writes), on
# this machine, in one go:
#   tools/bench/compare.sh MODEL_DIR [--seq 16,128,512] [--batch 1,8] [--threads 1,2] [--rounds 3] [--runs 5]
#       [--max-tokens N] [--no-ort]
# Engines: encore int8 and f32 (encore-bench), ONNX Runtime int8 and fp32 (tools/bench/peers/
# ort_export.py builds the graphs, ort_peer.js runs them with the npm package onnxruntime-node,
# installed once into build/ort-peer; --no-ort skips it), PyTorch fp32 and quantize_dynamic int8
# (tools/bench/peers/torch_peer.py, Debian's python3-torch). Each round runs every engine once
# per shape, so slow drifts of a shared machine hit all engines alike; a cell is the median over
# rounds of each round's median. Accuracy: per-token cosine of each engine's last_hidden_state
# against PyTorch fp32 on one fixed batch. encore int8 is what encore-convert writes by default (with
# the quality gate, minutes on a base-size model); when the gate keeps blocks in f32, the model with
# every block in int8 runs beside it (encore_int8_all). Optional tooling: the build and tests never need it.
set -euo pipefail
cd "$(dirname "$0")/../.."
model_dir="${1:?usage: tools/bench/compare.sh MODEL_DIR [--seq L] [--batch L] [--threads L] [--rounds N] [--runs N]}"
shift
seqs=16,128,512; batches=1; threads_list=1; rounds=3; runs=5; max_tokens=0; ort=1
ort_version=1.30.0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seq) seqs="$2"; shift 2 ;;
    --batch) batches="$2"; shift 2 ;;
    --threads) threads_list="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --max-tokens) max_tokens="$2"; shift 2 ;;  # skip shapes with batch x seq above N
    --no-ort) ort=0; shift ;;
    *) echo "compare.sh: error: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -f "$model_dir/config.json" ]] || { echo "compare.sh: error: $model_dir has no config.json" >&2; exit 1; }
py=/usr/bin/python3
"$py" -c "import torch" 2>/dev/null || { echo "compare.sh: error: needs Debian's python3-torch (tools/install-deps.sh --reference)" >&2; exit 1; }

vocab=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$model_dir/config.json")
# RoBERTa-likes number positions over the ids that are not the pad id: random ids must avoid
# it (tools/bench/peers/torch_peer.py avoid_pad does the same for its timed ids).
avoid_id=$("$py" -c "import json,sys; c=json.load(open(sys.argv[1])); print(c.get('pad_token_id', 1) if c.get('model_type') in ('roberta','xlm-roberta','camembert') else '')" "$model_dir/config.json")
avoid=()
[[ -n "$avoid_id" ]] && avoid=(--avoid-id "$avoid_id")

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target encore-convert encore-run encore-bench >/dev/null
bin=build/release/tools
work=build/compare
mkdir -p "$work"
calib=()
[[ -f "$model_dir/calib_ids.npy" ]] && calib=(--calib "$model_dir/calib_ids.npy")
echo "== converting $model_dir"
"$bin/convert/encore-convert" "$model_dir" -o "$work/model.int8.encore" "${calib[@]}" 2>/dev/null >"$work/convert.log"
grep -E "size:|quality gate: (passed|failed)" "$work/convert.log"
"$bin/convert/encore-convert" "$model_dir" -o "$work/model.f32.encore" --quant f32 >/dev/null
# When the quality gate kept blocks in f32, the model with every block in int8 runs too
# (engine encore_int8_all), so the speed of each accuracy level is on the table.
encore_q=(int8 f32)
if grep -qE "quality gate: passed; [1-9][0-9]* of" "$work/convert.log"; then
  "$bin/convert/encore-convert" "$model_dir" -o "$work/model.int8_all.encore" "${calib[@]}" --no-quality-gate \
    >/dev/null 2>&1
  encore_q=(int8 int8_all f32)
fi

# Accuracy batch: 4 sequences of 128 tokens (or the model's maximum), fixed seed.
"$py" - "$model_dir" "$work" "$avoid_id" <<'PY'
import json, sys, numpy as np
d, work, avoid = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = json.load(open(d + "/config.json"))
S = min(128, cfg["max_position_embeddings"])
ids = np.random.default_rng(1).integers(0, cfg["vocab_size"], size=(4, S))
if avoid:
    ids[ids == int(avoid)] = int(avoid) + 1
np.save(work + "/acc_ids.npy", ids)
PY
for q in "${encore_q[@]}"; do
  "$bin/run/encore-run" "$work/model.$q.encore" --input-ids "$work/acc_ids.npy" -o "$work/acc.encore_$q.npy" >/dev/null 2>"$work/run.log" || { cat "$work/run.log" >&2; exit 1; }
done
"$py" tools/bench/peers/torch_peer.py "$model_dir" --seq 8 --runs 1 --warmup 0 --ids "$work/acc_ids.npy" \
  --out-prefix "$work/acc" >/dev/null 2>&1

ort_engines=()
if [[ $ort == 1 ]]; then
  command -v node >/dev/null || { echo "compare.sh: error: ONNX Runtime needs node and npm (or pass --no-ort)" >&2; exit 1; }
  "$py" -c "import onnx" 2>/dev/null || { echo "compare.sh: error: ONNX export needs python3-onnx (tools/install-deps.sh --reference)" >&2; exit 1; }
  if [[ ! -d build/ort-peer/node_modules/onnxruntime-node ]]; then
    echo "== installing onnxruntime-node@$ort_version into build/ort-peer (npm, once)"
    mkdir -p build/ort-peer
    npm install --silent --ignore-scripts --no-audit --no-fund --prefix build/ort-peer "onnxruntime-node@$ort_version" >/dev/null
  fi
  export NODE_PATH="$PWD/build/ort-peer/node_modules"
  echo "== exporting ONNX graphs"
  "$py" tools/bench/peers/ort_export.py "$model_dir" "$work/onnx" 2>&1 | grep "ort_export:"
  for q in int8 fp32; do
    node tools/bench/peers/ort_peer.js "$work/onnx/model.$q.onnx" --engine "ort_$q" --seq 8 --runs 1 --warmup 0 \
      --vocab "$vocab" "${avoid[@]}" --ids "$work/acc_ids.npy" --out "$work/acc.ort_$q.npy" >/dev/null
  done
  ort_engines=(ort_int8 ort_fp32)
fi

results="$work/results.jsonl"
: >"$results"
IFS=, read -r -a seq_arr <<<"$seqs"
IFS=, read -r -a batch_arr <<<"$batches"
IFS=, read -r -a thread_arr <<<"$threads_list"
for round in $(seq 1 "$rounds"); do
  echo "== round $round/$rounds"
  for t in "${thread_arr[@]}"; do
    for b in "${batch_arr[@]}"; do
      for s in "${seq_arr[@]}"; do
        if [[ $max_tokens -gt 0 && $((b * s)) -gt $max_tokens ]]; then continue; fi
        for q in "${encore_q[@]}"; do
          "$bin/bench/encore-bench" "$work/model.$q.encore" --seq "$s" --batch "$b" --threads "$t" --runs "$runs" \
            --min-time 0 --warmup 2 --json "$work/bench.json" >/dev/null
          "$py" -c "import json,sys; j=json.load(open('$work/bench.json')); sh=j['shapes'][0]; print(json.dumps({'engine':'encore_$q','seq':sh['seq'],'batch':sh['batch'],'threads':j['threads'],'median_ms':sh['steady']['median_ms']}))" >>"$results"
        done
        for e in "${ort_engines[@]}"; do
          node tools/bench/peers/ort_peer.js "$work/onnx/model.${e#ort_}.onnx" --engine "$e" --seq "$s" --batch "$b" \
            --threads "$t" --runs "$runs" --vocab "$vocab" "${avoid[@]}" >>"$results"
        done
        "$py" tools/bench/peers/torch_peer.py "$model_dir" --seq "$s" --batch "$b" --threads "$t" --runs "$runs" \
          2>/dev/null >>"$results"
      done
    done
  done
done

"$py" - "$results" "$work" <<'PY'
import json, statistics, sys, numpy as np
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
work = sys.argv[2]
ref = np.load(work + "/acc.torch_fp32.npy").astype(np.float64)
def cos(name):
    try:
        h = np.load(f"{work}/acc.{name}.npy").astype(np.float64)
    except FileNotFoundError:
        return None
    c = (h * ref).sum(-1) / np.linalg.norm(h, axis=-1) / np.linalg.norm(ref, axis=-1)
    return float(c.mean()), float(c.min())
engines = [e for e in ["encore_int8", "encore_int8_all", "encore_f32", "ort_int8", "ort_fp32", "torch_int8", "torch_fp32"]
           if any(r["engine"] == e for r in rows)]
acc = {e: cos(e) for e in engines}
cells = {}
for r in rows:
    cells.setdefault((r["threads"], r["batch"], r["seq"], r["engine"]), []).append(r["median_ms"])
shapes = sorted({k[:3] for k in cells})
import datetime, platform, re
cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
print(f"\n{cpu.group(1) if cpu else platform.machine()}, {datetime.date.today()}, {len(rows)} runs")
print("median ms (median over rounds); x = time / encore int8 time; accuracy = per-token cosine vs PyTorch fp32 (mean / min)")
if "encore_int8_all" in engines:
    print("encore_int8: as encore-convert writes it (the quality gate kept some blocks f32); encore_int8_all: every block int8")
print("| threads | batch | seq | " + " | ".join(engines) + " |")
print("|---|---|---|" + "---|" * len(engines))
for t, b, s in shapes:
    base = statistics.median(cells[(t, b, s, "encore_int8")])
    out = []
    for e in engines:
        v = cells.get((t, b, s, e))
        out.append(f"{statistics.median(v):.2f} ({statistics.median(v) / base:.2f}x)" if v else "-")
    print(f"| {t} | {b} | {s} | " + " | ".join(out) + " |")
print("| accuracy | | | " + " | ".join(f"{a[0]:.5f} / {a[1]:.4f}" if a else "-" for a in acc.values()) + " |")
PY
