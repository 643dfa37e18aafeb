# `cmake --install` into a temporary prefix, then a consumer project built against it with
# find_package(encore) and run: the installed C example and a C++ program each label a word.
#   cmake -DBUILD_DIR= -DWORK_DIR= -DCONSUMER_DIR= -DMODEL= -DLIBDIR= -DDOCDIR= -DGENERATOR=
#         -DC_COMPILER= -DCXX_COMPILER= -DC_FLAGS= -DCXX_FLAGS= -DBUILD_TYPE= [-DTOOLCHAIN_FILE=]
#         [-DEMULATOR="a|b"] -P install_test.cmake
cmake_minimum_required(VERSION 3.22)
string(REPLACE "|" ";" emulator "${EMULATOR}")
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

macro(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
endmacro()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f ${LIBDIR}/libencore.so ${LIBDIR}/cmake/encore/encoreConfig.cmake
          ${LIBDIR}/cmake/encore/encoreConfigVersion.cmake ${LIBDIR}/cmake/encore/encoreTargets.cmake
          include/encore/encore_c.h include/encore/session.h include/encore/text.h include/encore/status.h
          bin/encore-convert bin/encore-run bin/encore-bench bin/encore-inspect ${DOCDIR}/examples/classify.c)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "cmake --install did not install ${f}")
  endif()
endforeach()
# The Python module (with ENCORE_PYTHON): the prefix's dist-packages for this interpreter, and it
# classifies a word from there.
if(PYTHON_EXE)
  execute_process(COMMAND ${PYTHON_EXE} -c "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"
                  OUTPUT_VARIABLE py_version OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(py_dir ${prefix}/lib/python${py_version}/dist-packages)
  run("import encore from ${py_dir}" ${CMAKE_COMMAND} -E env PYTHONPATH=${py_dir} ${PYTHON_EXE} -c
      "import encore, sys; assert encore.__file__.startswith('${py_dir}'); r = encore.Model('${MODEL}').session().classify('Schmetterling'); print(r['label'])")
endif()
# Only public headers: nothing from the runtime's internals.
file(GLOB headers RELATIVE ${prefix}/include/encore ${prefix}/include/encore/*)
list(SORT headers)
set(public config.h encore_c.h model.h profile.h session.h status.h text.h text_tokenizer.h tokenizer.h)
if(NOT headers STREQUAL public)
  message(FATAL_ERROR "installed headers: ${headers}; expected ${public}")
endif()

set(configure_args -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix}
    -DENCORE_EXAMPLE_SOURCE=${prefix}/${DOCDIR}/examples/classify.c -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
    -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    "-DCMAKE_C_FLAGS=${C_FLAGS}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
if(TOOLCHAIN_FILE)
  # A cross toolchain re-roots package searches into its sysroot (find mode ONLY), so the
  # prefix is named directly, as a user of an ARM SDK outside the sysroot would.
  list(APPEND configure_args -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN_FILE} -Dencore_DIR=${prefix}/${LIBDIR}/cmake/encore)
endif()
run("configuring the consumer" ${CMAKE_COMMAND} ${configure_args})
run("building the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)

run("the C consumer" ${emulator} ${WORK_DIR}/build/c_consumer ${MODEL} guldålder)
if(NOT out MATCHES "\nguldålder\tswedish\t0\\.[0-9]+\t\\[CLS\\]")
  message(FATAL_ERROR "the C consumer printed:\n${out}")
endif()
run("the C++ consumer" ${emulator} ${WORK_DIR}/build/cpp_consumer ${MODEL} guldålder)
if(NOT out STREQUAL "guldålder\tswedish\n")
  message(FATAL_ERROR "the C++ consumer printed:\n${out}")
endif()

file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "install: headers, library, tools and CMake package installed; C and C++ consumers ran")
