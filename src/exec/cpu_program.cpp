// The CPU executor (see cpu_program.h).
#include "vkcnn/exec/cpu_program.h"

#include "vkcnn/graph/lowering.h"
#include "vkcnn/graph/op_def.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace vkcnn::exec {

using graph::Storage;
using graph::ValueId;

CpuProgram::CpuProgram(graph::Plan plan, cpu::ThreadPool& pool) : Program(std::move(plan)), pool_(pool) {
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

void CpuProgram::write_bytes(ValueId v, std::span<const std::byte> data) {
    std::memcpy(own_[v].data(), data.data(), data.size()); // writable values are never views
}

void CpuProgram::read_bytes(ValueId v, std::span<std::byte> data) const {
    const ValueId home = plan_.home[v];
    const float* p = plan_.storage[home] == Storage::Transient ? arena_.data() + memory_.offsets[home] / sizeof(float)
                                                              : own_[home].data();
    std::memcpy(data.data(), p, data.size());
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

void CpuProgram::enqueue_step() {
    run();
    std::vector<std::vector<std::byte>> results;
    for (ValueId v : plan_.results) {
        results.emplace_back(static_cast<size_t>(plan_.graph.value(v).shape.elements()) * 4);
        read_bytes(v, results.back());
    }
    finished_.push_back(std::move(results));
}

std::vector<std::vector<std::byte>> CpuProgram::finish_step() {
    auto results = std::move(finished_.front());
    finished_.pop_front();
    return results;
}

} // namespace vkcnn::exec
