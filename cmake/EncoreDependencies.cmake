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

encore_find_library(xnnpack xnnpack.h XNNPACK)
encore_find_library(pthreadpool pthreadpool.h pthreadpool)
encore_find_library(cpuinfo cpuinfo.h cpuinfo)
encore_find_library(utf8proc utf8proc.h utf8proc)  # Unicode categories / decomposition for the tokenizer
set_property(TARGET encore::xnnpack APPEND PROPERTY
  INTERFACE_LINK_LIBRARIES encore::pthreadpool encore::cpuinfo Threads::Threads)

# FlatBuffers: the runtime needs only the headers; flatc runs on the build machine.
find_path(FLATBUFFERS_INCLUDE_DIR flatbuffers/flatbuffers.h)
find_program(FLATC_EXECUTABLE flatc)
if(NOT FLATBUFFERS_INCLUDE_DIR OR NOT FLATC_EXECUTABLE)
  message(FATAL_ERROR "encore: FlatBuffers headers or flatc not found; run tools/install-deps.sh")
endif()

find_path(NLOHMANN_JSON_INCLUDE_DIR nlohmann/json.hpp)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp)
find_path(DOCTEST_INCLUDE_DIR doctest/doctest.h)
foreach(dep NLOHMANN_JSON CLI11 DOCTEST)
  if(NOT ${dep}_INCLUDE_DIR)
    message(FATAL_ERROR "encore: ${dep} headers not found; run tools/install-deps.sh")
  endif()
endforeach()
