# The public headers (cmake/public_headers.cmake) are what an installed
# application can include, so each must compile on its own and reach no
# private header, directly or not. Checks that
#   - every header under src/ is in exactly one list, and every listed one exists;
#   - each public header compiles alone (-fsyntax-only, warnings as errors):
#     the non-Vulkan ones as in a build without Vulkan (WebAssembly), the
#     Vulkan ones — and any non-Vulkan one whose includes test
#     VKCNN_HAS_VULKAN — as in a Vulkan build (VKCNN_HAS_VULKAN=1);
#   - its transitive includes (-MD) hold no private header and none of the
#     private dependencies (nlohmann-json, stb, zlib);
#   - those of a non-Vulkan public header hold no Vulkan header, ours or the
#     SDK's, so the WebAssembly build installs nothing that needs Vulkan.
# cmake -DCXX=<compiler> -DINCLUDE_DIR=<build>/include -DSOURCE_DIR=<project root>
#       -DVULKAN=<ON|OFF> [-DVULKAN_INCLUDE_DIR=<dir>] -DWORK_DIR=<dir> -P public_headers.cmake
cmake_minimum_required(VERSION 3.25)
include(${SOURCE_DIR}/cmake/public_headers.cmake)
set(all_listed ${VKCNN_PUBLIC_HEADERS} ${VKCNN_PUBLIC_VULKAN_HEADERS} ${VKCNN_PRIVATE_HEADERS})

