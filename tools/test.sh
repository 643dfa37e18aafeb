#!/usr/bin/env bash
# Installs the dependencies, builds encore and runs the whole test suite (ctest).
#   tools/test.sh            release build in build/release (build/ci with warnings as errors under CI=true)
#   tools/test.sh dev        Debug + ASan/UBSan build in build/dev
#   tools/test.sh ci-dev     the same with line tables only (-g1) and without the packaging tests
#                            (CI's sanitizer stage), in build/ci-dev
set -euo pipefail
cd "$(dirname "$0")/.."

preset="${1:-}"
if [[ -z "$preset" ]]; then
  if [[ "${CI:-}" == "true" ]]; then preset=ci; else preset=release; fi
fi

tools/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs"
