// Shader lookup by name and the small SPIR-V reading the pipelines need.
#include "vkcnn/vulkan/shader_registry.h"

#include "vkcnn/core/error.h"

namespace vkcnn::vulkan {

const ShaderBlob& find_shader(std::string_view name) {
    for (const ShaderBlob& s : all_shaders())
        if (s.name == name) return s;
    throw Error(cat("no embedded shader named '", name, "' (shaders/", name,
                    ".comp was not compiled into this build)"));
}

uint32_t count_bindings(std::span<const uint32_t> spirv) {
    constexpr uint32_t kOpDecorate = 71, kDecorationBinding = 33;
    check(spirv.size() > 5 && spirv[0] == 0x07230203u, "not a SPIR-V module");
    uint32_t count = 0;
    for (size_t i = 5; i < spirv.size();) {
        const uint32_t words = spirv[i] >> 16, opcode = spirv[i] & 0xffffu;
        check(words > 0 && i + words <= spirv.size(), "malformed SPIR-V at word ", i);
        if (opcode == kOpDecorate && words >= 4 && spirv[i + 2] == kDecorationBinding)
            count = std::max(count, spirv[i + 3] + 1);
        i += words;
    }
    return count;
}

} // namespace vkcnn::vulkan
