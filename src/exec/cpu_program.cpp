// The CPU executor (see cpu_program.h).
#include "vkcnn/exec/cpu_program.h"

#include "vkcnn/core/error.h"
#include "vkcnn/graph/lowering.h"
#include "vkcnn/graph/op_def.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <limits>

namespace vkcnn::exec {

using graph::Storage;
using graph::ValueId;

namespace {

std::shared_ptr<CpuState> or_fresh(std::shared_ptr<CpuState> state) {
    return state ? std::move(state) : std::make_shared<CpuState>();
}

// Copies made on the host at take(): a CPU step has finished when it returns.
class CpuSnapshot final : public Snapshot {
public:
    CpuSnapshot(std::vector<std::string> names, std::vector<int64_t> elements, std::function<void(size_t, std::span<float>)> copy)
        : Snapshot(std::move(names), std::move(elements)), copy_(std::move(copy)) {
        for (int64_t n : elements_) values_.emplace_back(static_cast<size_t>(n), 0.0f);
    }
    void take() override {
        for (size_t i = 0; i < values_.size(); ++i) copy_(i, values_[i]);
        ++takes_;
    }

private:
    void read_bytes(size_t index, std::span<std::byte> data) const override {
        std::memcpy(data.data(), values_[index].data(), data.size());
    }
    std::function<void(size_t, std::span<float>)> copy_;
    std::vector<std::vector<float>> values_;
};

} // namespace

CpuProgram::CpuProgram(graph::Plan plan, cpu::ThreadPool& pool, std::shared_ptr<CpuState> state, bool profile)
    : Program(std::move(plan), or_fresh(std::move(state))), pool_(pool), values_(static_cast<CpuState&>(this->state())),
      profile_(profile) {
    const auto& g = plan_.graph;
    std::vector<graph::Lifetime> transients(g.value_count()); // non-transient ones stay empty and unused
    for (ValueId v = 0; v < g.value_count(); ++v)
        if (plan_.storage[v] == Storage::Transient) transients[v] = plan_.lifetimes[v];
    memory_ = graph::plan_memory(transients, 64);
    // NaN, so a kernel reading what nothing wrote shows up in results.
    arena_.assign(memory_.arena_bytes / sizeof(float), std::numeric_limits<float>::quiet_NaN());
    feeds_.resize(g.value_count());
    for (ValueId v = 0; v < g.value_count(); ++v)
        if (plan_.storage[v] == Storage::Feed && plan_.home[v] == v) feeds_[v].assign(static_cast<size_t>(g.value(v).shape.elements()), 0.0f);
}

std::span<float> CpuProgram::span_of(ValueId v) {
    const size_t n = static_cast<size_t>(plan_.graph.value(v).shape.elements());
    const ValueId home = plan_.home[v]; // a view's memory is its home's
    switch (plan_.storage[home]) {
    case Storage::Feed: return {feeds_[home].data(), n};
    case Storage::Persistent: return values_.span(state_entry(home)).first(n);
    case Storage::Transient: break;
    }
    return {arena_.data() + memory_.offsets[home] / sizeof(float), n};
}

std::span<const float> CpuProgram::span_of(ValueId v) const { return const_cast<CpuProgram*>(this)->span_of(v); }

void CpuProgram::write_bytes(ValueId v, std::span<const std::byte> data) {
    std::memcpy(span_of(v).data(), data.data(), data.size());
}

void CpuProgram::read_bytes(ValueId v, std::span<std::byte> data) const {
    std::memcpy(data.data(), span_of(v).data(), data.size());
}

std::unique_ptr<Snapshot> CpuProgram::make_snapshot(const std::vector<ValueId>& ids, std::vector<std::string> labels) {
    std::vector<int64_t> elements;
    for (ValueId v : ids) elements.push_back(plan_.graph.value(v).shape.elements());
    return std::make_unique<CpuSnapshot>(std::move(labels), std::move(elements),
                                         [this, ids](size_t i, std::span<float> to) {
                                             const std::span<const float> from = span_of(ids[i]);
                                             std::copy(from.begin(), from.end(), to.begin());
                                         });
}

void CpuProgram::run() {
    const auto& g = plan_.graph;
    if (profile_) node_microseconds_.assign(plan_.order.size(), 0.0);
    for (size_t i = 0; i < plan_.order.size(); ++i) {
        const graph::Node& n = g.node(plan_.order[i]);
        const auto start = profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
        std::vector<std::span<const float>> in;
        std::vector<std::span<float>> out;
        for (ValueId v : n.inputs) in.push_back(span_of(v));
        const uint32_t updates = graph::op_def(n.op).updates;
        for (uint32_t k = 0; k < updates; ++k) out.push_back(span_of(n.inputs[k]));
        for (ValueId v : n.outputs) out.push_back(span_of(v));
        graph::run_on_cpu(g, n, pool_, in, out);
        if (profile_)
            node_microseconds_[i] =
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    }
}

std::vector<NodeTime> CpuProgram::profile() const {
    check(profile_, "CpuProgram::profile: the program was compiled without profiling");
    const graph::Graph& g = plan_.graph;
    std::vector<NodeTime> rows;
    for (size_t i = 0; i < node_microseconds_.size(); ++i) {
        const graph::Node& n = g.node(plan_.order[i]);
        // Optimizer steps have no outputs: their shape is the parameter's.
        rows.push_back({n.name, graph::op_name(n.op), g.value(n.outputs.empty() ? n.inputs[0] : n.outputs[0]).shape, 1,
                        node_microseconds_[i]});
    }
    return finish_profile(std::move(rows));
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
