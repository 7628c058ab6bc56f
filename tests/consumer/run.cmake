# The consumer/find_package test. Checks that README.md's section "Using the
# library from an application" still shows this program's train() and main()
# verbatim; installs the vkcnn build in BUILD_DIR into a fresh prefix and
# checks that its include tree holds exactly the public headers
# (cmake/public_headers.cmake; the Vulkan ones only when VULKAN); then
# configures, builds and runs the consumer project in SOURCE_DIR against it.
# The consumer exits with 77 when the machine has no Vulkan device: the test
# then reports itself skipped.
# cmake -DBUILD_DIR=<build> -DSOURCE_DIR=<tests/consumer> -DPROJECT_DIR=<root> -DVULKAN=<ON|OFF>
#       -DWORK_DIR=<dir> -P run.cmake
file(READ ${SOURCE_DIR}/main.cpp program)
file(READ ${PROJECT_DIR}/README.md readme)
string(FIND "${program}" "// Every vkcnn object lives in this function" at)
if(at EQUAL -1)
  message(FATAL_ERROR "tests/consumer/main.cpp has no train() where run.cmake looks for it")
endif()
string(SUBSTRING "${program}" ${at} -1 shown)
string(STRIP "${shown}" shown)
string(FIND "${readme}" "${shown}" in_readme)
if(in_readme EQUAL -1)
  message(FATAL_ERROR "README.md no longer shows tests/consumer/main.cpp's train() and main() as they are: copy them "
                      "into its section \"Using the library from an application\"")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
include(${CMAKE_CURRENT_LIST_DIR}/installed_headers.cmake)
check_installed_headers(${PROJECT_DIR} ${prefix} ${VULKAN})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE rc)
if(rc EQUAL 77)
  message("consumer/find_package: SKIPPED (no Vulkan device to adopt)")
elseif(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer failed (${rc})")
endif()
