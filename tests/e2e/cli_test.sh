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
