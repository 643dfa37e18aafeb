#!/usr/bin/env bash
# encore-convert / encore-run / encore-bench / encore-inspect / encore-analyze from the outside: success paths, and for each bad input a
# non-zero exit, exactly one line on stderr, and no output file left behind.
set -u
convert="$1"; run="$2"; fixtures="$3"; bench="$4"; inspect="$5"; analyze="$6"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0; passed=0

# Cross builds: the ARM binaries run through the emulator CMake was given (platforms/qemu-run.sh).
if [[ -n "${ENCORE_TEST_EMULATOR:-}" ]]; then
  mkdir "$tmp/bin"
  wrap() {
    local w; w="$tmp/bin/$(basename "$1")"
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$ENCORE_TEST_EMULATOR" "$1" >"$w" && chmod +x "$w" && echo "$w"
  }
  convert=$(wrap "$convert"); run=$(wrap "$run"); bench=$(wrap "$bench"); inspect=$(wrap "$inspect")
  analyze=$(wrap "$analyze")
fi

# npy_i64 FILE ROWS COLS V...: writes an int64 .npy
npy_i64() {
  local file=$1 rows=$2 cols=$3; shift 3
  perl -e '
    my ($file, $rows, $cols, @v) = @ARGV;
    my $h = "{\x27descr\x27: \x27<i8\x27, \x27fortran_order\x27: False, \x27shape\x27: ($rows, $cols), }";
    $h .= " " while ((10 + length($h) + 1) % 64);
    $h .= "\n";
    open(my $f, ">:raw", $file) or die;
    print $f "\x93NUMPY\x01\x00", pack("v", length($h)), $h, pack("q<*", @v);
  ' "$file" "$rows" "$cols" "$@"
}

ok() { # ok NAME CMD...: must succeed
  local name=$1; shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then passed=$((passed + 1)); else
    echo "FAIL $name: exit $?"; cat "$tmp/err"; failures=$((failures + 1)); fi
}

fails() { # fails NAME EXPECTED_TEXT OUTFILE CMD...: must fail with one stderr line containing the text
  local name=$1 text=$2 outfile=$3; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/err")
  if [[ $rc -eq 0 ]]; then echo "FAIL $name: exit 0"; failures=$((failures + 1)); return; fi
  if [[ $lines -ne 1 ]] || ! grep -q -- "$text" "$tmp/err"; then
    echo "FAIL $name: expected one line with '$text', got:"; cat "$tmp/err"; failures=$((failures + 1)); return; fi
  if [[ -n "$outfile" && -e "$outfile" ]]; then echo "FAIL $name: $outfile was left behind"; failures=$((failures + 1)); return; fi
  if ls "$tmp" | grep -q '\.tmp-'; then echo "FAIL $name: temporary file left behind"; failures=$((failures + 1)); return; fi
  passed=$((passed + 1))
}

fx="$fixtures/tiny_cls"
m="$tmp/m.encore"
ok "convert int8" "$convert" "$fx" -o "$m" --calib "$fx/calib_ids.npy"
ok "run logits" "$run" "$m" --input-ids "$fx/input_ids.npy" --attention-mask "$fx/attention_mask.npy" \
  --token-type-ids "$fx/token_type_ids.npy" --output logits -o "$tmp/logits.npy"
[[ -s "$tmp/logits.npy" ]] || { echo "FAIL run logits: no output file"; failures=$((failures + 1)); }
npy_i64 "$tmp/one.npy" 1 3 101 5 102
ok "run [1,3] ids" "$run" "$m" --input-ids "$tmp/one.npy" -o "$tmp/h.npy"

npy_i64 "$tmp/bad_id.npy" 1 3 101 1000 102
fails "id out of range" "outside the vocabulary" "$tmp/o1.npy" "$run" "$m" --input-ids "$tmp/bad_id.npy" -o "$tmp/o1.npy"
npy_i64 "$tmp/neg_id.npy" 1 2 101 -4
fails "negative id" "outside the vocabulary" "$tmp/o2.npy" "$run" "$m" --input-ids "$tmp/neg_id.npy" -o "$tmp/o2.npy"
long=$(seq 1 65 | tr '\n' ' ')
# shellcheck disable=SC2086
npy_i64 "$tmp/long.npy" 1 65 $long
fails "sequence too long" "exceeds the model's maximum of 64" "$tmp/o3.npy" "$run" "$m" --input-ids "$tmp/long.npy" -o "$tmp/o3.npy"
npy_i64 "$tmp/mask2.npy" 1 2 1 1
fails "mask shape" "differs from input ids" "$tmp/o4.npy" "$run" "$m" --input-ids "$tmp/one.npy" --attention-mask "$tmp/mask2.npy" -o "$tmp/o4.npy"
fails "missing model" "cannot open" "$tmp/o5.npy" "$run" "$tmp/none.encore" --input-ids "$tmp/one.npy" -o "$tmp/o5.npy"
head -c 5000 /dev/urandom >"$tmp/garbage.encore"
fails "garbage model" "not an encore model" "$tmp/o6.npy" "$run" "$tmp/garbage.encore" --input-ids "$tmp/one.npy" -o "$tmp/o6.npy"
head -c 3000 "$m" >"$tmp/truncated.encore"
fails "truncated model" "invalid\|corrupt\|header claims\|outside" "$tmp/o7.npy" "$run" "$tmp/truncated.encore" --input-ids "$tmp/one.npy" -o "$tmp/o7.npy"
fails "directory as model" "not a regular file" "$tmp/o8.npy" "$run" "$tmp" --input-ids "$tmp/one.npy" -o "$tmp/o8.npy"
fails "unwritable output" "error" "" "$run" "$m" --input-ids "$tmp/one.npy" -o "$tmp/no/such/dir/o.npy"
fails "ids not npy" "encore-run: error" "$tmp/o9.npy" "$run" "$m" --input-ids "$fx/config.json" -o "$tmp/o9.npy"

