# 32-bit ARM Linux, ARMv7 + NEON, hard float: 32-bit Raspberry Pi OS (Pi 2/3/4/5).
#   tools/arm-sysroot.sh armhf && cmake --preset rpi-armhf
set(ENCORE_CROSS_PROCESSOR armv7l)
set(ENCORE_CROSS_TRIPLET arm-linux-gnueabihf)
set(ENCORE_CROSS_DEBARCH armhf)
include(${CMAKE_CURRENT_LIST_DIR}/../linux-arm-common.cmake)
