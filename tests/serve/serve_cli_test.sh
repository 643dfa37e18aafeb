#!/usr/bin/env bash
# encore-serve from the outside, with curl: --help, start-up errors (one line, non-zero exit),
# every route, embeddings equal to encore-run's for the same texts, and SIGTERM with requests in
# flight (each accepted request answered, then exit 0).
#   serve_cli_test.sh ENCORE_SERVE ENCORE_RUN MODEL_DIR SOURCE_DIR [openai]
# With "openai": the official openai npm client instead (tests/serve/openai_client.js), from
# SOURCE_DIR/build/npm-openai (tools/install-deps.sh --serve); exit 77 (skipped) when it is not
# installed, unless ENCORE_REQUIRE_OPENAI=1.
set -u
serve="$1"; run="$2"; models="$3"; src="$4"; mode="${5:-}"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
# Debian's python3 when a pyenv one comes first on PATH (faster to start; only json is used).
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
# The openai client runs natively only (CI's openai stage): what it checks beyond curl is the
# client library's reading of the JSON, not the CPU's arithmetic; under emulation the curl
# part (serve_cli_test) compares the same embeddings with encore-run's.
if [[ "$mode" == "openai" && -n "${ENCORE_TEST_EMULATOR:-}" ]]; then
  echo "SKIP openai client: runs on native builds only; under emulation serve_cli_test checks the same embeddings with curl"
  exit 77
fi
failures=0; passed=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
pass() { passed=$((passed + 1)); }
wait_s=20
if [[ -n "${ENCORE_TEST_EMULATOR:-}" ]]; then
  wait_s=200
  mkdir "$tmp/bin"
  for b in "$serve" "$run"; do
    w="$tmp/bin/$(basename "$b")"
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$ENCORE_TEST_EMULATOR" "$b" >"$w" && chmod +x "$w"
  done
  serve="$tmp/bin/$(basename "$serve")"; run="$tmp/bin/$(basename "$run")"
fi

# start NAME ARGS...: runs encore-serve ARGS --port 0 in the background; sets $url and $pid.
start() {
  local name=$1; shift
  "$serve" "$@" --port 0 >"$tmp/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  url=""
  for _ in $(seq 1 $((wait_s * 10))); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$tmp/$name.log" | sed 's/listening on //')
    [[ -n "$url" ]] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "$name: server did not start:"; cat "$tmp/$name.log"
  return 1
}

st="$models/st.encore"
texts=("hello world" "Schmetterling und Falter" "a" "the quick brown fox")
"$run" "$st" "${texts[@]/#/--text=}" --normalize >"$tmp/expected.jsonl" || fail "encore-run --normalize"
"$run" "$st" "${texts[@]/#/--text=}" --dimensions 8 >"$tmp/dims.jsonl" || fail "encore-run --dimensions"

if [[ "$mode" == "openai" ]]; then
  module="$src/build/npm-openai/node_modules/openai"
  if ! command -v node >/dev/null || [[ ! -d "$module" ]]; then
    reason="the openai npm package is not installed in build/npm-openai (tools/install-deps.sh --serve)"
    command -v node >/dev/null || reason="node is not installed (tools/install-deps.sh --serve)"
    if [[ "${ENCORE_REQUIRE_OPENAI:-}" == "1" ]]; then echo "FAIL openai client: $reason"; exit 1; fi
    echo "SKIP openai client: $reason"
    exit 77
  fi
  start openai "$st" || exit 1
  node "$(dirname "$0")/openai_client.js" "$module" "$url/v1" "$tmp/expected.jsonl" "$tmp/dims.jsonl" || exit 1
  exit 0
fi

# --help names every option and route.
help=$("$serve" --help 2>&1) || fail "--help: non-zero exit"
for word in --host --port --threads --workers --max-batch-tokens --max-queue --max-input-tokens --max-items \
            --max-body-bytes --timeout --http-threads --read-timeout --model-name --pooling --version \
            /v1/embeddings /embed /predict /rerank /tokenize /health /info /metrics SIGTERM 429 413; do
  if grep -q -- "$word" <<<"$help"; then pass; else fail "--help does not mention $word"; fi
done

# fails NAME EXIT TEXT CMD...: exit code EXIT and one stderr line containing TEXT.
fails() {
  local name=$1 code=$2 text=$3; shift 3
  timeout "$wait_s" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [[ $rc -ne $code ]]; then fail "$name: exit $rc, expected $code"; cat "$tmp/err"; return; fi
  if [[ $(wc -l <"$tmp/err") -ne 1 ]] || ! grep -q -- "$text" "$tmp/err"; then
    fail "$name: expected one line with '$text', got:"; cat "$tmp/err"; return
  fi
  pass
}
fails "no model" 2 "model is required" "$serve"
fails "missing model" 1 "encore-serve: error: .*cannot open" "$serve" "$tmp/none.encore" --port 0
fails "unknown pooling" 2 "pooling" "$serve" "$st" --pooling max
fails "input limit over the model's" 1 "--max-input-tokens 100 is more than the model's limit of 12 tokens" \
  "$serve" "$st" --port 0 --max-input-tokens 100
fails "zero workers" 1 "--workers 0: must be at least 1" "$serve" "$st" --port 0 --workers 0

