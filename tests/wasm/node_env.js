// --pre-js of the wasm test binary: node's environment becomes getenv()'s
// (Emscripten starts programs with a fixed, minimal one), so VKCNN_TEST_CACHE
// and VKCNN_DATA_DIR work as in the native suite.
Module['preRun'] = (Module['preRun'] || []).concat([() => Object.assign(ENV, process.env)]);
