#!/usr/bin/env bash
# A bounded load test of encore-serve on loopback (not a unit test; figures for the README).
#   tools/bench/serve_load.sh [REQUESTS] [CLIENTS]          default 2000 requests, 16 clients
# For the example model (/predict, one to four words per request, from its held-out words), a
# tiny sentence-transformers fixture (/v1/embeddings, one to four words) and a MiniLM-L6-shaped
# BERT with random weights (tools/reference/make_fixtures.py --shape minilm; /v1/embeddings,
# 4 to 40 words: mixed lengths; and 1 to 4 words: short texts, where one text alone is a small
# matrix product), each three ways:
#   1 client      one request at a time (latency without queueing)
#   N clients     N concurrent keep-alive clients, batching on (the token budget)
#   N, no batch   the same load with --max-batch-inputs 1 (each input its own run)
# Prints one line per run (requests, errors, seconds, requests/s, p50 / p90 / p99 latency) and
# the server's mean batch size from its /metrics. The client threads share the CPU with the
# server: on a small machine the figures include the load generator's own cost.
set -euo pipefail
cd "$(dirname "$0")/../.."
requests="${1:-2000}"
clients="${2:-16}"
bin=build/release
out=build/serve-load
mkdir -p "$out"
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target encore-serve encore-serve-load encore-convert >/dev/null
convert="$bin/tools/convert/encore-convert"
[[ -f "$out/langid.encore" ]] || "$convert" tools/train/langid -o "$out/langid.encore" --calib tools/train/langid/calib_ids.npy >/dev/null 2>&1
[[ -f "$out/st.encore" ]] || "$convert" tests/fixtures/st_minilm -o "$out/st.encore" --calib tests/fixtures/st_minilm/calib_ids.npy >/dev/null 2>&1
words=tools/train/langid/test.tsv

echo "== CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
# run LABEL MODEL ROUTE MIN_WORDS MAX_WORDS CONCURRENCY [SERVER OPTIONS...]; $load_options go to
# the load generator.
load_options=()
run() {
  local label=$1 model=$2 route=$3 min_words=$4 max_words=$5 concurrency=$6; shift 6
  "$bin/tools/serve/encore-serve" "$model" --port 0 "$@" >"$out/server.log" 2>&1 &
  local pid=$! url=""
  for _ in $(seq 1 100); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$out/server.log" | sed 's/listening on //' || true)
    [[ -n "$url" ]] && break
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "serve_load: error: the server did not start"; cat "$out/server.log"; kill "$pid"; exit 1; }
  local port=${url##*:}
  local result
  result=$("$bin/tools/bench/encore-serve-load" --port "$port" --route "$route" --words "$words" --requests "$requests" \
    --concurrency "$concurrency" --min-words "$min_words" --max-words "$max_words" "${load_options[@]}") || true
  local batch
  batch=$(curl -s "$url/metrics" | awk '/^encore_serve_batch_inputs_sum/ { s = $2 } /^encore_serve_batch_inputs_count/ { c = $2 }
    END { if (c > 0) printf "%.2f inputs per batch (%d batches)", s / c, c }')
  kill -TERM "$pid"
  wait "$pid"
  printf '%-34s %s  | %s\n' "$label" "$result" "$batch"
}

echo "== example model (langid, BERT 2 layers x 128, int8): POST /predict, 1-4 words, $requests requests"
run "1 client" "$out/langid.encore" /predict 1 4 1
run "$clients clients, batching" "$out/langid.encore" /predict 1 4 "$clients"
run "$clients clients, --max-batch-inputs 1" "$out/langid.encore" /predict 1 4 "$clients" --max-batch-inputs 1
load_options=(--truncate)  # the fixture takes 12 tokens; a few four-word texts have more
echo "== st_minilm fixture (BERT 2 layers x 32, int8, mean pooling): POST /v1/embeddings, 1-4 words, $requests requests"
run "1 client" "$out/st.encore" /v1/embeddings 1 4 1
run "$clients clients, batching" "$out/st.encore" /v1/embeddings 1 4 "$clients"
run "$clients clients, --max-batch-inputs 1" "$out/st.encore" /v1/embeddings 1 4 "$clients" --max-batch-inputs 1

minilm="$out/minilm.encore"
if [[ ! -f "$minilm" ]]; then
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    /usr/bin/python3 tools/reference/make_fixtures.py --shape minilm --out "$out/minilm_src" >/dev/null
    "$convert" "$out/minilm_src" -o "$minilm" --calib "$out/minilm_src/calib_ids.npy" >/dev/null 2>&1
  else
    echo "== MiniLM-shaped model skipped: making it needs Debian's python3-torch (tools/install-deps.sh --reference)"
    exit 0
  fi
fi
load_options=()
echo "== MiniLM-L6 shape (BERT 6 layers x 384, random weights, int8, CLS): POST /v1/embeddings, 4-40 words, $requests requests"
run "1 client" "$minilm" /v1/embeddings 4 40 1
run "$clients clients, batching" "$minilm" /v1/embeddings 4 40 "$clients"
run "$clients clients, --max-batch-inputs 1" "$minilm" /v1/embeddings 4 40 "$clients" --max-batch-inputs 1
echo "== the same, short texts: 1-4 words"
run "1 client" "$minilm" /v1/embeddings 1 4 1
run "$clients clients, batching" "$minilm" /v1/embeddings 1 4 "$clients"
run "$clients clients, --max-batch-inputs 1" "$minilm" /v1/embeddings 1 4 "$clients" --max-batch-inputs 1
