# Finds encore's dependencies, all from Debian packages (tools/install-deps.sh).
# XNNPACK and pthreadpool ship no CMake config in Debian, so plain find_path/find_library is
# used for every native library: it also works unchanged with a cross sysroot.

find_package(Threads REQUIRED)

function(encore_find_library target header lib)
  find_path(${target}_INCLUDE_DIR ${header})
  find_library(${target}_LIBRARY ${lib})
  if(NOT ${target}_INCLUDE_DIR OR NOT ${target}_LIBRARY)
    message(FATAL_ERROR "encore: ${lib} not found (header ${header}); run tools/install-deps.sh")
  endif()
  add_library(encore::${target} UNKNOWN IMPORTED)
  set_target_properties(encore::${target} PROPERTIES
    IMPORTED_LOCATION "${${target}_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${${target}_INCLUDE_DIR}")
endfunction()

# XNNPACK from a source checkout instead of the system: needed where Debian's package does not
# exist (Android). The checkout should be the commit Debian packages (ae108ef, 2022-02-16):
# encore uses that snapshot's operator API, which later XNNPACK versions changed. XNNPACK's own
# CMake then needs its dependencies (cpuinfo, pthreadpool, FP16, FXdiv, psimd): point
# CPUINFO_SOURCE_DIR, PTHREADPOOL_SOURCE_DIR, FP16_SOURCE_DIR, FXDIV_SOURCE_DIR and
# PSIMD_SOURCE_DIR at checkouts, or it downloads them itself. utf8proc likewise comes from
# ENCORE_UTF8PROC_SOURCE_DIR when it is not in the sysroot.
set(ENCORE_XNNPACK_SOURCE_DIR "" CACHE PATH "Build XNNPACK from this source checkout (Android)")
set(ENCORE_UTF8PROC_SOURCE_DIR "" CACHE PATH "Build utf8proc from this source checkout (Android)")
if(ANDROID AND NOT ENCORE_XNNPACK_SOURCE_DIR)
  message(FATAL_ERROR "encore: Android builds need XNNPACK from source: pass "
                      "-DENCORE_XNNPACK_SOURCE_DIR=/path/to/XNNPACK (a checkout of commit ae108ef)")
endif()

function(encore_add_source_dependency dir what)
  if(NOT EXISTS "${dir}/CMakeLists.txt")
    message(FATAL_ERROR "encore: ${what}='${dir}' is not a source checkout (no CMakeLists.txt there)")
  endif()
endfunction()

if(ENCORE_XNNPACK_SOURCE_DIR)
  encore_add_source_dependency("${ENCORE_XNNPACK_SOURCE_DIR}" ENCORE_XNNPACK_SOURCE_DIR)
  set(XNNPACK_BUILD_TESTS OFF CACHE BOOL "" FORCE)
  set(XNNPACK_BUILD_BENCHMARKS OFF CACHE BOOL "" FORCE)
  set(XNNPACK_LIBRARY_TYPE static CACHE STRING "" FORCE)
  add_subdirectory("${ENCORE_XNNPACK_SOURCE_DIR}" xnnpack EXCLUDE_FROM_ALL)
  foreach(dep xnnpack:XNNPACK pthreadpool:pthreadpool cpuinfo:cpuinfo)
    string(REPLACE ":" ";" pair "${dep}")
    list(GET pair 0 name)
    list(GET pair 1 target)
    add_library(encore::${name} INTERFACE IMPORTED)
    set_target_properties(encore::${name} PROPERTIES INTERFACE_LINK_LIBRARIES ${target})
  endforeach()
else()
  encore_find_library(xnnpack xnnpack.h XNNPACK)
  encore_find_library(pthreadpool pthreadpool.h pthreadpool)
  encore_find_library(cpuinfo cpuinfo.h cpuinfo)
  set_property(TARGET encore::xnnpack APPEND PROPERTY
    INTERFACE_LINK_LIBRARIES encore::pthreadpool encore::cpuinfo Threads::Threads)
endif()
# Unicode categories / decomposition for the tokenizer.
if(ENCORE_UTF8PROC_SOURCE_DIR)
  encore_add_source_dependency("${ENCORE_UTF8PROC_SOURCE_DIR}" ENCORE_UTF8PROC_SOURCE_DIR)
  add_subdirectory("${ENCORE_UTF8PROC_SOURCE_DIR}" utf8proc EXCLUDE_FROM_ALL)
  add_library(encore::utf8proc INTERFACE IMPORTED)
  set_target_properties(encore::utf8proc PROPERTIES INTERFACE_LINK_LIBRARIES utf8proc)
else()
  encore_find_library(utf8proc utf8proc.h utf8proc)
endif()

# PCRE2 (8-bit, with Unicode properties) for the regexes of tokenizer.json pipelines
# (encore_text_tokenizer). Android sysroots have none: there that library is left out.
find_path(pcre2_INCLUDE_DIR pcre2.h)
find_library(pcre2_LIBRARY pcre2-8)
if(pcre2_INCLUDE_DIR AND pcre2_LIBRARY)
  add_library(encore::pcre2 UNKNOWN IMPORTED)
  set_target_properties(encore::pcre2 PROPERTIES
    IMPORTED_LOCATION "${pcre2_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${pcre2_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS PCRE2_CODE_UNIT_WIDTH=8)
elseif(ANDROID)
  message(STATUS "encore: PCRE2 not found; encore_text_tokenizer (tokenizer.json) is not built")
else()
  message(FATAL_ERROR "encore: pcre2-8 not found (header pcre2.h); run tools/install-deps.sh")
endif()

# FlatBuffers: the runtime needs only the headers; flatc runs on the build machine.
find_path(FLATBUFFERS_INCLUDE_DIR flatbuffers/flatbuffers.h)
find_program(FLATC_EXECUTABLE flatc)
if(NOT FLATBUFFERS_INCLUDE_DIR OR NOT FLATC_EXECUTABLE)
  message(FATAL_ERROR "encore: FlatBuffers headers or flatc not found; run tools/install-deps.sh "
                      "(Android: -DFLATBUFFERS_INCLUDE_DIR=<flatbuffers v2.0.8 checkout>/include)")
endif()

# Header-only libraries: nlohmann/json for the tokenizer.json reader (runtime) and the tools;
# CLI11 for the tools and tests.
find_path(NLOHMANN_JSON_INCLUDE_DIR nlohmann/json.hpp)
set(header_deps NLOHMANN_JSON)
if(ENCORE_BUILD_TOOLS OR ENCORE_BUILD_TESTS OR ENCORE_BUILD_FUZZERS)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp)
  list(APPEND header_deps CLI11)
endif()
if(ENCORE_BUILD_TESTS)
  find_path(DOCTEST_INCLUDE_DIR doctest/doctest.h)
  list(APPEND header_deps DOCTEST)
endif()
foreach(dep IN LISTS header_deps)
  if(NOT ${dep}_INCLUDE_DIR)
    message(FATAL_ERROR "encore: ${dep} headers not found; run tools/install-deps.sh")
  endif()
endforeach()
