# 64-bit ARM Linux: Raspberry Pi 3/4/5 with a 64-bit OS, other ARM64 boards.
#   tools/arm-sysroot.sh arm64 && cmake --preset rpi-aarch64
set(ENCORE_CROSS_PROCESSOR aarch64)
set(ENCORE_CROSS_TRIPLET aarch64-linux-gnu)
set(ENCORE_CROSS_DEBARCH arm64)
include(${CMAKE_CURRENT_LIST_DIR}/../linux-arm-common.cmake)
