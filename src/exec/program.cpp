// Typed, checked access to a compiled step's values (see program.h).
#include "vkcnn/exec/program.h"

#include "vkcnn/exec/value_access.h"

namespace vkcnn::exec {

size_t Program::elements_of(std::string_view name) const {
    const auto v = plan_.graph.find(name);
    return v ? static_cast<size_t>(plan_.graph.value(*v).shape.elements()) : 0;
}

void Program::write(std::string_view name, std::span<const float> data) {
    write_bytes(writable_value(plan_, name, data.size(), DType::F32), std::as_bytes(data));
}

void Program::write(std::string_view name, std::span<const int32_t> data) {
    write_bytes(writable_value(plan_, name, data.size(), DType::I32), std::as_bytes(data));
}

std::vector<float> Program::read(std::string_view name) const {
    std::vector<float> out(elements_of(name));
    read_bytes(readable_value(plan_, name, out.size(), DType::F32), std::as_writable_bytes(std::span(out)));
    return out;
}

std::vector<int32_t> Program::read_i32(std::string_view name) const {
    std::vector<int32_t> out(elements_of(name));
    read_bytes(readable_value(plan_, name, out.size(), DType::I32), std::as_writable_bytes(std::span(out)));
    return out;
}

} // namespace vkcnn::exec
