# check_installed_headers(<project root> <prefix> <vulkan>): the include tree
# under <prefix> is exactly the headers cmake/public_headers.cmake says a
# build with (or without) the Vulkan backend installs — no more, no fewer.
function(check_installed_headers project_dir prefix vulkan)
  include(${project_dir}/cmake/public_headers.cmake)
  vkcnn_installed_headers(want ${vulkan})
  file(GLOB_RECURSE have RELATIVE ${prefix}/include/vkcnn LIST_DIRECTORIES false ${prefix}/include/vkcnn/*)
  file(GLOB others RELATIVE ${prefix}/include ${prefix}/include/*)
  list(REMOVE_ITEM others vkcnn)
  set(extra ${have})
  list(REMOVE_ITEM extra ${want})
  set(missing ${want})
  if(have)
    list(REMOVE_ITEM missing ${have})
  endif()
  if(extra OR missing OR others)
    message(FATAL_ERROR "${prefix}/include is not the public header list (cmake/public_headers.cmake, vulkan ${vulkan}):"
                        "\n  installed but not public: ${extra}\n  public but not installed: ${missing}"
                        "\n  outside include/vkcnn: ${others}")
  endif()
  list(LENGTH want n)
  message(STATUS "${prefix}/include/vkcnn holds exactly the ${n} public headers")
endfunction()
