#!/usr/bin/env bash
# Installs encore's build and test dependencies from Debian's archive.
# Idempotent and non-interactive: packages already present are skipped by apt itself.
#   tools/install-deps.sh            build + test dependencies
#   tools/install-deps.sh --reference  also what tools/reference and the bench peers need (optional):
#     python3-torch/numpy, python3-onnx, SentencePiece and a word list (tokenizer goldens; node and npm too), and OpenBLAS (Debian's torch uses the system libblas;
#     without OpenBLAS it falls back to the reference BLAS, ~40x slower in fp32)
#   tools/install-deps.sh --fuzz     also clang-14 and libFuzzer (tools/fuzz.sh)
#   tools/install-deps.sh --train    also python3-torch and the word lists tools/train/train_langid.py learns from
#   tools/install-deps.sh --cross    also the aarch64 / armhf cross compilers and qemu-user (tools/test-arm.sh);
#     the ARM libraries themselves go into a sysroot (tools/arm-sysroot.sh), never through multiarch
#   tools/install-deps.sh --browser  also Chromium, for the browser test of the HTML reports (ctest -L browser)
#   tools/install-deps.sh --serve    also node and npm, and the official openai npm client (pinned) in build/npm-openai,
#     for encore-serve's client test (serve_openai_test; skipped without it)
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build file
  libxnnpack-dev libpthreadpool-dev libcpuinfo-dev
  libflatbuffers-dev flatbuffers-compiler libpcre2-dev
  doctest-dev nlohmann-json3-dev libcli11-dev libutf8proc-dev libbenchmark-dev
  libcpp-httplib-dev curl
  # the Python module (ENCORE_PYTHON, on in the release presets), its tests and `pip install`
  python3-dev pybind11-dev python3-numpy python3-pytest python3-venv python3-pip python3-setuptools
)
for option in "$@"; do
  case "$option" in
    --reference) packages+=(python3-torch python3-numpy python3-onnx libopenblas0-pthread
                            python3-sentencepiece sentencepiece wamerican) ;;
    --fuzz) packages+=(clang-14 libfuzzer-14-dev) ;;
    --train) packages+=(python3-torch python3-numpy wamerican wngerman wfrench wspanish witalian wportuguese wdutch
                        wswedish wpolish) ;;
    --cross) packages+=(g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user-static) ;;
    --browser) packages+=(chromium) ;;
    # node and npm from Debian unless present (a NodeSource node brings its own npm).
    --serve) command -v node >/dev/null || packages+=(nodejs)
             command -v npm >/dev/null || packages+=(npm)
             serve_npm=1 ;;
    *) echo "install-deps: error: unknown option $option (use --reference, --fuzz, --train, --cross, --browser, --serve)" >&2; exit 2 ;;
  esac
done

# The openai client for serve_openai_test: npm, once, into build/ (never at build or test time).
openai_version=6.49.0
install_openai() {
  [[ -z "${serve_npm:-}" ]] && return 0
  local prefix=build/npm-openai
  if [[ -f "$prefix/node_modules/openai/package.json" ]] &&
     grep -q "\"version\": \"$openai_version\"" "$prefix/node_modules/openai/package.json"; then
    echo "install-deps: openai@$openai_version present in $prefix"
    return 0
  fi
  echo "install-deps: installing openai@$openai_version into $prefix (npm)"
  mkdir -p "$prefix"
  npm install --silent --ignore-scripts --no-audit --no-fund --prefix "$prefix" "openai@$openai_version" >/dev/null
}
cd "$(dirname "$0")/.."

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_openai
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_openai
echo "install-deps: done"