# Each header in exactly one list.
set(list_errors "")
file(GLOB_RECURSE present RELATIVE ${SOURCE_DIR}/src ${SOURCE_DIR}/src/*.h ${SOURCE_DIR}/src/*.hpp ${SOURCE_DIR}/src/*.inc)
foreach(h IN LISTS present)
  if(NOT h IN_LIST all_listed)
    string(APPEND list_errors "\n  src/${h} is in no list: say whether applications include it")
  endif()
endforeach()
set(seen "")
foreach(h IN LISTS all_listed)
  if(h IN_LIST seen)
    string(APPEND list_errors "\n  ${h} is listed twice")
  endif()
  list(APPEND seen ${h})
  if(NOT EXISTS ${SOURCE_DIR}/src/${h})
    string(APPEND list_errors "\n  ${h} is listed but src/${h} does not exist")
  endif()
endforeach()
if(list_errors)
  message(FATAL_ERROR "cmake/public_headers.cmake does not match src/:${list_errors}")
endif()

cmake_host_system_information(RESULT jobs QUERY NUMBER_OF_LOGICAL_CORES)
if(jobs GREATER 8)
  set(jobs 8)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(failures 0)
set(prefix "${INCLUDE_DIR}/vkcnn/")
string(LENGTH "${prefix}" prefix_length)
# Headers that read as something else in a Vulkan build.
set(vulkan_conditional "")
foreach(h IN LISTS all_listed)
  file(STRINGS ${SOURCE_DIR}/src/${h} uses REGEX "VKCNN_HAS_VULKAN")
  if(uses)
    list(APPEND vulkan_conditional ${h})
  endif()
endforeach()

# Compiles each of `headers` alone with `flags` (a batch of `jobs` at a time:
# the commands of one execute_process run side by side) and checks what it
# includes; `mode` names the build in messages; with `no_vulkan`, a Vulkan
# header among its includes is an error too. Sets `conditional` to those
# that include a header of `vulkan_conditional`.
function(check_headers mode no_vulkan flags)
  set(headers ${ARGN})
  set(conditional "")
  list(LENGTH headers n)
  set(first 0)
  while(first LESS n)
    set(commands "")
    set(batch "")
    math(EXPR last "${first} + ${jobs} - 1")
    if(last GREATER_EQUAL n)
      math(EXPR last "${n} - 1")
    endif()
    foreach(i RANGE ${first} ${last})
      list(GET headers ${i} h)
      string(MAKE_C_IDENTIFIER "${mode}_${h}" stem)
      file(WRITE ${WORK_DIR}/${stem}.cpp "#include \"vkcnn/${h}\"\n")
      list(APPEND commands COMMAND ${CXX} ${flags} -fsyntax-only -MD -MF ${WORK_DIR}/${stem}.d ${WORK_DIR}/${stem}.cpp)
      list(APPEND batch ${h})
    endforeach()
    execute_process(${commands} RESULTS_VARIABLE results OUTPUT_QUIET ERROR_QUIET)
    foreach(h rc IN ZIP_LISTS batch results)
      string(MAKE_C_IDENTIFIER "${mode}_${h}" stem)
      if(NOT rc EQUAL 0) # again alone, for its messages
        execute_process(COMMAND ${CXX} ${flags} -fsyntax-only ${WORK_DIR}/${stem}.cpp ERROR_VARIABLE err)
        message(SEND_ERROR "${h} does not compile on its own (${mode}):\n${err}")
        math(EXPR failures "${failures} + 1")
        continue()
      endif()
      file(READ ${WORK_DIR}/${stem}.d deps)
      string(REPLACE "\\\n" " " deps "${deps}")
      string(REGEX REPLACE "^[^:]*:" "" deps "${deps}")
      separate_arguments(deps UNIX_COMMAND "${deps}")
      set(bad "")
      foreach(path IN LISTS deps)
        string(FIND "${path}" "${prefix}" at)
        if(at EQUAL 0)
          string(SUBSTRING "${path}" ${prefix_length} -1 rel)
          if(rel IN_LIST vulkan_conditional)
            list(APPEND conditional ${h})
          endif()
          if(rel IN_LIST VKCNN_PRIVATE_HEADERS)
            list(APPEND bad "private vkcnn/${rel}")
          elseif(no_vulkan AND (rel IN_LIST VKCNN_PUBLIC_VULKAN_HEADERS OR rel MATCHES "^vulkan/"))
            list(APPEND bad "Vulkan vkcnn/${rel}")
          endif()
        elseif(path MATCHES "/(nlohmann|stb)/[^/]+$" OR path MATCHES "/zlib\\.h$")
          list(APPEND bad "private dependency ${path}")
        elseif(no_vulkan AND (path MATCHES "/(vulkan|vk_video)/[^/]+$" OR path MATCHES "/vulkan[^/]*\\.h$"))
          list(APPEND bad "Vulkan ${path}")
        endif()
      endforeach()
      if(bad)
        list(JOIN bad "\n    " bad)
        message(SEND_ERROR "${h} (${mode}) includes, directly or not:\n    ${bad}")
        math(EXPR failures "${failures} + 1")
      endif()
    endforeach()
    math(EXPR first "${first} + ${jobs}")
  endwhile()
  list(REMOVE_DUPLICATES conditional)
  set(failures ${failures} PARENT_SCOPE)
  set(conditional ${conditional} PARENT_SCOPE)
endfunction()

# vkcnn's own warnings (vkcnn_warnings in CMakeLists.txt), less the one it
# turns off: `VkFooCreateInfo info{VK_STRUCTURE_TYPE_...}` is the Vulkan idiom.
set(flags -std=c++20 -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wno-missing-field-initializers -Werror
          -I${INCLUDE_DIR})
check_headers(no_vulkan TRUE "${flags}" ${VKCNN_PUBLIC_HEADERS})
list(LENGTH VKCNN_PUBLIC_HEADERS checked)
if(VULKAN)
  set(vulkan_flags ${flags} -DVKCNN_HAS_VULKAN=1)
  if(VULKAN_INCLUDE_DIR)
    list(APPEND vulkan_flags -I${VULKAN_INCLUDE_DIR})
  endif()
  check_headers(vulkan_build FALSE "${vulkan_flags}" ${VKCNN_PUBLIC_VULKAN_HEADERS} ${conditional})
  list(LENGTH VKCNN_PUBLIC_VULKAN_HEADERS n)
  math(EXPR checked "${checked} + ${n}")
endif()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} public header checks failed")
endif()
list(LENGTH VKCNN_PUBLIC_HEADERS n)
list(LENGTH VKCNN_PRIVATE_HEADERS p)
message(STATUS "all ${checked} public headers compile alone and include none of the ${p} private ones; "
               "the ${n} of the WebAssembly build include no Vulkan header")
