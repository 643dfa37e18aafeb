#!/usr/bin/env bash
# Tokenizer throughput of encore (encore-bench --tokenizer) and @huggingface/tokenizers (npm, the
# tokenizers of Transformers.js; tools/bench/tokenizer_js.js) on the same texts and the same
# tokenizer.json files, side by side:
#   tools/bench/tokenizer_compare.sh [--tokenizers A.json,B.json] [--rounds 3] [--min-time 1]
#       [--words 100] [--tokens N] [--max-texts N] [--model MODEL.encore]
# Default tokenizers: the fixtures in tests/fixtures/text_tokenizer (WordPiece cased / uncased,
# byte-level BPE in two layouts, XLM-R-style Unigram; their vocabularies have 777-2002 entries),
# plus wordpiece_uncased_30k: wordpiece_uncased filled up to BERT's 30522 entries with English
# words (of the license texts, then of Debian's wamerican when /usr/share/dict/words exists), so
# English words are mostly one token each as with a real BERT vocabulary.
# Texts: encore-bench's built-in corpus (the license texts in /usr/share/common-licenses in
# --words-word paragraphs), written once per tokenizer with --write-texts (cut to at most
# --tokens tokens when given) and read by both engines. Each round runs both engines once per
# tokenizer, so a shared machine's drifts hit both alike; a cell is the median over rounds.
# With --model, encore-bench also runs that model on every text (int8 or f32 as converted, one
# thread) and the last column is tokenization time / inference time.
# The npm package is installed once into build/tokenizer-goldens (the pinned version the golden
# script uses); after that everything runs offline. Optional tooling: the build and tests never
# need it.
set -euo pipefail
cd "$(dirname "$0")/../.."
tokenizers=""; rounds=3; min_time=1; words=100; tokens=0; max_texts=0; model=""
js_version=0.2.0  # as tools/reference/make_text_tokenizer_goldens.sh
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tokenizers) tokenizers="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --min-time) min_time="$2"; shift 2 ;;
    --words) words="$2"; shift 2 ;;
    --tokens) tokens="$2"; shift 2 ;;
    --max-texts) max_texts="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    *) echo "tokenizer_compare.sh: error: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v node >/dev/null || { echo "tokenizer_compare.sh: error: needs node and npm" >&2; exit 1; }
[[ -z "$model" || -f "$model" ]] || { echo "tokenizer_compare.sh: error: $model: no such model file" >&2; exit 1; }

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target encore-bench >/dev/null
bench=build/release/tools/bench/encore-bench
prefix=build/tokenizer-goldens
if [[ ! -d "$prefix/node_modules/@huggingface/tokenizers" ]]; then
  echo "== installing @huggingface/tokenizers@$js_version into $prefix (npm, once)"
  mkdir -p "$prefix"
  npm install --silent --ignore-scripts --no-audit --no-fund --prefix "$prefix" "@huggingface/tokenizers@$js_version" >/dev/null
fi
export NODE_PATH="$PWD/$prefix/node_modules"
work=build/tokenizer-compare
mkdir -p "$work"

if [[ -z "$tokenizers" ]]; then
  fx=tests/fixtures/text_tokenizer
  tokenizers="$fx/wordpiece_uncased.json,$fx/wordpiece_cased.json,$fx/bpe_roberta.json,$fx/bpe_template.json,$fx/unigram_xlmr.json"
  if [[ -f /usr/share/dict/words ]]; then
    # wordpiece_uncased filled up to 30522 entries, the fixture's own entries (and ids) unchanged:
    # first the lowercase words of the license texts by frequency (a real BERT vocabulary holds
    # every common English word whole), then wamerican's lowercase ASCII words, evenly spaced
    # over the dictionary.
    /usr/bin/python3 - "$fx/wordpiece_uncased.json" "$work/wordpiece_uncased_30k.json" <<'PY'
import collections, json, os, re, sys
j = json.load(open(sys.argv[1]))
vocab = j["model"]["vocab"]
lic = "/usr/share/common-licenses"
counts = collections.Counter()
for f in sorted(os.listdir(lic)):
    p = os.path.join(lic, f)
    if os.path.isfile(p) and not os.path.islink(p):
        counts.update(re.findall(r"[a-z]+", open(p, encoding="utf-8", errors="replace").read().lower()))
