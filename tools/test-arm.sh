#!/usr/bin/env bash
# Cross-builds encore for ARM Linux and runs the whole test suite under qemu-user.
#   tools/test-arm.sh arm64|armhf [generic|a72|a53]
# generic: qemu's "max" CPU, XNNPACK chooses kernels by ISA features alone (dot product on arm64);
# a72 / a53: the Raspberry Pi 4 / Pi 3 cores, so XNNPACK's kernels for those cores run
# (platforms/qemu-run.sh). A second call for the same architecture reuses the build.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:?usage: tools/test-arm.sh arm64|armhf [generic|a72|a53]}"
core="${2:-generic}"
case "$arch" in
  arm64) preset=rpi-aarch64 ;;
  armhf) preset=rpi-armhf ;;
  *) echo "test-arm: error: unknown architecture '$arch' (arm64 or armhf)" >&2; exit 2 ;;
esac

tools/install-deps.sh --cross
tools/arm-sysroot.sh "$arch"
werror=OFF
[[ "${CI:-}" == "true" ]] && werror=ON
cmake --preset "$preset" -DENCORE_WERROR="$werror" >/dev/null
cmake --build --preset "$preset" -j "$(nproc 2>/dev/null || echo 2)"
# Emulated code is 20-500x slower than native: generous per-test timeout, tests in parallel.
ENCORE_ARM_CORE="$core" ctest --preset "$preset" -j "$(nproc 2>/dev/null || echo 2)" --timeout 1200
