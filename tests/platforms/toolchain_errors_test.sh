#!/usr/bin/env bash
# The cross toolchain files and dependency options fail at configure time with one clear
# message when what they need is missing (no NDK, no sysroot, a source dir that is not one).
set -u
src="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset ANDROID_NDK_HOME ANDROID_NDK_ROOT ENCORE_ARM_SYSROOT
failures=0

expect_error() { # expect_error NAME TEXT CMAKE_ARGS...
  local name=$1 text=$2; shift 2
  if cmake -S "$src" -B "$tmp/$name" -G Ninja "$@" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: configure succeeded"; failures=$((failures + 1)); return
  fi
  # CMake wraps long messages: compare with the line breaks and indentation folded away.
  if ! tr -s ' \n' ' ' <"$tmp/$name.log" | grep -q -- "$text"; then
    echo "FAIL $name: no '$text' in:"; cat "$tmp/$name.log"; failures=$((failures + 1)); return
  fi
  echo "ok $name"
}

expect_error android-no-ndk "Android NDK not found" \
  -DCMAKE_TOOLCHAIN_FILE="$src/platforms/android-arm64/toolchain.cmake" -DANDROID_NDK="$tmp/no-ndk"
expect_error aarch64-no-sysroot "no arm64 sysroot at $tmp/none" \
  -DCMAKE_TOOLCHAIN_FILE="$src/platforms/linux-aarch64/toolchain.cmake" -DENCORE_ARM_SYSROOT="$tmp/none"
expect_error armhf-no-sysroot "run tools/arm-sysroot.sh armhf first" \
  -DCMAKE_TOOLCHAIN_FILE="$src/platforms/linux-armhf/toolchain.cmake" -DENCORE_ARM_SYSROOT="$tmp/none"
expect_error xnnpack-source-not-a-checkout "is not a source checkout" \
  -DENCORE_XNNPACK_SOURCE_DIR="$tmp" -DENCORE_BUILD_TESTS=OFF -DENCORE_BUILD_TOOLS=OFF
exit $((failures > 0))
