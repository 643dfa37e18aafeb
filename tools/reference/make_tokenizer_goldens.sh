#!/usr/bin/env bash
# Regenerates tests/fixtures/tokenizer/ (vocabularies and golden token ids) with the npm
# package @huggingface/tokenizers, the tokenizer implementation of Transformers.js, installed
# once into build/tokenizer-goldens/. Needs node and npm; building and testing never do.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=0.2.0
prefix=build/tokenizer-goldens
if [[ ! -d "$prefix/node_modules/@huggingface/tokenizers" ]]; then
  mkdir -p "$prefix"
  npm install --silent --ignore-scripts --no-audit --no-fund --prefix "$prefix" "@huggingface/tokenizers@$version" >/dev/null
fi
NODE_PATH="$PWD/$prefix/node_modules" node tools/reference/tokenizer_goldens.js tests/fixtures/tokenizer
