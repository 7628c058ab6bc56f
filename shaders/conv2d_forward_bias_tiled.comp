// conv2d forward with bias, y = b + conv, with shared-memory tiles
// (see conv2d_forward_tiled.glsl). Writes (=) y.
#version 450
#define CONV2D_BIAS 1
#include "conv2d_forward_tiled.glsl"