fails "convert: not a directory" "not a directory" "$tmp/c1.encore" "$convert" "$tmp/nowhere" -o "$tmp/c1.encore"
fails "convert: bad quant" "quant" "$tmp/c2.encore" "$convert" "$fx" -o "$tmp/c2.encore" --quant int4

ok "bench profile + json + trace" "$bench" "$m" --seq 8,16 --runs 3 --min-time 0 --warmup 1 --profile \
  --json "$tmp/bench.json" --trace "$tmp/trace.json"
for f in bench.json trace.json; do
  [[ -s "$tmp/$f" ]] || { echo "FAIL bench: $f not written"; failures=$((failures + 1)); }
done
grep -q '"traceEvents"' "$tmp/trace.json" || { echo "FAIL bench: trace has no traceEvents"; failures=$((failures + 1)); }
# --ragged: batch 4 x seq 8 keeps 2 + 4 + 6 + 8 = 20 real tokens
ok "bench ragged" "$bench" "$m" --seq 8 --batch 4 --ragged --runs 2 --min-time 0 --warmup 0 --json "$tmp/ragged.json"
grep -q '"real_tokens": *20' "$tmp/ragged.json" || { echo "FAIL bench ragged: real_tokens is not 20"; failures=$((failures + 1)); }
fails "bench: seq too long" "exceeds the model's maximum of 64" "$tmp/b2.json" "$bench" "$m" --seq 65 --json "$tmp/b2.json"
fails "bench: missing model" "cannot open" "" "$bench" "$tmp/none.encore"
fails "bench: bad seq list" "encore-bench: error" "" "$bench" "$m" --seq 8,x

# encore-inspect: describes a valid model (config, tokenizer, tensors, activations), fails cleanly otherwise.
ok "inspect" "$inspect" "$m" --tensors --activations
for want in "int8 linear layers" "3 labels" "tokenizer: WordPiece" "layer.0.qkv.weight" "per channel"; do
  grep -q -- "$want" "$tmp/out" || { echo "FAIL inspect: no '$want' in its output"; failures=$((failures + 1)); }
done
fails "inspect: missing model" "cannot open" "" "$inspect" "$tmp/none.encore"
head -c 1000 "$m" >"$tmp/cut.encore"
fails "inspect: truncated model" "encore-inspect: error" "" "$inspect" "$tmp/cut.encore"

# Text mode: one JSON line per text with a label from the model's labels; bad input fails cleanly.
ok "run --text" "$run" "$m" --text "hello world" --text "second, longer text of several words"
if [[ $(grep -c '"label":"\(negative\|neutral\|positive\)"' "$tmp/out") -ne 2 ]]; then
  echo "FAIL run --text: expected 2 JSON lines with a label, got:"; cat "$tmp/out"; failures=$((failures + 1)); fi
printf 'first line\n\nsecond line\r\nthird\n' >"$tmp/texts.txt"
ok "run --text-file" "$run" "$m" --text-file "$tmp/texts.txt" --batch-size 2
# One output line per input line, blank lines included, each with its line number.
if [[ $(wc -l <"$tmp/out") -ne 4 ]] || [[ $(grep -c '"line":2,"text":""' "$tmp/out") -ne 1 ]] ||
   [[ $(grep -c '"line":4,"text":"third"' "$tmp/out") -ne 1 ]]; then
  echo "FAIL run --text-file: expected 4 numbered lines, got:"; cat "$tmp/out"; failures=$((failures + 1)); fi
ok "run --text-file - (stdin)" bash -c "\"\$0\" \"\$1\" --text-file - <\"\$2\"" "$run" "$m" "$tmp/texts.txt"
if [[ $(wc -l <"$tmp/out") -ne 4 ]] || [[ $(grep -c '"line":3,"text":"second line"' "$tmp/out") -ne 1 ]]; then
  echo "FAIL run --text-file -: expected 4 numbered lines, got:"; cat "$tmp/out"; failures=$((failures + 1)); fi
printf 'fine\nbad \xff byte\n' >"$tmp/bad.txt"
fails "run: invalid UTF-8 on a file line" "bad.txt line 2: " "" "$run" "$m" --text-file "$tmp/bad.txt"
# Texts pass through byte for byte, brackets included (no list parsing), one output line each.
ok "run --text with brackets" "$run" "$m" --text "[hello]" --text "[a, b]" --text "[]"
if [[ $(wc -l <"$tmp/out") -ne 3 ]] || ! grep -qF '"text":"[hello]"' "$tmp/out" || ! grep -qF '"text":"[a, b]"' "$tmp/out" ||
   ! grep -qF '"text":"[]"' "$tmp/out"; then
  echo "FAIL run --text with brackets: expected 3 lines with the texts as given, got:"; cat "$tmp/out"; failures=$((failures + 1)); fi
fails "run: invalid UTF-8 text" "not valid UTF-8" "" "$run" "$m" --text $'bad \xff byte'
fails "run: missing text file" "cannot open" "" "$run" "$m" --text-file "$tmp/none.txt"
# Pairs: --text-pair goes with the --text at its position; a --pairs file has TEXT<TAB>PAIR lines.
ok "run --text-pair" "$run" "$m" --text "hello world" --text-pair "second text" --text "a" --text-pair "b"
if [[ $(grep -c '"pair":"second text"' "$tmp/out") -ne 1 ]] || [[ $(grep -c '"sequence_ids":\[null,0,0,0,0,null,1,1,null\]' "$tmp/out") -ne 1 ]]; then
  echo "FAIL run --text-pair: expected the pair and its segments, got:"; cat "$tmp/out"; failures=$((failures + 1)); fi
# The pair changes the result: the same text alone gives other logits.
"$run" "$m" --text "hello world" >"$tmp/alone.json" 2>/dev/null
if [[ "$(sed -E 's/.*"logits":(\[[^]]*\]).*/\1/' "$tmp/alone.json")" == "$(head -1 "$tmp/out" | sed -E 's/.*"logits":(\[[^]]*\]).*/\1/')" ]]; then
  echo "FAIL run --text-pair: the pair did not change the logits"; failures=$((failures + 1)); fi
