# Turns one SPIR-V file into a C++ source defining a uint32_t array, so the
# library carries its shaders. Run as: cmake -DIN=x.spv -DOUT=x.cpp -DNAME=x -P embed_spirv.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR remainder "${hex_length} % 8")
if(hex_length EQUAL 0 OR NOT remainder EQUAL 0)
  message(FATAL_ERROR "${IN}: not a SPIR-V module (size is not a multiple of 4 bytes)")
endif()
# SPIR-V words are little-endian: bytes b0 b1 b2 b3 form 0xb3b2b1b0.
string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1u," words "${hex}")
string(REGEX REPLACE "((0x........u,){8})" "\\1\n" words "${words}")
file(WRITE "${OUT}" "// Generated from ${IN} by cmake/embed_spirv.cmake. Do not edit.
#include <cstddef>
#include <cstdint>
namespace vkcnn::vulkan::spirv {
extern const uint32_t ${NAME}[] = {
${words}
};
extern const size_t ${NAME}_words = sizeof(${NAME}) / sizeof(uint32_t);
}
")
