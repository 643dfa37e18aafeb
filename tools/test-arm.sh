#!/usr/bin/env bash
# Cross-builds encore for ARM Linux and runs the test suite under qemu-user.
#   tools/test-arm.sh arm64|armhf [generic|a72|a53] [all]
# generic: qemu's "max" CPU, XNNPACK chooses kernels by ISA features alone (dot product on
# arm64); the whole suite runs.
# a72 / a53: the Raspberry Pi 4 / Pi 3 cores, so XNNPACK's kernels for those cores run
# (platforms/qemu-run.sh). What differs from the generic leg is the kernels, so these run the
# tests labelled kernel_paths (kernels, sessions, every end-to-end and int8 accuracy test, the
# C API's and encore-serve's comparisons with the C++ API and encore-run) but
# not the few that repeat the converter's searches over a model many times (below), and none
# of the suite that does not depend on the core (tokenizers, files, CLI errors, reports,
# packaging). `all` as third argument runs the whole suite on that core too.
# A second call for the same architecture reuses the build.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:?usage: tools/test-arm.sh arm64|armhf [generic|a72|a53] [all]}"
core="${2:-generic}"
scope="${3:-}"
[[ -z "$scope" || "$scope" == all ]] || { echo "test-arm: error: unknown third argument '$scope' (all or nothing)" >&2; exit 2; }
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
select=()
if [[ "$core" != generic && "$scope" != all ]]; then
  # Left to the generic leg (together 110 of the 260 s these tests take on qemu's A72): automatic
  # pruning (ablation and searches: many runs of the example model), the quality gate run
  # twice to compare its decisions, three conversions to compare their reports' wording, and
  # three calibrations to compare their ranges. They repeat, on the same kernels, what the
  # example model's int8 accuracy test, the quality gate's outlier test and the mixed-precision
  # tests run once and check against references; those stay.
  select=(-L kernel_paths -E "^(example model: automatic pruning|outlier fixture: the gate's decisions are deterministic|calibration methods: the report names|calibration ids: with --calib-mask the padding)")
fi
# Emulated code is 20-500x slower than native: generous per-test timeout, tests in parallel.
ENCORE_ARM_CORE="$core" ctest --preset "$preset" -j "$(nproc 2>/dev/null || echo 2)" --timeout 1200 "${select[@]}"