start st "$st" --model-name mini || exit 1
port=${url##*:}
fails "port in use" 1 "cannot bind to 127.0.0.1:$port" "$serve" "$st" --port "$port"

# req NAME STATUS METHOD PATH [BODY]: the response body in $tmp/body.
req() {
  local name=$1 status=$2 method=$3 path=$4 body=${5:-}
  local got
  if [[ "$method" == GET ]]; then
    got=$(curl -s -o "$tmp/body" -w '%{http_code}' "$url$path")
  else
    got=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$body" "$url$path")
  fi
  if [[ "$got" != "$status" ]]; then fail "$name: HTTP $got, expected $status: $(head -c 300 "$tmp/body")"; return 1; fi
  pass
}
req health 200 GET /health && grep -q '"ok"' "$tmp/body" || fail "health body"
req info 200 GET /info && grep -q '"model_id":"mini"' "$tmp/body" || fail "info: model name"

# Embeddings equal encore-run's, value for value (both print floats as JSON doubles).
json_texts=$(printf '%s\n' "${texts[@]}" | "$py" -c 'import json,sys; print(json.dumps([l.rstrip("\n") for l in sys.stdin]))')
compare() { # compare NAME EXPECTED_JSONL FIELD: the embeddings of $tmp/body (OpenAI's or TEI's shape)
  "$py" - "$tmp/body" "$2" <<'EOF' || fail "$1: embeddings differ from encore-run's"
import json, sys
body = json.load(open(sys.argv[1]))
rows = [d["embedding"] for d in body["data"]] if isinstance(body, dict) else body
want = [json.loads(l)["embedding"] for l in open(sys.argv[2])]
sys.exit(0 if rows == want else 1)
EOF
}
req "v1/embeddings" 200 POST /v1/embeddings "{\"input\": $json_texts, \"model\": \"mini\"}" && compare "v1/embeddings" "$tmp/expected.jsonl"
grep -q '"model":"mini"' "$tmp/body" && grep -q '"usage":{"prompt_tokens":' "$tmp/body" || fail "v1/embeddings: model and usage"
req "v1/embeddings dimensions" 200 POST /v1/embeddings "{\"input\": $json_texts, \"dimensions\": 8}" &&
  compare "v1/embeddings dimensions" "$tmp/dims.jsonl"
req "embed" 200 POST /embed "{\"inputs\": $json_texts}" && compare "embed" "$tmp/expected.jsonl"
req "tokenize" 200 POST /tokenize '{"inputs": "hello world"}' && grep -q '"special":true' "$tmp/body" || fail "tokenize body"
req "predict on an embedding model" 424 POST /predict '{"inputs": "a"}'
req "bad JSON" 400 POST /embed '{"inputs": '
req "wrong type" 422 POST /embed '{"inputs": 3}'
req "unknown route" 404 GET /v2/nothing
req "metrics" 200 GET /metrics && grep -q '^encore_serve_requests_total{route="/embed",code="200"} 1$' "$tmp/body" ||
  fail "metrics: /embed count"

# The example model (a classifier) and a cross-encoder.
start langid "$models/langid.encore" || exit 1
req "predict" 200 POST /predict '{"inputs": "Schmetterling"}' && grep -q '^\[{"label":"german"' "$tmp/body" ||
  fail "predict: Schmetterling is not german first: $(head -c 200 "$tmp/body")"
req "rerank on a 9-label classifier" 424 POST /rerank '{"query": "a", "texts": ["b"]}'
start rerank "$models/rerank.encore" || exit 1
req "rerank" 200 POST /rerank '{"query": "a b", "texts": ["a", "b c", "d"], "return_text": true}' &&
  "$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); s=[x["score"] for x in r]; sys.exit(0 if sorted(x["index"] for x in r)==[0,1,2] and s==sorted(s, reverse=True) and all(0<v<1 for v in s) else 1)' "$tmp/body" ||
  fail "rerank: ranks"

# SIGTERM with requests still arriving: three bodies streamed (chunked) with a 2 s pause in the
# middle. The server stops listening at once, answers the three accepted requests, exits 0.
start term "$st" || exit 1
curls=()
for i in 1 2 3; do
  { printf '{"input": ["a", '; sleep 2; printf '"hello world"]}'; } |
    curl -s -o "$tmp/slow$i" -w '%{http_code}' -X POST -T - -H 'Content-Type: application/json' "$url/v1/embeddings" \
      >"$tmp/slow$i.code" &
  curls+=($!)
done
sleep 1
kill -TERM "$pid"
sleep 0.3
if curl -s -o /dev/null --max-time 2 "$url/health"; then fail "SIGTERM: still accepting connections"; else pass; fi
wait "$pid"; rc=$?
[[ $rc -eq 0 ]] && pass || fail "SIGTERM: exit $rc"
grep -q "stopped" "$tmp/term.log" && pass || fail "SIGTERM: no 'stopped' line"
wait "${curls[@]}"
for i in 1 2 3; do
  if [[ "$(cat "$tmp/slow$i.code")" == 200 ]] && grep -q '"index":1' "$tmp/slow$i"; then pass; else
    fail "SIGTERM: request $i in flight got $(cat "$tmp/slow$i.code")"; fi
done

echo "serve_cli_test: $passed passed, $failures failed"
[[ $failures -eq 0 ]]
