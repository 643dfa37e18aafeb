#!/usr/bin/env bash
# Runs an ARM program under qemu-user with the sysroot's loader and libraries; CMake's
# CMAKE_CROSSCOMPILING_EMULATOR for the Linux ARM toolchain files.
#   platforms/qemu-run.sh arm64|armhf SYSROOT PROGRAM [ARGS...]
# ENCORE_ARM_CORE selects the emulated CPU:
#   unset / generic  qemu's "max" CPU (every feature qemu has: dot product on arm64), and
#                    cpuinfo sees no known core, so XNNPACK picks kernels by feature alone;
#   a72              Raspberry Pi 4's Cortex-A72 (arm64: QEMU_CPU=cortex-a72; armhf: qemu-arm
#                    has no A72 model, so "max" runs the ARMv8-AArch32 code), plus a matching
#                    /proc/cpuinfo so that XNNPACK selects its Cortex-A72 kernels;
#   a53              Cortex-A53 (Pi 3, arm64 only), likewise.
# The fake /proc/cpuinfo works because qemu's -L prefix also redirects /proc/cpuinfo when
# PREFIX/proc/cpuinfo exists; it must describe the emulated CPU or XNNPACK would select
# instructions qemu then rejects (SIGILL).
set -euo pipefail
arch="$1"; sysroot="$2"; shift 2
case "$arch" in
  arm64) qemu=qemu-aarch64-static; cpu_arch=8 ;;
  armhf) qemu=qemu-arm-static; cpu_arch=7 ;;
  *) echo "qemu-run: error: unknown architecture '$arch'" >&2; exit 2 ;;
esac
core="${ENCORE_ARM_CORE:-generic}"
prefix="$sysroot"
case "$core" in
  generic) export QEMU_CPU=max ;;
  a72|a53)
    part=0xd08; qcpu=cortex-a72
    [[ "$core" == a53 ]] && { part=0xd03; qcpu=cortex-a53; }
    if [[ "$arch" == armhf ]]; then
      [[ "$core" == a72 ]] || { echo "qemu-run: error: armhf supports ENCORE_ARM_CORE=generic or a72" >&2; exit 2; }
      qcpu=max
      features="half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32"
    else
      features="fp asimd evtstrm crc32 cpuid"
    fi
    export QEMU_CPU="$qcpu"
    # A sibling prefix: the sysroot's folders linked in, plus proc/cpuinfo (made once; the
    # rename makes concurrent first runs safe).
    prefix="$sysroot-$core"
    if [[ ! -f "$prefix/proc/cpuinfo" ]]; then
      mkdir -p "$prefix/proc"
      for entry in "$sysroot"/*; do ln -sfn "$entry" "$prefix/$(basename "$entry")"; done
      tmp="$(mktemp "$prefix/proc/.cpuinfo.XXXXXX")"
      for n in 0 1 2 3; do
        printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: %d\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 3\n\n' \
          "$n" "$features" "$cpu_arch" "$part" >>"$tmp"
      done
      mv -f "$tmp" "$prefix/proc/cpuinfo"
    fi
    ;;
  *) echo "qemu-run: error: unknown ENCORE_ARM_CORE '$core' (generic, a72, a53)" >&2; exit 2 ;;
esac
exec "$qemu" -L "$prefix" "$@"
