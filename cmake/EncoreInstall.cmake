# `cmake --install`: libencore.so, the public headers, the command-line tools and a CMake
# package (find_package(encore) -> encore::encore). `cpack -G DEB`: the same files as one
# Debian package, `encore`, for the target's architecture.
include(CMakePackageConfigHelpers)

set(ENCORE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/encore)

install(TARGETS encore_shared EXPORT encoreTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/encore DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
if(ENCORE_BUILD_TOOLS)
  # The tools link the static runtime (they use its internals), so they stand alone.
  install(TARGETS encore-convert encore-run encore-bench encore-inspect RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  # encore-serve is built where cpp-httplib is (tools/serve/CMakeLists.txt); its systemd unit is
  # an example to adapt (the model path), not enabled by the package.
  if(TARGET encore-serve)
    install(TARGETS encore-serve RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    install(FILES ${PROJECT_SOURCE_DIR}/tools/serve/encore-serve.service DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
  endif()
endif()
install(FILES ${PROJECT_SOURCE_DIR}/tools/capi_example/classify.c DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

install(EXPORT encoreTargets NAMESPACE encore:: DESTINATION ${ENCORE_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/encoreConfig.cmake.in
  ${PROJECT_BINARY_DIR}/encoreConfig.cmake INSTALL_DESTINATION ${ENCORE_CMAKE_DIR})
# Before 1.0 a minor release may break the API, as the soname says.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/encoreConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/encoreConfig.cmake ${PROJECT_BINARY_DIR}/encoreConfigVersion.cmake
  DESTINATION ${ENCORE_CMAKE_DIR})

# ---- Debian package ---------------------------------------------------------------------
set(CPACK_PACKAGE_NAME encore)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "int8 runtime for BERT-family Transformer encoders")
set(CPACK_PACKAGE_DESCRIPTION "encore runs trained Transformer encoders (BERT family) in int8 on CPUs: \
libencore.so with its C and C++ headers and CMake package, the encore-convert, encore-run, \
encore-bench and encore-inspect tools, encore-serve (an HTTP server for embeddings, classification \
and reranking, with an example systemd unit), and the Python module (import encore).")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "encore maintainers <maintainers@encore.invalid>"
  CACHE STRING "Maintainer field of the Debian package")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # encore_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)  # a shlibs file for libencore.so, and ldconfig calls
set(CPACK_STRIP_FILES ON)

# The target's architecture, not the build machine's.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")  # arm, armv7l, armv7-a, armhf: 32-bit ARM
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE armhf)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
endif()  # otherwise CPack asks dpkg (the build machine's)

# Runtime dependencies. Natively, dpkg-shlibdeps computes them (with minimum versions) from the
# installed binaries; it cannot when cross compiling, so the package names are listed here.
# tests/install checks natively that this list covers every package dpkg-shlibdeps finds and
# names only installed packages. (libcpuinfo0 comes with libxnnpack0 anyway; it is listed since
# a build that links without --as-needed needs it directly.)
set(ENCORE_DEB_DEPENDS "libc6, libgcc-s1, libstdc++6, libxnnpack0, libpthreadpool0, libcpuinfo0, libutf8proc2, libpcre2-8-0")
# The Python module (ENCORE_PYTHON) is built for one interpreter version and imports NumPy.
if(ENCORE_PYTHON)
  string(REPLACE "." ";" py_mm "${ENCORE_PYTHON_VERSION}")
  list(GET py_mm 0 py_major)
  list(GET py_mm 1 py_minor)
  math(EXPR py_next "${py_minor} + 1")
  string(APPEND ENCORE_DEB_DEPENDS ", python3 (>= ${ENCORE_PYTHON_VERSION}), python3 (<< ${py_major}.${py_next}), python3-numpy")
endif()
if(TARGET encore-serve)
  string(APPEND ENCORE_DEB_DEPENDS ", libcpp-httplib0.11")
endif()
if(CMAKE_CROSSCOMPILING)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${ENCORE_DEB_DEPENDS}")
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()

include(CPack)
