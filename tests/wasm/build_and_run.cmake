# Builds the CPU backend for WebAssembly (the `wasm` preset's settings, in
# WORK_DIR) and runs the smoke program under node.
set(ENV{NODE_PATH} /usr/share/nodejs) # Debian's acorn, which emcc's optimizer needs
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run(emcmake ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR} -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKCNN_WERROR=ON)
run(${CMAKE_COMMAND} --build ${WORK_DIR})
run(node ${WORK_DIR}/web/vkcnn_wasm_smoke.js)
