# Android arm64-v8a: wraps the NDK's own toolchain file.
#   cmake --preset android-arm64 -DANDROID_NDK=/path/to/ndk -DENCORE_XNNPACK_SOURCE_DIR=/path/to/XNNPACK
# ANDROID_NDK may also come from the environment (ANDROID_NDK_HOME or ANDROID_NDK_ROOT).
# Debian's XNNPACK is a Linux package, so on Android XNNPACK is built from a source checkout
# (cmake/EncoreDependencies.cmake explains which commit and what else it needs).
if(NOT ANDROID_NDK)
  if(DEFINED ENV{ANDROID_NDK_HOME})
    set(ANDROID_NDK "$ENV{ANDROID_NDK_HOME}")
  elseif(DEFINED ENV{ANDROID_NDK_ROOT})
    set(ANDROID_NDK "$ENV{ANDROID_NDK_ROOT}")
  endif()
endif()
if(NOT ANDROID_NDK OR NOT EXISTS "${ANDROID_NDK}/build/cmake/android.toolchain.cmake")
  message(FATAL_ERROR "encore: Android NDK not found (ANDROID_NDK='${ANDROID_NDK}'): pass "
                      "-DANDROID_NDK=/path/to/android-ndk or set ANDROID_NDK_HOME; it must contain "
                      "build/cmake/android.toolchain.cmake")
endif()
set(ANDROID_NDK "${ANDROID_NDK}" CACHE PATH "Android NDK root")
if(NOT ANDROID_ABI)
  set(ANDROID_ABI arm64-v8a)
endif()
if(NOT ANDROID_PLATFORM)
  set(ANDROID_PLATFORM android-26)  # Android 8.0; override with -DANDROID_PLATFORM=android-NN
endif()
include("${ANDROID_NDK}/build/cmake/android.toolchain.cmake")
