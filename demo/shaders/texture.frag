// A demo texture (an activation map, filters, a digit) tinted by the vertex
// colour; the sampler is nearest, so each value stays a crisp square.
#version 450
layout(set = 0, binding = 0) uniform sampler2D image;
layout(location = 0) in vec2 uv;
layout(location = 1) in vec4 colour;
layout(location = 0) out vec4 result;
void main() {
    result = colour * texture(image, uv);
}
