# Builds the CPU backend for WebAssembly (the `wasm` preset, build-wasm/ —
# scripts/test.sh has built it already, so this is an up-to-date check
# there) and runs the smoke program under node.
set(ENV{NODE_PATH} /usr/share/nodejs) # Debian's acorn, which emcc's optimizer needs
function(run)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${SOURCE_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --preset wasm)
run(${CMAKE_COMMAND} --build --preset wasm)
run(node ${SOURCE_DIR}/build-wasm/web/vkcnn_wasm_smoke.js)
