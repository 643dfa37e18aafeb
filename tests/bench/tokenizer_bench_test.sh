#!/usr/bin/env bash
# encore-bench --tokenizer, briefly: the report has its fields (texts/s, MB/s, tokens/s, us per
# text; with a model, the inference and the ratio), the JSON report too, --tokens cuts texts, and
# bad uses fail with one line. The numbers themselves are not checked (a benchmark, not a timed
# test).
set -u
bench="$1"; convert="$2"; fixtures="$3"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
if [[ -n "${ENCORE_TEST_EMULATOR:-}" ]]; then
  run() { $ENCORE_TEST_EMULATOR "$@"; }
else
  run() { "$@"; }
fi
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
has() { # has FILE REGEX WHAT
  grep -Eq -- "$2" "$1" || { fail "$3: no match for '$2' in:"; cat "$1"; }
}

tok="$fixtures/text_tokenizer/wordpiece_uncased.json"
printf '%s\n' "The quick brown fox jumps over the lazy dog." "Hello, World!" "" \
  "Licensed under the Apache License, Version 2.0 (the \"License\"); you may not use this file except in compliance." \
  >"$tmp/texts.txt"

# A tokenizer.json on a texts file, with the JSON report.
if run "$bench" --tokenizer "$tok" --texts "$tmp/texts.txt" --min-time 0.05 --json "$tmp/t.json" >"$tmp/out" 2>"$tmp/err"; then
  has "$tmp/out" '^4 texts, [0-9.]+ KB, [0-9]+ tokens with special tokens' "texts line"
  has "$tmp/out" '\(WordPiece\)' "kind"
  has "$tmp/out" 'passes in [0-9.]+ s \(cpu share [0-9.]+\); median pass [0-9.]+ ms .*: [0-9]+ texts/s, [0-9.]+ MB/s, [0-9]+ tokens/s, [0-9.]+ us per text$' "throughput line"
  for k in '"texts": 4' '"bytes": ' '"tokens": ' '"texts_per_s": ' '"mb_per_s": ' '"tokens_per_s": ' '"us_per_text": ' \
           '"median_ms": ' '"cpu_share": ' '"kind": "WordPiece"' '"cpu": '; do
    has "$tmp/t.json" "$k" "json"
  done
else
  fail "tokenizer.json on a texts file: exit $?"; cat "$tmp/err"
fi

# The built-in corpus (Debian's license texts), cut to 16 tokens per text, written back out.
if [[ -d /usr/share/common-licenses ]]; then
  if run "$bench" --tokenizer "$fixtures/text_tokenizer/bpe_roberta.json" --max-texts 10 --tokens 16 --min-time 0.05 \
      --runs 2 --write-texts "$tmp/written.txt" >"$tmp/out" 2>"$tmp/err"; then
    has "$tmp/out" 'common-licenses in 100-word paragraphs, each cut to at most 16 tokens' "corpus line"
    has "$tmp/out" '^10 texts, .*\(1[0-6]\.[0-9] per text\)' "cut texts"
    has "$tmp/out" '^tokenize, .*: [2-9] passes|: [0-9]{2,} passes' "passes"
    [[ $(wc -l <"$tmp/written.txt") -eq 10 ]] || fail "--write-texts: $(wc -l <"$tmp/written.txt") lines, not 10"
  else
    fail "built-in corpus: exit $?"; cat "$tmp/err"
  fi
fi

# A model's own tokenizer, with that model's inference on the same texts (positions: 64, so the
# long texts are truncated for inference).
fx="$fixtures/tiny_cls"
if run "$convert" "$fx" -o "$tmp/m.encore" --calib "$fx/calib_ids.npy" >/dev/null 2>"$tmp/err"; then
  printf 'word %.0s' $(seq 1 100) >>"$tmp/texts.txt"
  if run "$bench" "$tmp/m.encore" --tokenizer "$tmp/m.encore" --texts "$tmp/texts.txt" --min-time 0.05 \
      --json "$tmp/m.json" >"$tmp/out" 2>"$tmp/err"; then
    has "$tmp/out" '^inference .* \(int8, 2 layers, .*\(1 texts truncated to 64\); cpu share [0-9.]+; [0-9.]+ us per text, [0-9.]+ texts/s$' "inference line"
    has "$tmp/out" '^tokenization / inference: [0-9.]+%$' "ratio line"
    has "$tmp/m.json" '"tokenization_over_inference": ' "json ratio"
    has "$tmp/m.json" '"truncated_texts": 1' "json truncated"
  else
    fail "model tokenizer + inference: exit $?"; cat "$tmp/err"
  fi
else
  fail "convert tiny_cls"; cat "$tmp/err"
fi

# Bad uses: one line on stderr, non-zero exit.
one_line_error() { # NAME TEXT CMD...
  local name=$1 text=$2; shift 2
  run "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [[ $rc -eq 0 || $(wc -l <"$tmp/err") -ne 1 ]] || ! grep -q -- "$text" "$tmp/err"; then
    fail "$name: exit $rc, stderr:"; cat "$tmp/err"
  fi
}
one_line_error "missing tokenizer" "cannot open" "$bench" --tokenizer "$tmp/none.json"
one_line_error "bad tokenizer" "tokenizer.json" "$bench" --tokenizer "$fixtures/tiny_cls/config.json"
one_line_error "missing texts" "cannot open" "$bench" --tokenizer "$tok" --texts "$tmp/none.txt"
one_line_error "tokenizer with --seq" "excludes" "$bench" --tokenizer "$tok" --seq 8
one_line_error "tokenizer with --warmup" "excludes" "$bench" --tokenizer "$tok" --warmup 1
one_line_error "texts without tokenizer" "requires" "$bench" "$tmp/m.encore" --texts "$tmp/texts.txt"
one_line_error "no model, no tokenizer" "give a model, or --tokenizer" "$bench"

if [[ $failures -ne 0 ]]; then echo "$failures failure(s)"; exit 1; fi
echo "tokenizer bench smoke: ok"
