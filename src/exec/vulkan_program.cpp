// The Vulkan executor (see vulkan_program.h).
#include "vkcnn/exec/vulkan_program.h"

#include "vkcnn/core/error.h"
#include "vkcnn/exec/value_access.h"
#include "vkcnn/graph/lowering.h"

namespace vkcnn::exec {

using graph::Storage;
using graph::ValueId;

namespace {
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
} // namespace

VulkanProgram::VulkanProgram(Device& device, graph::Plan plan, VulkanProgramOptions options)
    : Program(std::move(plan)), device_(device) {
    const graph::Graph& g = plan_.graph;
    const uint64_t alignment = std::max<uint64_t>(device.info().min_storage_buffer_offset_alignment, 16);

    // Lower every node; its temporaries join the transient values, alive for that node only.
    std::vector<graph::GpuLowering> lowered;
    std::vector<graph::Lifetime> transients(g.value_count());
    for (ValueId v = 0; v < g.value_count(); ++v)
        if (plan_.storage[v] == Storage::Transient) transients[v] = plan_.lifetimes[v];
    std::vector<size_t> first_temp; // per position: index of its first temporary in `transients`
    for (uint32_t pos = 0; pos < plan_.order.size(); ++pos) {
        lowered.push_back(graph::lower_for_gpu(g, g.node(plan_.order[pos]), device.quirks().gemm));
        first_temp.push_back(transients.size());
        for (uint64_t bytes : lowered.back().temp_bytes) transients.push_back({bytes, pos, pos});
    }
    const graph::MemoryPlan memory =
        options.debug_schedule ? graph::plan_memory_without_reuse(transients, alignment) : graph::plan_memory(transients, alignment);

    // Feeds and persistent values: laid out one after another.
    buffer_.resize(g.value_count());
    offset_.resize(g.value_count());
    uint64_t feed_bytes = 0, persistent_bytes = 0;
    for (ValueId v = 0; v < g.value_count(); ++v) {
        if (plan_.home[v] != v) continue; // a view: placed below, at its home
        const uint64_t bytes = align_up(static_cast<uint64_t>(g.value(v).shape.elements()) * 4, alignment);
        if (plan_.storage[v] == Storage::Feed) offset_[v] = std::exchange(feed_bytes, feed_bytes + bytes);
        if (plan_.storage[v] == Storage::Persistent) offset_[v] = std::exchange(persistent_bytes, persistent_bytes + bytes);
        if (plan_.storage[v] == Storage::Transient) offset_[v] = memory.offsets[v];
    }
    feeds_ = device.create_buffer(feed_bytes, "feeds");
    persistent_ = device.create_buffer(persistent_bytes, "persistent");
    // Persistent values start at zero, as in CpuProgram: optimizer state must.
    if (persistent_bytes > 0) device.upload(persistent_, std::vector<std::byte>(persistent_bytes));
    arena_ = device.create_buffer(memory.arena_bytes, "arena");
    for (ValueId v = 0; v < g.value_count(); ++v) {
        buffer_[v] = plan_.storage[v] == Storage::Feed ? &feeds_ : plan_.storage[v] == Storage::Persistent ? &persistent_ : &arena_;
        offset_[v] = offset_[plan_.home[v]]; // homes have lower ids than their views
    }

    std::vector<vulkan::StepDispatch> dispatches;
    for (uint32_t pos = 0; pos < plan_.order.size(); ++pos) {
        const graph::Node& n = g.node(plan_.order[pos]);
        for (graph::LoweredKernel& k : lowered[pos].kernels) {
            vulkan::StepDispatch d{std::move(k.launch), {}, n.name};
            for (const graph::ArgRef& a : k.args) {
                if (a.kind == graph::ArgRef::Temp) {
                    const size_t t = first_temp[pos] + a.index;
                    d.args.emplace_back(arena_, memory.offsets[t], std::max<uint64_t>(transients[t].bytes, 4));
                } else {
                    d.args.push_back(range_of(a.kind == graph::ArgRef::Input ? n.inputs[a.index] : n.outputs[a.index]));
                }
            }
            dispatches.push_back(std::move(d));
            dispatch_node_.push_back(plan_.order[pos]);
        }
    }
    vulkan::RecordOptions record;
    record.full_barriers = options.debug_schedule;
    record.timestamps = options.profile;
    step_ = std::make_unique<vulkan::RecordedStep>(device, std::move(dispatches), record);
    // Naive: every value and temporary in its own buffer, in-place outputs included.
    stats_ = {step_->dispatch_count(), step_->barrier_count(), memory.arena_bytes,
              memory.naive_bytes + plan_.in_place_bytes, persistent_bytes};
}

vulkan::BufferRange VulkanProgram::range_of(ValueId v) const {
    return {*buffer_[v], offset_[v], static_cast<uint64_t>(plan_.graph.value(v).shape.elements()) * 4};
}

vulkan::BufferRange VulkanProgram::buffer_of(std::string_view name) const {
    const auto v = plan_.graph.find(name);
    check(v.has_value(), "no value named '", name, "' in this program");
    const graph::Value& value = plan_.graph.value(*v);
    return range_of(readable_value(plan_, name, static_cast<size_t>(value.shape.elements()), value.dtype));
}

void VulkanProgram::write_bytes(ValueId v, std::span<const std::byte> data) {
    device_.upload(*buffer_[v], data, offset_[v]);
}

void VulkanProgram::read_bytes(ValueId v, std::span<std::byte> data) const {
    device_.download(*buffer_[v], data, offset_[v]);
}

void VulkanProgram::run() { step_->run(); }

std::vector<NodeTime> VulkanProgram::profile() const {
    const std::vector<double> us = step_->dispatch_microseconds();
    const graph::Graph& g = plan_.graph;
    std::vector<NodeTime> rows;
    std::vector<int64_t> row_of(g.node_count(), -1);
    for (size_t i = 0; i < us.size(); ++i) {
        const uint32_t node = dispatch_node_[i];
        if (row_of[node] < 0) {
            row_of[node] = static_cast<int64_t>(rows.size());
            const graph::Node& n = g.node(node);
            // Optimizer steps have no outputs: their shape is the parameter's.
            rows.push_back({n.name, graph::op_name(n.op), g.value(n.outputs.empty() ? n.inputs[0] : n.outputs[0]).shape});
        }
        NodeTime& r = rows[static_cast<size_t>(row_of[node])];
        r.microseconds += us[i];
        ++r.dispatches;
    }
    return finish_profile(std::move(rows));
}

} // namespace vkcnn::exec