words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
dictionary = [w.strip().lower() for w in open("/usr/share/dict/words", encoding="utf-8")]
dictionary = [w for w in dictionary if w.isascii() and w.isalpha()]
step = max(1, len(dictionary) // 30522)
for w in words + dictionary[::step] + dictionary:
    if len(vocab) >= 30522:
        break
    if w not in vocab:
        vocab[w] = len(vocab)
json.dump(j, open(sys.argv[2], "w"), ensure_ascii=False)
PY
    tokenizers="$tokenizers,$work/wordpiece_uncased_30k.json"
  fi
fi
IFS=, read -r -a tok_arr <<<"$tokenizers"

corpus_args=(--words "$words")
[[ $tokens -gt 0 ]] && corpus_args+=(--tokens "$tokens")
[[ $max_texts -gt 0 ]] && corpus_args+=(--max-texts "$max_texts")
for t in "${tok_arr[@]}"; do
  name=$(basename "$t" .json)
  "$bench" --tokenizer "$t" "${corpus_args[@]}" --write-texts "$work/$name.texts" --min-time 0 --runs 1 >/dev/null
done

results="$work/results.jsonl"
: >"$results"
for round in $(seq 1 "$rounds"); do
  echo "== round $round/$rounds"
  for t in "${tok_arr[@]}"; do
    name=$(basename "$t" .json)
    "$bench" ${model:+"$model"} --tokenizer "$t" --texts "$work/$name.texts" --min-time "$min_time" \
      --json "$work/encore.json" >/dev/null
    node tools/bench/tokenizer_js.js "$t" --texts "$work/$name.texts" --min-time "$min_time" \
      --json "$work/js.json" >/dev/null
    /usr/bin/python3 - "$name" "$work/encore.json" "$work/js.json" >>"$results" <<'PY'
import json, sys
name, e, j = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
row = {"name": name, "kind": e["tokenizer"]["kind"], "encore": e["tokenizer"]["timing"], "js": j["tokenizer"]["timing"],
       "js_engine": j["engine"], "cpu": e["cpu"]}
if "inference" in e:
    row["inference"] = e["inference"]
    row["ratio"] = e["tokenization_over_inference"]
print(json.dumps(row))
PY
  done
done

/usr/bin/python3 - "$results" <<'PY'
import json, re, statistics, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = list(dict.fromkeys(r["name"] for r in rows))
med = lambda v: statistics.median(v)
cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
flags = open("/proc/cpuinfo").read()
simd = [f for f in ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni") if re.search(rf"\b{f}\b", flags)]
print(f"\n{cpu.group(1) if cpu else '?'} ({' '.join(simd)}), {datetime.date.today()}, "
      f"{len([r for r in rows if r['name'] == names[0]])} rounds; encore vs {rows[0]['js_engine']}")
print("one text at a time, one thread; cells: median over rounds of each run's median pass; x = encore texts/s / JS texts/s;")
print("cpu share: process CPU time / wall time while timing (below 1: other jobs took turns on the core; node's counts its GC threads)")
inf = any("ratio" in r for r in rows)
head = "| tokenizer | kind | texts | tokens/text | encore texts/s | encore MB/s | encore us/text | JS texts/s | JS MB/s | JS us/text | encore / JS | cpu share encore / JS |"
if inf:
    head += " inference us/text | inference cpu share | tokenization / inference |"
print(head)
print("|---" * (head.count("|") - 1) + "|")
for n in names:
    rs = [r for r in rows if r["name"] == n]
    e, j = rs[0]["encore"], rs[0]["js"]
    et, jt = med([r["encore"]["texts_per_s"] for r in rs]), med([r["js"]["texts_per_s"] for r in rs])
    line = (f"| {n} | {rs[0]['kind']} | {e['texts']} | {e['tokens'] / e['texts']:.1f} | {et:.0f} | "
            f"{med([r['encore']['mb_per_s'] for r in rs]):.2f} | {med([r['encore']['us_per_text'] for r in rs]):.1f} | "
            f"{jt:.0f} | {med([r['js']['mb_per_s'] for r in rs]):.2f} | {med([r['js']['us_per_text'] for r in rs]):.1f} | "
            f"{et / jt:.1f}x | {med([r['encore']['cpu_share'] for r in rs]):.2f} / {med([r['js']['cpu_share'] for r in rs]):.2f} |")
    if inf:
        line += (f" {med([r['inference']['us_per_text'] for r in rs]):.0f} | "
                 f"{med([r['inference']['cpu_share'] for r in rs]):.2f} | "
                 f"{100 * med([r['ratio'] for r in rs]):.2f}% |")
    print(line)
PY
