# Runs encore-capi-example (tools/capi_example) on the example language model and checks what it
# prints; cmake -P, so it needs no shell and runs the programs through the cross-compiling
# emulator when there is one.
#   cmake -DEXAMPLE=... -DRUN=encore-run -DMODEL=langid.encore -DBASE_MODEL=base.encore
#         -DEMULATOR="qemu-aarch64|-L|/sysroot" (optional, "|"-separated) -P run_example.cmake
cmake_minimum_required(VERSION 3.22)
string(REPLACE "|" ";" emulator "${EMULATOR}")
set(failures 0)
macro(fail)
  message(SEND_ERROR "FAIL: ${ARGN}")
  math(EXPR failures "${failures} + 1")
endmacro()

# Held-out words of tools/train/langid/test.tsv with their true language.
set(words großzuziehendes captivité guldålder zwięzłego desacreditastes)
set(languages german french swedish polish portuguese)

foreach(threads 1 2)
  execute_process(COMMAND ${emulator} ${EXAMPLE} --threads ${threads} ${MODEL} ${words}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    fail("example --threads ${threads}: exit ${rc}: ${err}")
    continue()
  endif()
  if(NOT out MATCHES "^encore [0-9]+\\.[0-9]+\\.[0-9]+: 2 layers, hidden 128, 9 labels, int8\n")
    fail("example: unexpected header line in:\n${out}")
  endif()
  foreach(word language IN ZIP_LISTS words languages)
    if(NOT out MATCHES "\n${word}\t([a-z]+)\t([0-9.]+)\t(\\[CLS\\][^\n]*\\[SEP\\])\n")
      fail("example: no result line for ${word} in:\n${out}")
      continue()
    endif()
    set(example_${word}_label ${CMAKE_MATCH_1})
    set(example_${word}_p ${CMAKE_MATCH_2})
    if(NOT CMAKE_MATCH_1 STREQUAL language)
      fail("example: ${word} labelled ${CMAKE_MATCH_1}, it is ${language}")
    endif()
  endforeach()
  # The profile: embeddings, both layers with their linear layers and attention, then the head.
  foreach(row "embeddings +[0-9.]+ \\| embeddings" "layer 0 +[0-9.]+ \\|.* qkv .* attention .* ffn_down"
              "layer 1 +[0-9.]+ \\|.* qkv .* attention .* ffn_down" "head +[0-9.]+ \\| pooler [0-9.]+ classifier")
    if(NOT out MATCHES "\n  ${row}")
      fail("example: no profile row '${row}' in:\n${out}")
    endif()
  endforeach()
endforeach()

# "0.995" -> 9950
function(ten_thousandths out value)
  if(NOT value MATCHES "^([0-9]+)\\.?([0-9]*)$")
    message(FATAL_ERROR "not a decimal: ${value}")
  endif()
  set(whole ${CMAKE_MATCH_1})
  string(SUBSTRING "${CMAKE_MATCH_2}0000" 0 4 fraction)
  string(REGEX REPLACE "^0+([0-9])" "\\1" fraction "${fraction}")
  math(EXPR v "${whole} * 10000 + ${fraction}")
  set(${out} ${v} PARENT_SCOPE)
endfunction()

# The C++ path (encore-run --text) gives the same label and probability for each word.
execute_process(COMMAND ${emulator} ${RUN} ${MODEL} --text großzuziehendes --text captivité --text guldålder
                        --text zwięzłego --text desacreditastes
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  fail("encore-run --text: exit ${rc}: ${err}")
else()
  string(REGEX MATCHALL "[^\n]+" lines "${out}")
  foreach(line IN LISTS lines)
    string(JSON word GET "${line}" text)
    string(JSON label GET "${line}" label)
    if(NOT line MATCHES "\"probabilities\":{[^}]*\"${label}\":([0-9.]+)")
      fail("encore-run: no probability for ${label} in ${line}")
      continue()
    endif()
    set(p ${CMAKE_MATCH_1})
    if(NOT label STREQUAL example_${word}_label)
      fail("${word}: encore-run says ${label}, the C example ${example_${word}_label}")
    endif()
    # Both give 4 decimals of the same softmax (float in C++, double in the example): allow
    # one unit of rounding.
    ten_thousandths(a ${p})
    ten_thousandths(b ${example_${word}_p})
    math(EXPR diff "${a} - ${b}")
    if(diff GREATER 1 OR diff LESS -1)
      fail("${word}: probability ${p} from encore-run, ${example_${word}_p} from the C example")
    endif()
  endforeach()
endif()

# Errors: one line on stderr and exit 1; usage errors exit 2.
macro(expect_error code text)
  execute_process(COMMAND ${emulator} ${EXAMPLE} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines lines)
  if(NOT rc EQUAL ${code} OR NOT lines EQUAL 1 OR NOT err MATCHES "${text}")
    fail("example ${ARGN}: expected exit ${code} and one line with '${text}', got ${rc}: ${err}")
  endif()
endmacro()
expect_error(1 "cannot open" ${MODEL}.missing hello)
expect_error(1 "has no classifier head" ${BASE_MODEL} hello)
expect_error(2 "usage" ${MODEL})
expect_error(2 "usage" --threads 0 ${MODEL} hello)

if(failures GREATER 0)
  message(FATAL_ERROR "capi example: ${failures} failures")
endif()
message(STATUS "capi example: all checks passed")
