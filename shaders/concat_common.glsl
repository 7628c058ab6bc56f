// Shared by shaders/concat_*.comp: the push constants (struct Push in
// src/ops/concat.cpp) and where element i of input i's tensor sits in y.
#include "common.glsl"

layout(push_constant) uniform Push {
    uint count;   // elements of input i: N * C_i * H * W
    uint block;   // C_i * H * W: input i's elements per image
    uint y_image; // C_out * H * W: y's elements per image
    uint y_start; // offset_i * H * W: where input i's block starts in each image of y
} pc;

uint y_index(uint i) { return i / pc.block * pc.y_image + pc.y_start + i % pc.block; }
