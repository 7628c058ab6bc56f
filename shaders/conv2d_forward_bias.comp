// conv2d forward with bias: y = b + conv (see conv2d_forward.glsl). Writes (=) y.
#version 450
#define CONV2D_BIAS 1
#include "conv2d_forward.glsl"
