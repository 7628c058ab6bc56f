// Typed, checked access to a compiled step's values (see program.h).
#include "vkcnn/exec/program.h"

#include "vkcnn/core/error.h"
#include "vkcnn/exec/value_access.h"

#include <cstring>

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

void Program::enqueue() {
    enqueue_step();
    ++in_flight_;
}

StepResults Program::finish() {
    check(in_flight_ > 0, "Program::finish: no step was enqueued");
    StepResults r;
    r.plan_ = &plan_;
    r.bytes_ = finish_step();
    --in_flight_;
    return r;
}

std::span<const std::byte> StepResults::bytes_of(std::string_view name, DType dtype) const {
    check(plan_ != nullptr, "StepResults: empty (not from Program::finish)");
    const auto v = plan_->graph.find(name);
    for (size_t i = 0; v && i < plan_->results.size(); ++i) {
        if (plan_->results[i] != *v) continue;
        check(plan_->graph.value(*v).dtype == dtype, "step result '", name, "' is ",
              dtype_name(plan_->graph.value(*v).dtype), ", read as ", dtype_name(dtype));
        return bytes_[i];
    }
    throw Error(cat("'", name, "' is not a step result of this program (CompileOptions::results)"));
}

std::vector<float> StepResults::read(std::string_view name) const {
    const auto bytes = bytes_of(name, DType::F32);
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

std::vector<int32_t> StepResults::read_i32(std::string_view name) const {
    const auto bytes = bytes_of(name, DType::I32);
    std::vector<int32_t> out(bytes.size() / sizeof(int32_t));
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

} // namespace vkcnn::exec