printf 'hello world\tsecond text\n\na\tb\n' >"$tmp/pairs.txt"
ok "run --text-file --pairs" "$run" "$m" --text-file "$tmp/pairs.txt" --pairs
if [[ $(wc -l <"$tmp/out") -ne 3 ]] || [[ $(grep -c '"line":3,"text":"a","pair":"b"' "$tmp/out") -ne 1 ]]; then
  echo "FAIL run --text-file --pairs: expected 3 numbered pair lines, got:"; cat "$tmp/out"; failures=$((failures + 1)); fi
printf 'hello world\tsecond\nno tab here\n' >"$tmp/badpairs.txt"
fails "run: --pairs line without a tab" "badpairs.txt line 2: expected TEXT<TAB>PAIR" "" "$run" "$m" --text-file "$tmp/badpairs.txt" --pairs
fails "run: --text-pair count" "--text-pair given 1 times for 2 --text" "" "$run" "$m" --text a --text b --text-pair c
# --max-length: at most N tokens, special tokens included; offsets are character spans of the text.
ok "run --max-length" "$run" "$m" --text "second, longer text of several words" --max-length 4
if ! grep -q '"truncated":true' "$tmp/out" || ! grep -qF '"offsets":[[0,0],[0,6],[6,7],[0,0]]' "$tmp/out"; then
  echo "FAIL run --max-length: expected 4 tokens with offsets, got:"; cat "$tmp/out"; failures=$((failures + 1)); fi
fails "run: --max-length over the model's limit" "is over the model's limit" "" "$run" "$m" --text a --max-length 100000
# Special tokens in a text are those tokens; --special-tokens-as-text reads them as text.
ok "run special token in text" "$run" "$m" --text "hello [SEP] world"
grep -qF '"tokens":["[CLS]","[UNK]","[SEP]","wo","##rl","##d","[SEP]"],"offsets":[[0,0],[0,5],[6,11],' "$tmp/out" || {
  echo "FAIL run: [SEP] in a text should be the [SEP] token, got:"; cat "$tmp/out"; failures=$((failures + 1)); }
ok "run --special-tokens-as-text" "$run" "$m" --text "hello [SEP] world" --special-tokens-as-text
if grep -qF '"[UNK]","[SEP]","wo"' "$tmp/out"; then
  echo "FAIL run --special-tokens-as-text: [SEP] was still a special token"; failures=$((failures + 1)); fi

fails "run: text and ids together" "excludes" "" "$run" "$m" --text a --input-ids "$tmp/ids.npy"

# expect_in FILE TEXT...: each text must occur in the file.
expect_in() {
  local file=$1; shift
  for want in "$@"; do
    grep -qF -- "$want" "$file" || { echo "FAIL: no '$want' in $(basename "$file")"; failures=$((failures + 1)); }
  done
}

# encore-analyze: ablation table, JSON and HTML on the fixture's labelled eval set.
ev="--eval $fx/eval_input_ids.npy --labels $fx/eval_labels.npy --mask $fx/eval_attention_mask.npy"
# shellcheck disable=SC2086
ok "analyze" "$analyze" "$m" $ev --json "$tmp/analysis.json" --html "$tmp/analysis.html" --text "hello world"
expect_in "$tmp/out" "baseline on eval_input_ids.npy (256 sequences)" "layer 1 head 3 masked" "layer 0 FFN bypassed" \
  "layer 1 only head"
[[ $(grep -c "masked" "$tmp/out") -eq 8 ]] || { echo "FAIL analyze: expected 8 head rows"; failures=$((failures + 1)); }
expect_in "$tmp/analysis.json" '"heads"' '"ffn_bypassed"' '"best_head_only"' '"loss_change"'
expect_in "$tmp/analysis.html" 'id="encore-data"' '"attention"' "layer 0 FFN bypassed"
if grep -qiE '(src|href)="?(https?:)?//' "$tmp/analysis.html"; then echo "FAIL analyze: the HTML loads something from the network"; failures=$((failures + 1)); fi
fails "analyze: npy without labels" "need their labels" "$tmp/a1.json" "$analyze" "$m" --eval "$fx/eval_input_ids.npy" --json "$tmp/a1.json"
printf 'good text\tpositive\nsome text\tjoyful\n' >"$tmp/bad_label.tsv"
fails "analyze: unknown label" "bad_label.tsv:2: label 'joyful' is not one of the model's labels" "" "$analyze" "$m" --eval "$tmp/bad_label.tsv"
printf 'no label here\n' >"$tmp/no_tab.tsv"
fails "analyze: line without a label" "no_tab.tsv:1: expected text<TAB>label" "" "$analyze" "$m" --eval "$tmp/no_tab.tsv"
fails "analyze: eval is neither" "is a .tsv" "" "$analyze" "$m" --eval "$fx/config.json"
# shellcheck disable=SC2086
fails "analyze: unwritable json" "error" "" "$analyze" "$m" $ev --json "$tmp/no/such/dir/a.json"
# --attention-probe: a table row per head, the JSON entry; bad probe lines fail naming the line.
printf 'a cat saw the dog\tcat\tdog\tsaw\n' >"$tmp/probe.tsv"
# shellcheck disable=SC2086
ok "analyze probe" "$analyze" "$m" $ev --attention-probe "$tmp/probe.tsv" --json "$tmp/probe.json"
expect_in "$tmp/out" "attention from 'cat' to the target vs the contrast word, on probe.tsv (1 texts)" "target gets more"
expect_in "$tmp/probe.json" '"attention_probe"' '"to_target"' '"target_share"' '"single_head"'
printf 'the cat saw the dog\tthe\tdog\tsaw\n' >"$tmp/probe_twice.tsv"
# shellcheck disable=SC2086
fails "analyze: probe word twice" "probe_twice.tsv:1: the query word 'the' occurs 2 times" "" "$analyze" "$m" $ev \
  --attention-probe "$tmp/probe_twice.tsv"
printf 'a cat saw the dog\tcat\tbird\tsaw\n' >"$tmp/probe_missing.tsv"
# shellcheck disable=SC2086
fails "analyze: probe word missing" "probe_missing.tsv:1: the target word 'bird' occurs 0 times" "" "$analyze" "$m" $ev \
  --attention-probe "$tmp/probe_missing.tsv"
