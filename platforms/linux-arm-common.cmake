# Shared body of the Linux ARM toolchain files (platforms/linux-*/toolchain.cmake): Debian's
# cross g++, a sysroot of Debian ARM packages (tools/arm-sysroot.sh), find modes that take
# libraries only from that sysroot, and qemu-user as the emulator so ctest runs the tests.
# Expects ENCORE_CROSS_PROCESSOR, ENCORE_CROSS_TRIPLET and ENCORE_CROSS_DEBARCH to be set.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${ENCORE_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${ENCORE_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${ENCORE_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${ENCORE_CROSS_TRIPLET})

# The sysroot: a cache variable, else the environment, else where tools/arm-sysroot.sh puts it.
if(NOT ENCORE_ARM_SYSROOT)
  if(DEFINED ENV{ENCORE_ARM_SYSROOT})
    set(ENCORE_ARM_SYSROOT "$ENV{ENCORE_ARM_SYSROOT}")
  else()
    get_filename_component(ENCORE_ARM_SYSROOT
      "${CMAKE_CURRENT_LIST_DIR}/../build/sysroot/${ENCORE_CROSS_DEBARCH}" ABSOLUTE)
  endif()
endif()
set(ENCORE_ARM_SYSROOT "${ENCORE_ARM_SYSROOT}" CACHE PATH "ARM sysroot (tools/arm-sysroot.sh)")
if(NOT EXISTS "${ENCORE_ARM_SYSROOT}/.encore-sysroot")
  message(FATAL_ERROR "encore: no ${ENCORE_CROSS_DEBARCH} sysroot at ${ENCORE_ARM_SYSROOT}; "
                      "run tools/arm-sysroot.sh ${ENCORE_CROSS_DEBARCH} first")
endif()
# try_compile projects re-read this file: pass the sysroot on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ENCORE_ARM_SYSROOT)

# Libraries from the sysroot only; headers from the sysroot or the host (the header-only and
# architecture-independent ones: flatbuffers, doctest, nlohmann-json, CLI11); programs (flatc)
# from the host.
set(CMAKE_FIND_ROOT_PATH "${ENCORE_ARM_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The linker resolves the libraries' own dependencies (libpthreadpool from libXNNPACK, libssl and
# libz from libcpp-httplib, ...) in the sysroot; the toolchain's libc and libstdc++ stay the ones
# linked against. Both folders: bookworm still installs some libraries (zlib1g) under /lib.
set(_encore_rpath_link "${ENCORE_ARM_SYSROOT}/usr/lib/${ENCORE_CROSS_TRIPLET}:${ENCORE_ARM_SYSROOT}/lib/${ENCORE_CROSS_TRIPLET}")
string(APPEND CMAKE_EXE_LINKER_FLAGS_INIT " -Wl,-rpath-link,${_encore_rpath_link}")
string(APPEND CMAKE_SHARED_LINKER_FLAGS_INIT " -Wl,-rpath-link,${_encore_rpath_link}")

# Tests (and doctest's discovery at build time) run through qemu-user; platforms/qemu-run.sh
# picks the emulated CPU from ENCORE_ARM_CORE at run time (generic when unset).
set(CMAKE_CROSSCOMPILING_EMULATOR
  "${CMAKE_CURRENT_LIST_DIR}/qemu-run.sh;${ENCORE_CROSS_DEBARCH};${ENCORE_ARM_SYSROOT}")
