#!/usr/bin/env bash
# Regenerates tests/fixtures/text_tokenizer/: the tokenizer.json fixtures (trained here from
# Debian's text), then golden encodings from two independent implementations:
#   @huggingface/tokenizers (npm, pinned; installed once into build/tokenizer-goldens/)  -> goldens_*.jsonl
#   Debian's python3-sentencepiece on the .model                                     -> goldens_spm_unigram.jsonl
# Needs node/npm, /usr/bin/python3 with python3-sentencepiece, spm_train and wamerican
# (tools/install-deps.sh --reference). Building and testing never run this.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=0.2.0
prefix=build/tokenizer-goldens
if [[ ! -d "$prefix/node_modules/@huggingface/tokenizers" ]]; then
  mkdir -p "$prefix"
  npm install --silent --ignore-scripts --no-audit --no-fund --prefix "$prefix" "@huggingface/tokenizers@$version" >/dev/null
fi
out=tests/fixtures/text_tokenizer
/usr/bin/python3 tools/reference/make_text_tokenizer_fixtures.py
NODE_PATH="$PWD/$prefix/node_modules" node tools/reference/text_tokenizer_goldens.js "$out"
/usr/bin/python3 tools/reference/spm_goldens.py "$out"