printf 'a cat saw the dog\tcat\tdog\n' >"$tmp/probe_fields.tsv"
# shellcheck disable=SC2086
fails "analyze: probe fields" "probe_fields.tsv:1: expected text<TAB>query<TAB>target<TAB>contrast, found 3 fields" "" \
  "$analyze" "$m" $ev --attention-probe "$tmp/probe_fields.tsv"
"$convert" "$fixtures/tiny_base" -o "$tmp/base.encore" --calib "$fixtures/tiny_base/calib_ids.npy" >/dev/null 2>&1
fails "analyze: no classifier" "no classifier head" "" "$analyze" "$tmp/base.encore" --eval "$tmp/bad_label.tsv"

# Attention maps: encore-inspect attention (HTML), encore-run --attention-maps (.npy and JSON).
ok "inspect attention" "$inspect" attention "$m" --text "hello world" -o "$tmp/att.html"
expect_in "$tmp/att.html" '"tokens":["[CLS]"' '"probs":[[' 'data-rendered'
ok "inspect attention ids" "$inspect" attention "$m" --ids "$tmp/one.npy" -o "$tmp/att2.html"
fails "inspect attention: no input" "give the input" "$tmp/att3.html" "$inspect" attention "$m" -o "$tmp/att3.html"
fails "inspect attention: bad id" "outside the vocabulary" "$tmp/att4.html" "$inspect" attention "$m" --ids "$tmp/bad_id.npy" -o "$tmp/att4.html"
ok "run --attention-maps ids" "$run" "$m" --input-ids "$tmp/one.npy" -o "$tmp/h2.npy" --attention-maps "$tmp/maps.npy"
expect_in "$tmp/maps.npy" "'shape': (2, 1, 4, 3, 3)"
ok "run --attention-maps text" "$run" "$m" --text "hello" --text "a longer text" --attention-maps "$tmp/maps.json"
[[ $(grep -o '"text":' "$tmp/maps.json" | wc -l) -eq 2 ]] || { echo "FAIL run --attention-maps text: expected 2 entries"; failures=$((failures + 1)); }

# Pruning: an explicit head list and an FFN fraction give a smaller, valid, version-2 model.
ok "convert --prune-heads list" "$convert" "$fx" -o "$tmp/pruned.encore" --calib "$fx/calib_ids.npy" \
  --prune-heads 0:1,1:0,1:3 --prune-ffn 0.25 --eval "$fx/eval_input_ids.npy" --eval-labels "$fx/eval_labels.npy" \
  --eval-mask "$fx/eval_attention_mask.npy"
expect_in "$tmp/out" "layer 0: heads 0, 2, 3 (3 of 4); FFN 192 of 256 neurons" "layer 1: heads 1, 2 (2 of 4)" \
  "held-out  accuracy" "MB unpruned ->"
ok "inspect pruned" "$inspect" "$tmp/pruned.encore"
expect_in "$tmp/out" "format version 2" "pruned: layer 0 heads 0 2 3, FFN 192; layer 1 heads 1 2, FFN 192"
ok "analyze pruned" "$analyze" "$tmp/pruned.encore" --eval "$fx/eval_input_ids.npy" --labels "$fx/eval_labels.npy"
[[ $(grep -c "masked" "$tmp/out") -eq 5 ]] || { echo "FAIL analyze pruned: expected 5 head rows"; failures=$((failures + 1)); }
fails "convert: prune every head of a layer" "removes every head of layer 0" "$tmp/p1.encore" "$convert" "$fx" \
  -o "$tmp/p1.encore" --prune-heads 0:0,0:1,0:2,0:3
fails "convert: bad head list" "is not LAYER:HEAD" "$tmp/p2.encore" "$convert" "$fx" -o "$tmp/p2.encore" --prune-heads 0-1
fails "convert: auto without eval" "needs --eval" "$tmp/p3.encore" "$convert" "$fx" -o "$tmp/p3.encore" --prune-heads auto
fails "convert: bad ffn fraction" "neither 'auto' nor a fraction" "$tmp/p4.encore" "$convert" "$fx" -o "$tmp/p4.encore" --prune-ffn 1.5

# Every tool answers --version with its name and the project version.
for tool in "$convert" "$run" "$bench" "$inspect" "$analyze"; do
  ok "version $(basename "$tool")" "$tool" --version
  grep -Eq "^encore-[a-z]+ [0-9]+\.[0-9]+\.[0-9]+$" "$tmp/out" || { echo "FAIL version: $(cat "$tmp/out")"; failures=$((failures + 1)); }
done

# Output files get the mode any new file gets under the umask (not mkstemp's 0600).
(umask 022 && "$convert" "$fx" -o "$tmp/mode.encore" --quant f32 >/dev/null 2>&1)
[[ $(stat -c %a "$tmp/mode.encore") == 644 ]] || { echo "FAIL umask 022: mode $(stat -c %a "$tmp/mode.encore")"; failures=$((failures + 1)); }
(umask 027 && "$run" "$tmp/mode.encore" --input-ids "$tmp/one.npy" -o "$tmp/mode.npy" >/dev/null 2>&1)
[[ $(stat -c %a "$tmp/mode.npy") == 640 ]] || { echo "FAIL umask 027: mode $(stat -c %a "$tmp/mode.npy")"; failures=$((failures + 1)); }

# --reference on a padded batch compares the real tokens only: PyTorch's values at padding
# are not encore's zeros, yet the f32 model matches PyTorch on every real token.
ok "reference on a padded batch" "$run" "$tmp/mode.encore" --input-ids "$fx/input_ids.npy" \
  --attention-mask "$fx/attention_mask.npy" --token-type-ids "$fx/token_type_ids.npy" -o "$tmp/h.npy" \
  --reference "$fx/last_hidden_state.npy"
