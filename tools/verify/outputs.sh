#!/usr/bin/env bash
# Records every output encore's tools produce on fixed models and inputs, and compares two
# records byte for byte: the acceptance check of a refactor that must not change results.
#
#   tools/verify/outputs.sh record BUILD_DIR OUT_DIR [--models RECORD_DIR] [--arm arm64|armhf]
#                                  [--sysroot DIR] [--convert-build X86_BUILD_DIR]
#   tools/verify/outputs.sh compare DIR_A DIR_B
#
# record: converts each model (tests/fixtures/tiny_* with config.json, tools/train/langid, a
#   MiniLM-L6- and a BERT-base-shaped model made by verify_helper.py with fixed seeds, and
#   tiny_cls with heads and FFN neurons pruned) int8 and --quant f32 with BUILD_DIR's
#   encore-convert, then runs BUILD_DIR's encore-run (ids mode: every output, --attention-maps,
#   --reference; text mode with its JSON lines and attention JSON) and encore-analyze --json,
#   threads 1 and 2. Writes OUT_DIR/MANIFEST (path, sha256, bytes of every compared file),
#   RECORD-INFO and commands.log (not compared).
#   --models RECORD_DIR  take the converted models (and inputs) from an earlier record instead
#                        of converting (e.g. x86-converted models for an ARM run).
#   --arm ARCH           BUILD_DIR is a cross build: run its binaries through
#                        platforms/qemu-run.sh ARCH SYSROOT (ENCORE_ARM_CORE picks the CPU,
#                        default generic); needs --models or --convert-build.
#   --sysroot DIR        the ARM sysroot (default: ENCORE_ARM_SYSROOT from BUILD_DIR's CMakeCache).
#   --convert-build DIR  convert with DIR's (native) encore-convert instead of BUILD_DIR's.
# compare: one line per file (identical / DIFFERS / MISSING), max abs difference for .npy;
#   exit status 1 if anything differs or is missing.
#
# Determinism: the converted model carries its creation time (Metadata.created_utc); the
# record zeroes it in the stored model file (same length, nothing else moves) before anything
# runs on it. Model sources are passed to encore-convert as relative paths (src/NAME), since
# the converter stores the path it was given. stderr (which has run times) is never recorded.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
py=/usr/bin/python3
helper="$repo/tools/verify/verify_helper.py"

