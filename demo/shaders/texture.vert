// ImGui's vertex layout (ImDrawVert: position, uv, packed colour) in ImGui's
// coordinate frame, mapped to clip space by the push constants.
#version 450
layout(location = 0) in vec2 position;
layout(location = 1) in vec2 uv;
layout(location = 2) in vec4 colour;
layout(push_constant) uniform Frame {
    vec2 scale;
    vec2 translate;
} frame;
layout(location = 0) out vec2 out_uv;
layout(location = 1) out vec4 out_colour;
void main() {
    out_uv = uv;
    out_colour = colour;
    gl_Position = vec4(position * frame.scale + frame.translate, 0.0, 1.0);
}