grep -q "unmasked rows" "$tmp/out" && min_cos=$(sed -n 's/.*cosine per row min \([0-9.e-]*\) .*/\1/p' "$tmp/out") &&
  awk -v c="$min_cos" 'BEGIN { exit !(c > 0.9999) }' ||
  { echo "FAIL reference on a padded batch: $(cat "$tmp/out")"; failures=$((failures + 1)); }

# A bad output directory is found before the conversion's work.
fails "convert: output directory missing" "cannot create the output file" "" "$convert" "$fx" -o "$tmp/none/m.encore"
[[ ! -s "$tmp/out" ]] || { echo "FAIL convert: output directory missing: printed a report first"; failures=$((failures + 1)); }

# A RoBERTa classifier's dense layer is not a pooler: no pooler_output to ask for.
ok "convert a RoBERTa classifier" "$convert" "$fixtures/roberta_cls" -o "$tmp/rc.encore" --quant f32
fails "run: pooler_output of a model without one" "has no pooler" "$tmp/rc.npy" "$run" "$tmp/rc.encore" \
  --input-ids "$fixtures/roberta_cls/input_ids.npy" --output pooler_output -o "$tmp/rc.npy"
ok "run logits of a RoBERTa classifier" "$run" "$tmp/rc.encore" --input-ids "$fixtures/roberta_cls/input_ids.npy" \
  --attention-mask "$fixtures/roberta_cls/attention_mask.npy" --output logits -o "$tmp/rc.npy" \
  --reference "$fixtures/roberta_cls/logits.npy"
grep -q "argmax 4/4" "$tmp/out" || { echo "FAIL run logits of a RoBERTa classifier: $(cat "$tmp/out")"; failures=$((failures + 1)); }

# sentence-transformers: the model's own sentence embedding (id level and, by default, text
# mode), --prompt, --dimensions (truncated, back to unit length), refusals.
st="$fixtures/st_minilm"
ok "convert a sentence-transformers directory" "$convert" "$st" -o "$tmp/st.encore" --quant f32
expect_in "$tmp/out" "sentence-transformers: mean pooling, Normalize -> 32 dimensions, max_seq_length 12, prompts query"
ok "run sentence_embedding" "$run" "$tmp/st.encore" --input-ids "$st/input_ids.npy" \
  --attention-mask "$st/attention_mask.npy" --token-type-ids "$st/token_type_ids.npy" --output sentence_embedding \
  -o "$tmp/se.npy" --reference "$st/sentence_embedding.npy"
min_cos=$(sed -n 's/.*cosine per row min \([0-9.e-]*\) .*/\1/p' "$tmp/out")
awk -v c="$min_cos" 'BEGIN { exit !(c > 0.99999) }' ||
  { echo "FAIL run sentence_embedding: $(cat "$tmp/out")"; failures=$((failures + 1)); }
# embedding_stats: "<count> <L2 norm>" of the first JSON line's "embedding"
embedding_stats() {
  perl -ne 'if (/"embedding":\[([^\]]*)\]/) { my @v = split /,/, $1; my $s = 0; $s += $_ * $_ for @v;
            printf "%d %.5f\n", scalar(@v), sqrt($s); exit }' "$1"
}
ok "text: the model's sentence embedding by default" "$run" "$tmp/st.encore" --text "abc bcd"
[[ "$(embedding_stats "$tmp/out")" == "32 1.00000" ]] ||
  { echo "FAIL text default embedding: $(embedding_stats "$tmp/out")"; failures=$((failures + 1)); }
plain_tokens=$(grep -o '"tokens":.*"embedding"' "$tmp/out")
ok "text: --dimensions 8" "$run" "$tmp/st.encore" --text "abc bcd" --dimensions 8
[[ "$(embedding_stats "$tmp/out")" == "8 1.00000" ]] ||
  { echo "FAIL text --dimensions 8: $(embedding_stats "$tmp/out")"; failures=$((failures + 1)); }
