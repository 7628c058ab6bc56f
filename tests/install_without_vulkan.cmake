# The install rule of a build without the Vulkan backend, as the WebAssembly
# build is: configures such a tree (nothing is built), installs its headers
# (the vkcnn_headers component) and checks that they are exactly the
# non-Vulkan public list of cmake/public_headers.cmake.
# cmake -DPROJECT_DIR=<root> -DCXX=<compiler> -DGENERATOR=<generator> -DWORK_DIR=<dir> -P install_without_vulkan.cmake
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${out}\nfailed (${rc}): ${ARGN}")
  endif()
endfunction()
run(${CMAKE_COMMAND} -S ${PROJECT_DIR} -B ${WORK_DIR}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
    -DVKCNN_VULKAN=OFF -DVKCNN_BUILD_TESTS=OFF -DVKCNN_BUILD_TOOLS=OFF)
run(${CMAKE_COMMAND} --install ${WORK_DIR}/build --component vkcnn_headers --prefix ${WORK_DIR}/prefix)
include(${CMAKE_CURRENT_LIST_DIR}/consumer/installed_headers.cmake)
check_installed_headers(${PROJECT_DIR} ${WORK_DIR}/prefix OFF)