die() { echo "outputs.sh: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

"$py" -c "import numpy" 2>/dev/null || die "needs Debian's python3-numpy (apt-get install python3-numpy)"

# ------------------------------------------------------------------------------ compare
compare() {
  local a="$1" b="$2"
  [[ -f "$a/MANIFEST" ]] || die "$a has no MANIFEST (not a record)"
  [[ -f "$b/MANIFEST" ]] || die "$b has no MANIFEST (not a record)"
  local n_same=0 n_diff=0 n_missing=0 line path
  local -A in_a=() in_b=()
  while IFS= read -r path; do in_a["$path"]=1; done < <(cut -f1 "$a/MANIFEST")
  while IFS= read -r path; do in_b["$path"]=1; done < <(cut -f1 "$b/MANIFEST")
  while IFS= read -r path; do
    if [[ -z "${in_a[$path]:-}" || ! -f "$a/$path" ]]; then
      echo "MISSING in A  $path"; n_missing=$((n_missing + 1)); continue
    fi
    if [[ -z "${in_b[$path]:-}" || ! -f "$b/$path" ]]; then
      echo "MISSING in B  $path"; n_missing=$((n_missing + 1)); continue
    fi
    if cmp -s "$a/$path" "$b/$path"; then
      echo "identical     $path"; n_same=$((n_same + 1))
    else
      line="$(cmp "$a/$path" "$b/$path" 2>&1 | sed -n '1s/^.*differ: //p' || true)"
      [[ "$path" == *.npy ]] && line="$line; $("$py" "$helper" npy-diff "$a/$path" "$b/$path")"
      echo "DIFFERS       $path ($line)"; n_diff=$((n_diff + 1))
    fi
  done < <(cut -f1 "$a/MANIFEST" "$b/MANIFEST" | sort -u)
  echo "outputs.sh compare: $n_same identical, $n_diff differ, $n_missing missing ($a vs $b)"
  [[ $n_diff -eq 0 && $n_missing -eq 0 ]]
}

# ------------------------------------------------------------------------------ record
record() {
  local build="$1" out="$2"; shift 2
  local models_from="" arm="" sysroot="" convert_build=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --models) models_from="$(cd "$2" && pwd)"; shift 2 ;;
      --arm) arm="$2"; shift 2 ;;
      --sysroot) sysroot="$2"; shift 2 ;;
      --convert-build) convert_build="$(cd "$2" && pwd)"; shift 2 ;;
      *) usage ;;
    esac
  done
  build="$(cd "$build" && pwd)" || die "no build directory $1"
  local run_bin="$build/tools/run/encore-run" analyze_bin="$build/tools/analyze/encore-analyze"
  local convert_bin="${convert_build:-$build}/tools/convert/encore-convert"
  [[ -x "$run_bin" ]] || die "$run_bin not built"
  local emu=()
  if [[ -n "$arm" ]]; then
    if [[ -z "$sysroot" ]]; then
      sysroot="$(sed -n 's/^ENCORE_ARM_SYSROOT:PATH=//p' "$build/CMakeCache.txt" 2>/dev/null || true)"
    fi
    [[ -f "$sysroot/.encore-sysroot" ]] || die "no ARM sysroot (give --sysroot; tools/arm-sysroot.sh $arm)"
    emu=("$repo/platforms/qemu-run.sh" "$arm" "$sysroot")
    [[ -n "$models_from$convert_build" ]] || die "--arm needs --models RECORD_DIR or --convert-build X86_BUILD_DIR"
  fi
  [[ -n "$models_from" ]] || [[ -x "$convert_bin" ]] || die "$convert_bin not built"
  local have_analyze=0
  [[ -x "$analyze_bin" ]] && have_analyze=1

  [[ -e "$out" && -n "$(ls -A "$out" 2>/dev/null)" ]] && die "$out exists and is not empty"
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  cd "$out"
  mkdir -p src inputs models runs text analyze
  local log="$out/commands.log" t_start=$SECONDS
  : >"$log"
  # Runs a command (logged), stdout to $1 ("-" = discard), stderr to a temp file shown on failure.
  x() {
    local so="$1"; shift
    echo "$*" >>"$log"
    if ! "$@" >"${so/#-//dev/null}" 2>"$out/.stderr"; then
      cat "$out/.stderr" >&2; die "failed: $*"
    fi
  }
  run() { local so="$1"; shift; x "$so" "${emu[@]}" "$run_bin" "$@"; }

  # --- model sources: src/NAME -> the directory (relative paths keep the stored source stable)
  local cache="$repo/build/verify-models"
  local -a names=()
  for d in "$repo"/tests/fixtures/tiny_*; do
    [[ -f "$d/config.json" ]] || continue
    ln -s "$d" "src/$(basename "$d")"; names+=("$(basename "$d")")
  done
  ln -s "$repo/tools/train/langid" src/langid; names+=(langid)
  for shape in minilm bert-base; do
    # Made once per checkout (deterministic; its checksum goes into sources.sha256).
    if [[ -z "$models_from" && ! -f "$cache/$shape/model.safetensors" ]]; then
      echo "outputs.sh: writing the $shape-shaped model to $cache/$shape"
      "$py" "$helper" make-model "$shape" "$cache/$shape"
    fi
    ln -s "$cache/$shape" "src/$shape"; names+=("$shape")
  done
  if [[ -z "$models_from" ]]; then
    (cd src && for n in "${names[@]}"; do
      find -L "$n" -maxdepth 1 -type f \( -name '*.json' -o -name '*.safetensors' -o -name '*.npy' -o -name '*.txt' -o -name '*.tsv' \) | sort | xargs sha256sum
    done) >sources.sha256
  fi

  # --- inputs and converted models
  local t_convert=$SECONDS
  if [[ -n "$models_from" ]]; then
    cp -r "$models_from/inputs/." inputs/
    cp "$models_from"/models/*.encore models/
    cp "$models_from/sources.sha256" .
    [[ -f "$models_from/texts.txt" ]] && cp "$models_from/texts.txt" .
  else
    for n in "${names[@]}"; do
      mkdir -p "inputs/$n"
      "$py" "$helper" inputs "src/$n" "$n" "inputs/$n" >"inputs/$n/.sets"
      for q in int8 f32; do
        local calib=()
        [[ $q == int8 && -f "src/$n/calib_ids.npy" ]] && calib=(--calib "src/$n/calib_ids.npy")
        x "models/$n.$q.convert.txt" "$convert_bin" "src/$n" -o "models/$n.$q.encore" --quant "$q" "${calib[@]}"
      done
    done
    # A pruned model (format version 2: per-layer head counts and FFN widths).
    for q in int8 f32; do
      local calib=()
      [[ $q == int8 ]] && calib=(--calib src/tiny_cls/calib_ids.npy)
      x "models/tiny_cls-pruned.$q.convert.txt" "$convert_bin" src/tiny_cls -o "models/tiny_cls-pruned.$q.encore" \
        --quant "$q" "${calib[@]}" --prune-heads 0:1,1:2,1:3 --prune-ffn 0.25
    done
    mkdir -p inputs/tiny_cls-pruned && cp -r inputs/tiny_cls/. inputs/tiny_cls-pruned/
    for f in models/*.encore; do "$py" "$helper" normalize-model "$f"; done
    # The converter's report gives the calibration time ("(6.0 s)"): blanked.
    sed -i -E 's/\([0-9.]+ s\)/(time)/' models/*.convert.txt
    # Texts for text mode: test sentences, one beyond the example model's 32 positions, accents,
    # an emoji, whitespace-only punctuation.
    { head -9 src/langid/test.tsv | cut -f1
      printf '%s\n' "Ceci est une phrase nettement plus longue que les autres, pour qu'elle soit tronquée au maximum de positions du modèle, voilà."
      printf '%s\n' "Zażółć gęślą jaźń 😀" "?!" ; } >texts.txt
  fi
  names+=(tiny_cls-pruned)
  t_convert=$((SECONDS - t_convert))

  # --- encore-run, ids mode
  local t_run=$SECONDS
  for n in "${names[@]}"; do
    local outputs=(last_hidden_state) ref=""
    local cfg="src/${n%-pruned}/config.json"
    grep -q '"id2label"' "$cfg" && outputs+=(pooler_output logits) ||
      { [[ -f "src/${n%-pruned}/pooler_output.npy" || $n == minilm || $n == bert-base ]] && outputs+=(pooler_output); }
    [[ $n != *-pruned && -f "src/$n/last_hidden_state.npy" ]] && ref="src/$n/last_hidden_state.npy"
    for q in int8 f32; do
      local m="models/$n.$q.encore" dir="runs/$n.$q"
      mkdir -p "$dir"
      while IFS=$'\t' read -r set has_mask has_types kind; do
        local in=(--input-ids "inputs/$n/$set.input_ids.npy")
        [[ $has_mask == 1 ]] && in+=(--attention-mask "inputs/$n/$set.attention_mask.npy")
        [[ $has_types == 1 ]] && in+=(--token-type-ids "inputs/$n/$set.token_type_ids.npy")
        local threads=(1 2) outs=("${outputs[@]}")
        # The big models' 131-token row: one thread, last_hidden_state (qemu time).
        [[ $set == long131 ]] && threads=(1) && outs=(last_hidden_state)
        for t in "${threads[@]}"; do
          for o in "${outs[@]}"; do
            local extra=()
            [[ $set == fixture && $o == last_hidden_state && $t == 1 && -n $ref ]] && extra=(--reference "$ref")
            run "$dir/$set.t$t.$o.stdout.txt" "$m" "${in[@]}" --output "$o" -o "$dir/$set.t$t.$o.npy" \
              --threads "$t" "${extra[@]}"
          done
          # Attention probabilities (the session then keeps them: recorded with its output too).
          if [[ $set != long131 && ( $kind == small || $t == 1 ) ]]; then
            run "$dir/$set.t$t.attn.stdout.txt" "$m" "${in[@]}" --output last_hidden_state \
              -o "$dir/$set.t$t.attn.last_hidden_state.npy" --attention-maps "$dir/$set.t$t.attention.npy" \
              --threads "$t"
          fi
        done
      done <"inputs/$n/.sets"
    done
  done
  t_run=$((SECONDS - t_run))

  # --- encore-run, text mode (classifier: labels; embeddings: cls and mean pooling)
  local t_text=$SECONDS
  for q in int8 f32; do
    for t in 1 2; do
      run "text/langid.$q.t$t.file.jsonl" "models/langid.$q.encore" --text-file texts.txt --batch-size 5 --threads "$t"
      run "text/langid.$q.t$t.args.jsonl" "models/langid.$q.encore" --text "the cat sat on the mat" \
        --text "der Hund schläft" --threads "$t" --attention-maps "text/langid.$q.t$t.attention.json"
      run "text/tiny_base.$q.t$t.cls.jsonl" "models/tiny_base.$q.encore" --text-file texts.txt --threads "$t"
      run "text/tiny_tanh.$q.t$t.mean.jsonl" "models/tiny_tanh.$q.encore" --text-file texts.txt --threads "$t" \
        --pooling mean --normalize --batch-size 4
    done
  done
  t_text=$((SECONDS - t_text))

  # --- encore-analyze: head masking / FFN bypass on a labelled set (JSON and the table)
  local t_analyze=$SECONDS
  if [[ $have_analyze == 1 ]]; then
    head -300 src/langid/test.tsv >analyze/langid-eval.tsv
    for q in int8 f32; do
      for t in 1 2; do
        x "analyze/tiny_cls.$q.t$t.txt" "${emu[@]}" "$analyze_bin" "models/tiny_cls.$q.encore" \
          --eval src/tiny_cls/eval_input_ids.npy --labels src/tiny_cls/eval_labels.npy \
          --mask src/tiny_cls/eval_attention_mask.npy --threads "$t" --json "analyze/tiny_cls.$q.t$t.json"
        x "analyze/langid.$q.t$t.txt" "${emu[@]}" "$analyze_bin" "models/langid.$q.encore" \
          --eval analyze/langid-eval.tsv --threads "$t" --batch-size 64 --json "analyze/langid.$q.t$t.json"
      done
    done
  fi
  t_analyze=$((SECONDS - t_analyze))
  rm -f "$out/.stderr"

  # --- manifest: every file but the links, the log and the info
  find . -type f ! -name MANIFEST ! -name RECORD-INFO ! -name commands.log ! -path './src/*' | sed 's|^\./||' |
    LC_ALL=C sort | while IFS= read -r f; do
      printf '%s\t%s\t%s\n' "$f" "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")"
    done >MANIFEST
  {
    echo "build: $build"
    echo "commit: $(git -C "$build" rev-parse HEAD 2>/dev/null || git -C "$repo" rev-parse HEAD)"
    if [[ -n "$models_from" ]]; then echo "models: copied from $models_from"; else echo "encore-convert: $convert_bin"; fi
    [[ -n "$arm" ]] && echo "emulated: $arm, ENCORE_ARM_CORE=${ENCORE_ARM_CORE:-generic}, sysroot $sysroot"
    echo "host: $(uname -m), $(nproc) cores; recorded $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "seconds: total $((SECONDS - t_start)), convert $t_convert, ids runs $t_run, text $t_text, analyze $t_analyze"
    echo "files: $(wc -l <MANIFEST)"
  } >RECORD-INFO
  cat RECORD-INFO
}

case "${1:-}" in
  record) [[ $# -ge 3 ]] || usage; shift; record "$@" ;;
  compare) [[ $# -eq 3 ]] || usage; compare "$2" "$3" ;;
  *) usage ;;
esac