ok "text: --prompt query" "$run" "$tmp/st.encore" --text "abc bcd" --prompt query
prompt_tokens=$(grep -o '"tokens":.*"embedding"' "$tmp/out")
[[ ${#prompt_tokens} -gt ${#plain_tokens} ]] ||
  { echo "FAIL text --prompt query: $prompt_tokens vs $plain_tokens"; failures=$((failures + 1)); }
ok "ids: --dimensions 8" "$run" "$tmp/st.encore" --input-ids "$st/input_ids.npy" \
  --attention-mask "$st/attention_mask.npy" --output sentence_embedding --dimensions 8 -o "$tmp/se8.npy"
expect_in "$tmp/se8.npy" "'shape': (4, 8)"
fails "text: unknown --prompt" "--prompt 'passage' is not one of the model's prompts (query, document)" "" \
  "$run" "$tmp/st.encore" --text "abc" --prompt passage
fails "text: --dimensions too large" "--dimensions 64 is more than the embedding's 32" "" \
  "$run" "$tmp/st.encore" --text "abc" --dimensions 64
fails "ids: --prompt" "--prompt applies to text mode" "$tmp/p.npy" "$run" "$tmp/st.encore" \
  --input-ids "$st/input_ids.npy" --prompt query -o "$tmp/p.npy"
fails "run: sentence_embedding of a plain model" "has no sentence-transformers modules" "$tmp/rs.npy" \
  "$run" "$tmp/rc.encore" --input-ids "$fixtures/roberta_cls/input_ids.npy" --output sentence_embedding -o "$tmp/rs.npy"
# On ModernBERT (modernbert-embed-base's layout): int8 through the quality gate, then text mode
# with the prefix in the text and the Matryoshka cut.
stm="$fixtures/st_modernbert"
ok "convert a ModernBERT sentence-transformers directory" "$convert" "$stm" -o "$tmp/stm.encore" \
  --calib "$stm/calib_ids.npy"
expect_in "$tmp/out" "sentence-transformers: mean pooling, Normalize -> 32 dimensions, max_seq_length 64" \
  "quality gate: passed"
ok "text: ModernBERT, --dimensions 16" "$run" "$tmp/stm.encore" --text "search_query: What is TSNE?" --dimensions 16
[[ "$(embedding_stats "$tmp/out")" == "16 1.00000" ]] ||
  { echo "FAIL text ModernBERT --dimensions 16: $(embedding_stats "$tmp/out")"; failures=$((failures + 1)); }

# Text models (tools/reference/text_models.py), one per tokenizer kind, converted from each kind
# of tokenizer file and run through text mode: tokens as the independent tokenizers' golden ids,
# logits / embeddings as PyTorch's on those ids (tests/e2e/text_goldens_check.pl).
here=$(cd "$(dirname "$0")" && pwd)
tt="$fixtures/text_tokenizer"
# text_cases GOLDENS single|long|pairs|long_pairs: the goldens' texts, NUL-separated (long: text,
# max_length; pairs: text, pair; long_pairs: text, pair, max_length).
text_cases() {
  perl -MJSON::PP -e '
    local $/; open(my $f, "<:raw", $ARGV[0]) or die "$ARGV[0]: $!\n"; my $g = decode_json(<$f>);
    binmode STDOUT, ":utf8";
    for my $c (@{$g->{cases}}) {
      my $kind = (exists $c->{max_length} ? "long" : "") . (exists $c->{pair} ? "pairs" : "");
      $kind = "long_pairs" if $kind eq "longpairs";
      next if $kind ne $ARGV[1] && !($kind eq "" && $ARGV[1] eq "single");
      print $c->{text}, "\0";
      print $c->{pair}, "\0" if exists $c->{pair};
      print $c->{max_length}, "\0" if exists $c->{max_length};
    }' "$1" "$2"
}
check_goldens() { # check_goldens NAME OUT GOLDENS MODE COUNT
  if perl "$here/text_goldens_check.pl" "$2" "$3" "$4" "$5" >"$tmp/check" 2>&1; then passed=$((passed + 1)); else
    echo "FAIL $1:"; cat "$tmp/check"; failures=$((failures + 1)); fi
}
# text_model_run NAME MODEL GOLDENS MODE [ARGS...]: every golden case through encore-run: the texts
# as --text, the long one with its --max-length, the pairs as --text-pair and as a --text-file
# --pairs file, the long pair with its --max-length. $tmp/NAME.jsonl collects the output lines.
text_model_run() {
  local name=$1 model=$2 gold=$3 mode=$4; shift 4
  local -a singles long pairs long_pairs args
  mapfile -d '' singles < <(text_cases "$gold" single)
  mapfile -d '' long < <(text_cases "$gold" long)
  mapfile -d '' pairs < <(text_cases "$gold" pairs)
  mapfile -d '' long_pairs < <(text_cases "$gold" long_pairs)
  args=()
  for t in "${singles[@]}"; do args+=(--text "$t"); done
  ok "$name --text" "$run" "$model" "${args[@]}" "$@"
  cp "$tmp/out" "$tmp/$name.jsonl"
  check_goldens "$name --text" "$tmp/out" "$gold" "$mode" ${#singles[@]}
  ok "$name --max-length" "$run" "$model" --text "${long[0]}" --max-length "${long[1]}" "$@"
  grep -q '"truncated":true' "$tmp/out" || { echo "FAIL $name --max-length: not truncated"; failures=$((failures + 1)); }
  cat "$tmp/out" >>"$tmp/$name.jsonl"
  check_goldens "$name --max-length" "$tmp/out" "$gold" "$mode" 1
  [[ ${#pairs[@]} -gt 0 ]] || return 0
  args=()
  : >"$tmp/pairs.txt"
  for ((i = 0; i < ${#pairs[@]}; i += 2)); do
    args+=(--text "${pairs[i]}" --text-pair "${pairs[i + 1]}")
    printf '%s\t%s\n' "${pairs[i]}" "${pairs[i + 1]}" >>"$tmp/pairs.txt"
  done
  ok "$name --text-pair" "$run" "$model" "${args[@]}" "$@"
  cat "$tmp/out" >>"$tmp/$name.jsonl"
  check_goldens "$name --text-pair" "$tmp/out" "$gold" "$mode" $((${#pairs[@]} / 2))
  ok "$name --text-file --pairs" "$run" "$model" --text-file "$tmp/pairs.txt" --pairs "$@"
  check_goldens "$name --text-file --pairs" "$tmp/out" "$gold" "$mode" $((${#pairs[@]} / 2))
  ok "$name --text-pair --max-length" "$run" "$model" --text "${long_pairs[0]}" --text-pair "${long_pairs[1]}" \
    --max-length "${long_pairs[2]}" "$@"
  grep -q '"truncated":true' "$tmp/out" || { echo "FAIL $name --text-pair --max-length: not truncated"; failures=$((failures + 1)); }
  cat "$tmp/out" >>"$tmp/$name.jsonl"
  check_goldens "$name --text-pair --max-length" "$tmp/out" "$gold" "$mode" 1
}
# convert_text NAME DIR GOLDENS_DIR INSPECT_LINE: f32 and int8 conversions; encore-inspect names the tokenizer.
convert_text() {
  local name=$1 dir=$2 fx=$3 line=$4
  ok "convert $name" "$convert" "$dir" -o "$tmp/$name.encore" --quant f32
  ok "convert $name int8" "$convert" "$dir" -o "$tmp/$name.int8.encore" --calib "$fx/calib_ids.npy"
  ok "inspect $name" "$inspect" "$tmp/$name.encore"
  expect_in "$tmp/out" "$line"
}
# RoBERTa, byte-level BPE: tokenizer.json, then the legacy vocab.json + merges.txt, which must
# give the same output byte for byte.
fr="$fixtures/text_roberta"
convert_text roberta "$fr" "$fr" "tokenizer: tokenizer.json: BPE, 1761 tokens + 5 added; normalizer none, pre-tokenizer ByteLevel, post-processor RobertaProcessing"
text_model_run roberta "$tmp/roberta.encore" "$fr/text_goldens.json" f32
# Calibration lengths are held to the longest sequence the model takes (64: RoBERTa's positions
# start after pad_token_id), not to its 66 position embeddings: full-length rows warn of nothing,
# synthetic calibration fits, longer rows are refused.
"$convert" "$fr" -o "$tmp/r64.encore" --calib "$fr/calib_ids.npy" >/dev/null 2>"$tmp/err64"
! grep -q "takes up to" "$tmp/err64" || { echo "FAIL roberta: warns about 64-token calibration rows: $(cat "$tmp/err64")"; failures=$((failures + 1)); }
ok "convert roberta int8, synthetic calibration" "$convert" "$fr" -o "$tmp/roberta_syn.encore"
expect_in "$tmp/err" "synthetic random-token sequences of 64 tokens"
text_model_run roberta_syn "$tmp/roberta_syn.encore" "$fr/text_goldens.json" int8
# shellcheck disable=SC2046
npy_i64 "$tmp/calib66.npy" 1 66 $(printf '5 %.0s' $(seq 66))
fails "convert roberta: calibration rows too long" "sequence length 66 exceeds the model's maximum of 64" "$tmp/r66.encore" \
  "$convert" "$fr" -o "$tmp/r66.encore" --calib "$tmp/calib66.npy"
text_model_run roberta_int8 "$tmp/roberta.int8.encore" "$fr/text_goldens.json" int8
# Calibration from text and the quality gate (tests/fixtures/outlier_bert: plain int8 fails on it).
fo="$fixtures/outlier_bert"
ok "convert --calib-text, quality gate" "$convert" "$fo" -o "$tmp/gated.encore" --calib-text "$fo/calib.txt"
expect_in "$tmp/out" "quality gate: passed; 2 of 8 blocks kept in f32 (layer 1 ffn, layer 2 attention)" \
  "keep layer 2 attention      in f32" "cost: 0.32 MB -> 0.46 MB"
ok "inspect a mixed-precision model" "$inspect" "$tmp/gated.encore"
expect_in "$tmp/out" "format version 7" "layer 1 attention int8, ffn f32; layer 2 attention f32, ffn int8" \
  "quality gate: passed (max cosine drop 0.00100), 24 held-out sequences"
ok "convert --no-quality-gate --calibration mse" "$convert" "$fo" -o "$tmp/mse.encore" --calib-text "$fo/calib.txt" \
  --no-quality-gate --calibration mse
expect_in "$tmp/out" "  mse [" "calibration: mse for GEMM inputs, min/max over 96 texts (32 pairs)"
! grep -q "quality gate" "$tmp/out" || { echo "FAIL --no-quality-gate: the gate ran"; failures=$((failures + 1)); }
ok "inspect a model converted without the gate" "$inspect" "$tmp/mse.encore"
expect_in "$tmp/out" "precision: every layer int8" "quality gate: not run"
printf 'ab ba\n\nab\n' >"$tmp/blank.txt"
fails "calib text: blank line" "blank.txt line 2: empty line" "$tmp/c1.encore" \
  "$convert" "$fo" -o "$tmp/c1.encore" --calib-text "$tmp/blank.txt"
fails "calib text: missing" "cannot open the calibration text file" "$tmp/c2.encore" \
  "$convert" "$fo" -o "$tmp/c2.encore" --calib-text "$tmp/none.txt"
fails "calib mask without ids" "--calib-mask needs --calib" "$tmp/c3.encore" \
  "$convert" "$fo" -o "$tmp/c3.encore" --calib-mask "$fo/calib_mask.npy"
npy_i64 "$tmp/mask_short.npy" 1 3 1 1 0
fails "calib mask shape" "the calibration mask must be an int32/int64 array of the ids' shape" "$tmp/c4.encore" \
  "$convert" "$fo" -o "$tmp/c4.encore" --calib "$fo/calib_ids.npy" --calib-mask "$tmp/mask_short.npy"
fails "unknown calibration method" "--calibration: kl not in" "$tmp/c5.encore" \
  "$convert" "$fo" -o "$tmp/c5.encore" --calibration kl
mkdir "$tmp/roberta_legacy"
cp "$fr/config.json" "$fr/model.safetensors" "$tt"/legacy_roberta/* "$tmp/roberta_legacy/"
convert_text roberta_legacy "$tmp/roberta_legacy" "$fr" "tokenizer: tokenizer.json (from vocab.json + merges.txt): BPE"
text_model_run roberta_legacy "$tmp/roberta_legacy.encore" "$fr/text_goldens.json" f32
cmp -s "$tmp/roberta.jsonl" "$tmp/roberta_legacy.jsonl" ||
  { echo "FAIL roberta: vocab.json + merges.txt gives another output than tokenizer.json"; failures=$((failures + 1)); }
# XLM-R, SentencePiece Unigram: sentencepiece.bpe.model, then the tokenizer.json made of it.
fx="$fixtures/text_xlmr"
for v in spm json; do
  mkdir "$tmp/xlmr_$v"
  cp "$fx/config.json" "$fx/model.safetensors" "$fx/tokenizer_config.json" "$tmp/xlmr_$v/"
done
cp "$tt/unigram.model" "$tmp/xlmr_spm/sentencepiece.bpe.model"
cp "$tt/unigram_xlmr.json" "$tmp/xlmr_json/tokenizer.json"
convert_text xlmr_spm "$tmp/xlmr_spm" "$fx" "tokenizer: tokenizer.json (from sentencepiece.bpe.model): Unigram, 2002 tokens"
convert_text xlmr_json "$tmp/xlmr_json" "$fx" "tokenizer: tokenizer.json: Unigram, 2002 tokens"
text_model_run xlmr_spm "$tmp/xlmr_spm.encore" "$fx/text_goldens.json" f32
text_model_run xlmr_mean "$tmp/xlmr_spm.encore" "$fx/text_goldens.json" f32-mean --pooling mean
# int8 on the mean-pooled embedding (cosine to PyTorch's mean 0.99995); the <s> row alone of
# this random 32-wide encoder sits at the threshold (mean 0.99913, min 0.9969), and the doctest
# (text_models_test.cc) holds both rows together to mean >= 0.999, min >= 0.995.
text_model_run xlmr_int8 "$tmp/xlmr_spm.int8.encore" "$fx/text_goldens.json" int8-mean --pooling mean
text_model_run xlmr_json "$tmp/xlmr_json.encore" "$fx/text_goldens.json" f32
cmp -s "$tmp/xlmr_spm.jsonl" "$tmp/xlmr_json.jsonl" ||
  { echo "FAIL xlmr: sentencepiece.bpe.model gives another output than tokenizer.json"; failures=$((failures + 1)); }
# BERT, cased WordPiece tokenizer.json: "Hello" stays "Hello"; pairs with token types.
fb="$fixtures/text_bert"
convert_text bert "$fb" "$fb" "tokenizer: tokenizer.json: WordPiece, 1219 tokens + 5 added; normalizer BertNormalizer"
text_model_run bert "$tmp/bert.encore" "$fb/text_goldens.json" f32
text_model_run bert_int8 "$tmp/bert.int8.encore" "$fb/text_goldens.json" int8

# Per-token heads in text mode: heads_bert_{token,qa,mlm} with tests/fixtures/heads_text/vocab.txt;
# the JSON gives what tools/reference/text_heads.py's pipeline re-implementation gives
# (goldens.json; compared by text_heads_compare.pl).
goldens="$fixtures/heads_text/goldens.json"
compare_pl="$(dirname "$0")/text_heads_compare.pl"
for head in token qa mlm; do
  mkdir -p "$tmp/hd_$head"
  cp "$fixtures/heads_bert_$head/config.json" "$fixtures/heads_bert_$head/model.safetensors" \
     "$fixtures/heads_text/vocab.txt" "$tmp/hd_$head/"
  ok "convert heads_bert_$head with a vocabulary" "$convert" "$tmp/hd_$head" -o "$tmp/h_$head.encore" --quant f32
done
# golden_field KIND INDEX FIELD: a case's input from goldens.json
golden_field() {
  perl -MJSON::PP -e 'local $/; open(my $f, "<:raw", $ARGV[0]) or die; my $g = JSON::PP->new->utf8->decode(<$f>);
                      binmode STDOUT, ":utf8"; print $g->{$ARGV[1]}[$ARGV[2]]{$ARGV[3]}' "$goldens" "$1" "$2" "$3"
}
compare_goldens() { # compare_goldens NAME KIND FILE
  if perl "$compare_pl" "$2" "$goldens" "$3" >"$tmp/cmp" 2>&1; then passed=$((passed + 1)); else
    echo "FAIL $1:"; cat "$tmp/cmp"; failures=$((failures + 1)); fi
}
token_args=(); for i in 0 1 2 3; do token_args+=(--text "$(golden_field token $i text)"); done
ok "text: token classification" "$run" "$tmp/h_token.encore" "${token_args[@]}" --batch-size 3
cp "$tmp/out" "$tmp/token.jsonl"
compare_goldens "text: token classification entities" token "$tmp/token.jsonl"
: >"$tmp/qa.jsonl"
for i in 0 1 2 3 4 5 6; do
  align=(); [[ "$(golden_field qa $i align_to_words)" == 1 ]] || align=(--no-align-to-words)
  [[ "$(golden_field qa $i handle_impossible_answer)" == 1 ]] && align+=(--handle-impossible-answer)
  ok "text: question answering case $i" "$run" "$tmp/h_qa.encore" --question "$(golden_field qa $i question)" \
    --context "$(golden_field qa $i context)" --top-k "$(golden_field qa $i top_k)" "${align[@]}" \
    --max-answer-len "$(golden_field qa $i max_answer_len)" --doc-stride "$(golden_field qa $i doc_stride)"
  cat "$tmp/out" >>"$tmp/qa.jsonl"
done
compare_goldens "text: question answering" qa "$tmp/qa.jsonl"
printf '%s\t%s\n' "$(golden_field qa 0 question)" "$(golden_field qa 0 context)" >"$tmp/qa.tsv"
ok "text: question answering from --text-file --pairs" "$run" "$tmp/h_qa.encore" --text-file "$tmp/qa.tsv" --pairs
expect_in "$tmp/out" "\"line\":1" "\"answer\":\"$(perl -MJSON::PP -ne 'print JSON::PP->new->utf8->decode($_)->{answer}; last' "$tmp/qa.jsonl")\""
: >"$tmp/mlm.jsonl"
for i in 0 1; do
  ok "text: fill-mask case $i" "$run" "$tmp/h_mlm.encore" --text "$(golden_field mlm $i text)" \
    --top-k "$(golden_field mlm $i top_k)"
  cat "$tmp/out" >>"$tmp/mlm.jsonl"
done
compare_goldens "text: fill-mask" mlm "$tmp/mlm.jsonl"
fails "text: fill-mask without a mask" "--text 2: no mask token" "" \
  "$run" "$tmp/h_mlm.encore" --text "john [MASK]" --text "no mask at all"
fails "text: --top-k on a token classifier" "--top-k applies to question-answering and fill-mask models" "" \
  "$run" "$tmp/h_token.encore" --text "john" --top-k 3
fails "text: pairs to a token classifier" "text pairs need a sequence classifier or question-answering head" "" \
  "$run" "$tmp/h_token.encore" --text "john" --text-pair "paris"
fails "text: a question without context" "--question given 1 times and --context 0 times" "" \
  "$run" "$tmp/h_qa.encore" --question "who?"
fails "text: QA from single texts" "a question-answering model takes --question Q --context C" "" \
  "$run" "$tmp/h_qa.encore" --text "who?"
fails "text: --doc-stride too large" "--question 1: doc_stride 11 must be less than the 11 context tokens a window holds" "" \
  "$run" "$tmp/h_qa.encore" --question "where?" --context "$(golden_field qa 1 context)" --doc-stride 11
fails "text: a question too long" "leaves no room for the context" "" "$run" "$tmp/h_qa.encore" \
  --question "who was born in the north of the big old city near the river?" --context "john"
fails "text: --pooling on a fill-mask model" "apply to embeddings; this model has a fill-mask head" "" \
  "$run" "$tmp/h_mlm.encore" --text "john [MASK]" --pooling mean

echo "cli: $passed passed, $failures failed"
[[ $failures -eq 0 ]]
