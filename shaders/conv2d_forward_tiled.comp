// conv2d forward without bias with shared-memory tiles
// (see conv2d_forward_tiled.glsl). Writes (=) y.
#version 450
#define CONV2D_BIAS 0
#include "conv2d_forward_tiled.glsl"
