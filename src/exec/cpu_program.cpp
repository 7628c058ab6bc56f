// The CPU executor (see cpu_program.h).
#include "vkcnn/exec/cpu_program.h"

#include "vkcnn/exec/value_access.h"
#include "vkcnn/graph/lowering.h"
#include "vkcnn/graph/op_def.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace vkcnn::exec {

using graph::Storage;
using graph::ValueId;

CpuProgram::CpuProgram(graph::Plan plan, cpu::ThreadPool& pool) : plan_(std::move(plan)), pool_(pool) {
    const auto& g = plan_.graph;
    std::vector<graph::Lifetime> transients(g.value_count()); // non-transient ones stay empty and unused
    for (ValueId v = 0; v < g.value_count(); ++v)
        if (plan_.storage[v] == Storage::Transient) transients[v] = plan_.lifetimes[v];
    memory_ = graph::plan_memory(transients, 64);
    // NaN, so a kernel reading what nothing wrote shows up in results.
    arena_.assign(memory_.arena_bytes / sizeof(float), std::numeric_limits<float>::quiet_NaN());
    own_.resize(g.value_count());
    for (ValueId v = 0; v < g.value_count(); ++v)
        if (plan_.storage[v] != Storage::Transient && plan_.home[v] == v) own_[v].assign(static_cast<size_t>(g.value(v).shape.elements()), 0.0f);
}

std::span<float> CpuProgram::span_of(ValueId v) {
    const size_t n = static_cast<size_t>(plan_.graph.value(v).shape.elements());
    const ValueId home = plan_.home[v]; // a view's memory is its home's
    if (plan_.storage[v] != Storage::Transient) return {own_[home].data(), n};
    return {arena_.data() + memory_.offsets[home] / sizeof(float), n};
}

size_t CpuProgram::elements_of(std::string_view name) const {
    const auto v = plan_.graph.find(name);
    return v ? static_cast<size_t>(plan_.graph.value(*v).shape.elements()) : 0;
}

void CpuProgram::write_bytes(std::string_view name, std::span<const std::byte> data, size_t elements, DType dtype) {
    const ValueId v = writable_value(plan_, name, elements, dtype);
    std::memcpy(own_[v].data(), data.data(), data.size());
}

void CpuProgram::read_bytes(std::string_view name, std::span<std::byte> data, size_t elements, DType dtype) const {
    const ValueId id = plan_.home[readable_value(plan_, name, elements, dtype)];
    const float* p = plan_.storage[id] == Storage::Transient ? arena_.data() + memory_.offsets[id] / sizeof(float)
                                                            : own_[id].data();
    std::memcpy(data.data(), p, data.size());
}

void CpuProgram::write(std::string_view name, std::span<const float> data) {
    write_bytes(name, std::as_bytes(data), data.size(), DType::F32);
}
void CpuProgram::write(std::string_view name, std::span<const int32_t> data) {
    write_bytes(name, std::as_bytes(data), data.size(), DType::I32);
}
std::vector<float> CpuProgram::read(std::string_view name) const {
    std::vector<float> out(elements_of(name));
    read_bytes(name, std::as_writable_bytes(std::span(out)), out.size(), DType::F32);
    return out;
}
std::vector<int32_t> CpuProgram::read_i32(std::string_view name) const {
    std::vector<int32_t> out(elements_of(name));
    read_bytes(name, std::as_writable_bytes(std::span(out)), out.size(), DType::I32);
    return out;
}

void CpuProgram::run() {
    const auto& g = plan_.graph;
    for (uint32_t index : plan_.order) {
        const graph::Node& n = g.node(index);
        std::vector<std::span<const float>> in;
        std::vector<std::span<float>> out;
        for (ValueId v : n.inputs) in.push_back(span_of(v));
        const uint32_t updates = graph::op_def(n.op).updates;
        for (uint32_t k = 0; k < updates; ++k) out.push_back(span_of(n.inputs[k]));
        for (ValueId v : n.outputs) out.push_back(span_of(v));
        graph::run_on_cpu(g, n, pool_, in, out);
    }
}

} // namespace vkcnn::exec
