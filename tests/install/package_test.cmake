# `cpack -G DEB` and what the package holds: name, version, architecture, dependencies (natively
# computed by dpkg-shlibdeps; the list cross builds use must cover them), files, shlibs and
# ldconfig calls, and no path of the build tree.
#   cmake -DCPACK= -DCONFIG=CPackConfig.cmake -DWORK_DIR= -DVERSION= -DARCH= -DDEPENDS="a, b"
#         -DLIBDIR= -DBUILD_DIR= -DCROSSCOMPILING=ON|OFF -P package_test.cmake
cmake_minimum_required(VERSION 3.22)
file(REMOVE_RECURSE ${WORK_DIR})

macro(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
endmacro()

run("cpack" ${CPACK} -G DEB --config ${CONFIG} -B ${WORK_DIR})
set(deb ${WORK_DIR}/encore_${VERSION}_${ARCH}.deb)
if(NOT EXISTS ${deb})
  file(GLOB made ${WORK_DIR}/*.deb)
  message(FATAL_ERROR "expected ${deb}; cpack made: ${made}")
endif()

foreach(field Package Version Architecture)
  run("dpkg-deb -f" dpkg-deb -f ${deb} ${field})
  string(STRIP "${out}" ${field})
endforeach()
if(NOT Package STREQUAL "encore" OR NOT Version STREQUAL VERSION OR NOT Architecture STREQUAL ARCH)
  message(FATAL_ERROR "control: Package ${Package}, Version ${Version}, Architecture ${Architecture}")
endif()
run("dpkg-deb -f" dpkg-deb -f ${deb} Maintainer)
if(NOT out MATCHES "<.+@.+>")
  message(FATAL_ERROR "control: Maintainer '${out}' has no address")
endif()

# Depends: the package names, without version constraints, as a sorted list.
function(package_names out depends)
  string(REGEX REPLACE "\\([^)]*\\)" "" depends "${depends}")
  string(REGEX REPLACE "[ \n]" "" depends "${depends}")
  string(REPLACE "," ";" depends "${depends}")
  list(REMOVE_ITEM depends "")
  list(SORT depends)
  set(${out} "${depends}" PARENT_SCOPE)
endfunction()
run("dpkg-deb -f" dpkg-deb -f ${deb} Depends)
package_names(computed "${out}")
package_names(listed "${DEPENDS}")
# Every package the binaries need must be on the list cross builds use (a sanitized build also
# needs the sanitizer runtimes, which the list leaves out), and the list must name real packages.
foreach(p IN LISTS computed)
  if(NOT p IN_LIST listed AND NOT p MATCHES "^lib(asan|ubsan)[0-9]+$")
    message(FATAL_ERROR "Depends has ${p}, which cmake/EncoreInstall.cmake does not list for cross builds (${listed})")
  endif()
endforeach()
if(NOT CROSSCOMPILING)  # a cross build's packages are in its sysroot, not in this dpkg database
  foreach(p IN LISTS listed)
    run("dpkg-query ${p}" dpkg-query -s ${p})
    if(NOT out MATCHES "\nStatus: install ok installed")
      message(FATAL_ERROR "cmake/EncoreInstall.cmake lists ${p}, which is not an installed package here")
    endif()
  endforeach()
endif()

run("dpkg-deb -c" dpkg-deb -c ${deb})
foreach(f usr/bin/encore-convert usr/bin/encore-run usr/bin/encore-bench usr/bin/encore-inspect
          usr/${LIBDIR}/libencore.so.${VERSION} usr/${LIBDIR}/libencore.so
          usr/${LIBDIR}/cmake/encore/encoreConfig.cmake usr/${LIBDIR}/cmake/encore/encoreTargets.cmake
          usr/include/encore/encore_c.h usr/include/encore/session.h ${SERVE_FILES})
  if(NOT out MATCHES " \\./${f}[\n ]")
    message(FATAL_ERROR "the package has no ${f}:\n${out}")
  endif()
endforeach()
string(REGEX MATCHALL " \\./[^\n ]*" paths "${out}")
foreach(p IN LISTS paths)
  if(NOT p MATCHES "^ \\./(usr/.*)?$")
    message(FATAL_ERROR "the package installs outside /usr: ${p}")
  endif()
endforeach()

run("dpkg-deb -I shlibs" dpkg-deb -I ${deb} shlibs)
if(NOT out MATCHES "^libencore [0-9.]+ encore \\(= ${VERSION}\\)")
  message(FATAL_ERROR "shlibs: ${out}")
endif()
run("dpkg-deb -I postinst" dpkg-deb -I ${deb} postinst)
if(NOT out MATCHES "ldconfig")
  message(FATAL_ERROR "postinst does not run ldconfig: ${out}")
endif()

# Nothing installed may point back into the build tree (the CMake package must be relocatable).
run("dpkg-deb -x" dpkg-deb -x ${deb} ${WORK_DIR}/root)
file(GLOB cmake_files ${WORK_DIR}/root/usr/${LIBDIR}/cmake/encore/*.cmake)
foreach(f IN LISTS cmake_files)
  file(READ ${f} text)
  string(FIND "${text}" "${BUILD_DIR}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${f} mentions the build tree ${BUILD_DIR}")
  endif()
endforeach()

# The Python module, where Debian's python3 finds packages, imports from the unpacked tree.
if(PYTHON_EXE)
  set(py_dir ${WORK_DIR}/root/usr/lib/python3/dist-packages)
  if(NOT EXISTS ${py_dir}/encore/__init__.py)
    message(FATAL_ERROR "the package has no Python module in /usr/lib/python3/dist-packages/encore")
  endif()
  run("import encore" ${CMAKE_COMMAND} -E env PYTHONPATH=${py_dir} ${PYTHON_EXE} -c
      "import encore, sys; sys.exit(0 if encore.__file__.startswith('${py_dir}') else 1)")
endif()

file(SIZE ${deb} bytes)
file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "package: encore_${VERSION}_${ARCH}.deb, ${bytes} bytes, Depends ${computed}")
