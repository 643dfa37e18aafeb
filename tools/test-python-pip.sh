#!/usr/bin/env bash
# `pip install` of the Python module from a clean copy of this checkout into a new venv, offline
# (Debian's setuptools, pybind11 and NumPy: --system-site-packages, --no-build-isolation,
# --no-index), then the pytest suite against the installed module (not the build tree's).
#   tools/test-python-pip.sh [PRESET]   the build whose tools the suite compares with
#                                       (default: ci under CI=true, else release; built if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-}"
if [[ -z "$preset" ]]; then
  if [[ "${CI:-}" == "true" ]]; then preset=ci; else preset=release; fi
fi
tools/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc 2>/dev/null || echo 2)" --target encore-run encore-analyze >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The tracked files only, as a fresh clone has them (nothing from build/ or an earlier pip run).
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work" --one-top-level=src
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
start=$SECONDS
"$work/venv/bin/pip" install --quiet --no-build-isolation --no-index "$work/src/tools/python"
echo "test-python-pip: pip install took $((SECONDS - start)) s"
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
(cd "$work" && "$work/venv/bin/python" -c "
import encore, sys
assert encore.__file__.startswith('$site'), encore.__file__
print('test-python-pip: import encore from', encore.__file__)")

build="$PWD/build/$preset"
env -u PYTHONPATH ENCORE_RUN="$build/tools/run/encore-run" ENCORE_ANALYZE="$build/tools/analyze/encore-analyze" \
  ENCORE_FIXTURES="$PWD/tests/fixtures" ENCORE_LANGID="$PWD/tools/train/langid" PYTHONDONTWRITEBYTECODE=1 \
  "$work/venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$PWD/tests/python" "$PWD/tests/python"
