// Typed, checked access to a compiled step's values (see program.h).
#include "vkcnn/exec/program.h"

#include "vkcnn/core/error.h"
#include "vkcnn/exec/value_access.h"

#include <cstring>

namespace vkcnn::exec {

Program::Program(graph::Plan plan, std::shared_ptr<State> state) : plan_(std::move(plan)), state_(std::move(state)) {
    check(state_ != nullptr, "Program: no State to bind to");
    state_entry_ = state_->bind(plan_, *this);
}

Program::~Program() { state_->unbind(*this); }

size_t Program::elements_of(std::string_view name) const {
    const auto v = plan_.graph.find(name);
    return v ? static_cast<size_t>(plan_.graph.value(*v).shape.elements()) : 0;
}

void Program::write(std::string_view name, std::span<const float> data) {
    const graph::ValueId v = writable_value(plan_, name, data.size(), DType::F32);
    if (plan_.storage[v] == graph::Storage::Persistent) state_->write(plan_.graph.value(v).name, data);
    else write_bytes(v, std::as_bytes(data));
}

void Program::write(std::string_view name, std::span<const int32_t> data) {
    write_bytes(writable_value(plan_, name, data.size(), DType::I32), std::as_bytes(data));
}

std::vector<float> Program::read(std::string_view name) const {
    std::vector<float> out(elements_of(name));
    const graph::ValueId v = readable_value(plan_, name, out.size(), DType::F32);
    if (plan_.storage[v] == graph::Storage::Persistent) return state_->read(plan_.graph.value(plan_.home[v]).name);
    read_bytes(v, std::as_writable_bytes(std::span(out)));
    return out;
}

std::vector<int32_t> Program::read_i32(std::string_view name) const {
    std::vector<int32_t> out(elements_of(name));
    read_bytes(readable_value(plan_, name, out.size(), DType::I32), std::as_writable_bytes(std::span(out)));
    return out;
}

std::unique_ptr<Snapshot> Program::snapshot(std::span<const std::string> names, std::span<const std::string> labels) {
    check(!names.empty(), "snapshot: no values named");
    check(labels.empty() || labels.size() == names.size(), "snapshot: ", names.size(), " values but ", labels.size(),
          " labels");
    std::vector<graph::ValueId> ids;
    for (const std::string& name : names) {
        const auto v = plan_.graph.find(name);
        check(v.has_value(), "snapshot: no value named '", name, "' in this program");
        const graph::Value& value = plan_.graph.value(*v);
        check(value.dtype == DType::F32, "snapshot: '", name, "' holds ", dtype_name(value.dtype), "; snapshots are of f32 values");
        ids.push_back(readable_value(plan_, name, static_cast<size_t>(value.shape.elements()), DType::F32));
    }
    return make_snapshot(ids, labels.empty() ? std::vector<std::string>(names.begin(), names.end())
                                             : std::vector<std::string>(labels.begin(), labels.end()));
}

size_t Snapshot::index_of(std::string_view name) const {
    for (size_t i = 0; i < names_.size(); ++i)
        if (names_[i] == name) return i;
    throw Error(cat("snapshot: '", name, "' is not one of the values this snapshot copies"));
}

std::vector<float> Snapshot::read(std::string_view name) const {
    const size_t i = index_of(name);
    std::vector<float> out(static_cast<size_t>(elements_[i]));
    read_bytes(i, std::as_writable_bytes(std::span(out)));
    return out;
}

void Program::enqueue() {
    enqueue_step();
    ++in_flight_;
}

StepResults Program::finish() {
    check(in_flight_ > 0, "Program::finish: no step was enqueued");
    StepResults r = make_results(finish_step());
    --in_flight_;
    return r;
}

StepResults Program::make_results(std::vector<std::vector<std::byte>> bytes) const {
    StepResults r;
    r.plan_ = &plan_;
    r.bytes_ = std::move(bytes);
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
