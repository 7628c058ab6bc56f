// conv2d forward without bias (see conv2d_forward.glsl). Writes (=) y.
#version 450
#define CONV2D_BIAS 0
#include "conv2d_forward.glsl"
