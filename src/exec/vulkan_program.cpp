// The Vulkan executor (see vulkan_program.h).
#include "vkcnn/exec/vulkan_program.h"

#include "vkcnn/core/error.h"
#include "vkcnn/exec/value_access.h"
#include "vkcnn/graph/lowering.h"
#include "vkcnn/graph/step_groups.h"
#include "vkcnn/graph/work.h"
#include "vkcnn/ops/optimizer.h"

#include <cstring>

namespace vkcnn::exec {

using graph::Storage;
using graph::ValueId;

namespace {
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

std::shared_ptr<VulkanState> or_fresh(Device& device, std::shared_ptr<VulkanState> state) {
    if (!state) return std::make_shared<VulkanState>(device);
    check(&state->device() == &device, "VulkanProgram: the State given lives on another Device");
    return state;
}
} // namespace

VulkanSnapshot::VulkanSnapshot(Device& device, std::vector<std::string> names, std::vector<vulkan::BufferRange> sources)
    : Snapshot(std::move(names), {}), device_(device) {
    const uint64_t alignment = std::max<uint64_t>(device.info().min_storage_buffer_offset_alignment, 16);
    uint64_t bytes = 0;
    for (const vulkan::BufferRange& r : sources) {
        offsets_.push_back(std::exchange(bytes, bytes + align_up(r.size, alignment)));
        elements_.push_back(static_cast<int64_t>(r.size / 4));
    }
    buffer_ = device.create_buffer(bytes, "snapshot");
    device.upload(buffer_, std::vector<std::byte>(bytes)); // zeros before the first take()
    // A step of copies alone: the entry barrier orders them after the steps
    // submitted before, a barrier after them before whatever reads them.
    vulkan::RecordOptions record;
    record.full_barriers = true;
    record.slots.assign(1, {});
    for (size_t i = 0; i < sources.size(); ++i)
        record.slots[0].after.push_back({sources[i], {buffer_, offsets_[i], sources[i].size}});
    copy_ = std::make_unique<vulkan::RecordedStep>(device, std::vector<vulkan::StepDispatch>{}, std::move(record));
}

VulkanSnapshot::~VulkanSnapshot() {
    try {
        copy_->wait(0);
    } catch (const Error&) { // a lost device has nothing left to wait for
    }
}

void VulkanSnapshot::take(const SubmitSync& sync) {
    copy_->wait(0); // the previous copy into the same buffer
    copy_->submit(0, sync);
    ++takes_;
}

void VulkanSnapshot::wait() { copy_->wait(0); }

vulkan::BufferRange VulkanSnapshot::buffer_of(std::string_view name) const {
    const size_t i = index_of(name);
    return {buffer_, offsets_[i], static_cast<uint64_t>(elements_[i]) * 4};
}

void VulkanSnapshot::read_bytes(size_t index, std::span<std::byte> data) const {
    copy_->wait(0);
    device_.download(buffer_, data, offsets_[index]);
}

VulkanProgram::VulkanProgram(Device& device, graph::Plan plan, VulkanProgramOptions options,
                             std::shared_ptr<VulkanState> state)
    : Program(std::move(plan), or_fresh(device, std::move(state))), device_(device) {
    const graph::Graph& g = plan_.graph;
    const auto& values = static_cast<const VulkanState&>(this->state());
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
    // Consecutive optimizer steps become one dispatch at the last of them
    // (not in the debug schedule: it stays the per-node reference), so their
    // gradients must live until then.
    std::vector<graph::StepGroup> groups;
    if (!options.debug_schedule) groups = graph::optimizer_step_groups(plan_);
    for (const graph::StepGroup& group : groups)
        for (const auto& operands : group.operands) {
            graph::Lifetime& grad = transients[plan_.home[operands[1]]];
            grad.last = std::max(grad.last, group.last);
        }
    const graph::MemoryPlan memory =
        options.debug_schedule ? graph::plan_memory_without_reuse(transients, alignment) : graph::plan_memory(transients, alignment);

    // Feeds: laid out one after another; persistent values: where the State keeps them.
    buffer_.resize(g.value_count());
    offset_.resize(g.value_count());
    uint64_t feed_bytes = 0, persistent_bytes = 0;
    for (ValueId v = 0; v < g.value_count(); ++v) {
        if (plan_.home[v] != v) continue; // a view: placed below, at its home
        const uint64_t bytes = align_up(static_cast<uint64_t>(g.value(v).shape.elements()) * 4, alignment);
        if (plan_.storage[v] == Storage::Feed) offset_[v] = std::exchange(feed_bytes, feed_bytes + bytes);
        if (plan_.storage[v] == Storage::Persistent) {
            const vulkan::BufferRange r = values.range(state_entry(v));
            buffer_[v] = r.buffer;
            offset_[v] = r.offset;
            persistent_bytes += bytes;
        }
        if (plan_.storage[v] == Storage::Transient) offset_[v] = memory.offsets[v];
    }
    feeds_ = device.create_buffer(feed_bytes, "feeds");
    feed_bytes_.resize(feed_bytes);
    uint64_t result_bytes = 0;
    for (ValueId v : plan_.results)
        result_offset_.push_back(std::exchange(
            result_bytes, result_bytes + align_up(static_cast<uint64_t>(g.value(v).shape.elements()) * 4, 16)));
    for (uint32_t slot = 0; slot < kSlots; ++slot) {
        staging_[slot] = device.create_buffer(feed_bytes, "feeds staging", vulkan::MemoryUsage::Upload);
        readback_[slot] = device.create_buffer(result_bytes, "results readback", vulkan::MemoryUsage::Readback);
    }
    arena_ = device.create_buffer(memory.arena_bytes, "arena");
    for (ValueId v = 0; v < g.value_count(); ++v) {
        const ValueId home = plan_.home[v]; // homes have lower ids than their views
        if (plan_.storage[home] == Storage::Persistent) buffer_[v] = buffer_[home];
        else buffer_[v] = plan_.storage[home] == Storage::Feed ? &feeds_ : &arena_;
        offset_[v] = offset_[home];
    }

    std::vector<vulkan::StepDispatch> dispatches;
    auto group = groups.begin();
    for (uint32_t pos = 0; pos < plan_.order.size(); ++pos) {
        const graph::Node& n = g.node(plan_.order[pos]);
        if (group != groups.end() && pos >= group->first) { // inside a group: one dispatch at its end
            if (pos == group->last) append_fused_steps(*group++, alignment, dispatches);
            continue;
        }
        for (graph::LoweredKernel& k : lowered[pos].kernels) {
            // The node's estimated work, shared out among its kernels.
            const double work = graph::estimated_flops(g, n) / static_cast<double>(lowered[pos].kernels.size());
            vulkan::StepDispatch d{std::move(k.launch), {}, n.name, work};
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
    record.max_segment_work = options.max_segment_flops;
    record.slots.assign(kSlots, {});
    for (uint32_t slot = 0; slot < kSlots; ++slot) {
        if (feed_bytes > 0) record.slots[slot].before.push_back({{staging_[slot], 0, feed_bytes}, {feeds_, 0, feed_bytes}});
        for (size_t i = 0; i < plan_.results.size(); ++i) {
            const vulkan::BufferRange from = range_of(plan_.results[i]);
            record.slots[slot].after.push_back({from, {readback_[slot], result_offset_[i], from.end() - from.offset}});
        }
    }
    step_ = std::make_unique<vulkan::RecordedStep>(device, std::move(dispatches), record);
    // Naive: every value and temporary in its own buffer, in-place outputs included.
    stats_ = {step_->dispatch_count(), step_->barrier_count(), memory.arena_bytes,
              memory.naive_bytes + plan_.in_place_bytes, persistent_bytes};
}

void VulkanProgram::append_fused_steps(const graph::StepGroup& group, uint64_t alignment,
                                       std::vector<vulkan::StepDispatch>& dispatches) {
    const graph::Graph& g = plan_.graph;
    double work = 0;
    for (uint32_t q = group.first; q <= group.last; ++q) work += graph::estimated_flops(g, g.node(plan_.order[q]));

    // Each operand slot spans its tensors' values in one buffer (the
    // grouping made sure of the storage); the table gives offsets in it.
    const size_t slots = group.operands[0].size();
    std::vector<vulkan::BufferRange> ranges;
    for (size_t k = 0; k < slots; ++k) {
        uint64_t begin = UINT64_MAX, end = 0;
        for (const auto& operands : group.operands) {
            const vulkan::BufferRange r = range_of(operands[k]);
            begin = std::min(begin, r.offset);
            end = std::max(end, r.end());
        }
        ranges.emplace_back(*buffer_[group.operands[0][k]], begin, end - begin);
    }
    std::vector<ops::MultiTensorEntry> entries;
    for (const auto& operands : group.operands) {
        ops::MultiTensorEntry& e = entries.emplace_back();
        e.elements = static_cast<size_t>(g.value(operands[0]).shape.elements());
        for (size_t k = 0; k < slots; ++k) e.offsets.push_back((offset_[operands[k]] - ranges[k].offset) / 4);
    }
    const std::vector<uint32_t> table = ops::multi_tensor_table(entries);
    vulkan::Buffer& buffer = step_tables_.emplace_back(
        device_.create_buffer(align_up(table.size() * 4, alignment), "optimizer step table"));
    device_.upload(buffer, std::span<const uint32_t>(table));
    vulkan::StepDispatch d{group.launch, ranges, cat("optimizer steps (", group.operands.size(), " tensors)"), work};
    d.args.push_back(range_of(group.scalars));
    d.args.emplace_back(buffer, 0, table.size() * 4);
    fused_steps_.push_back({dispatches.size(), group.operands.size(), static_cast<int64_t>(group.elements)});
    dispatches.push_back(std::move(d));
    dispatch_node_.push_back(plan_.order[group.last]); // profile rows and labels name the group itself
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

VulkanProgram::~VulkanProgram() {
    // Buffers must outlive the steps that use them; a lost device has nothing left to wait for.
    for (uint32_t slot = 0; slot < kSlots; ++slot) {
        try {
            step_->wait(slot);
        } catch (const Error&) {
        }
    }
}

void VulkanProgram::write_bytes(ValueId v, std::span<const std::byte> data) {
    // Only feeds: persistent values are the State's, the rest computed. Staged with the next step.
    std::memcpy(feed_bytes_.data() + offset_[v], data.data(), data.size());
}

void VulkanProgram::read_bytes(ValueId v, std::span<std::byte> data) const {
    if (plan_.storage[plan_.home[v]] == Storage::Feed) {
        std::memcpy(data.data(), feed_bytes_.data() + offset_[v], data.size());
        return;
    }
    settle();
    device_.download(*buffer_[v], data, offset_[v]);
}

void VulkanProgram::stage(uint32_t slot) {
    check(slot < kSlots, "VulkanProgram::stage: slot ", slot, " of ", kSlots);
    check(!step_->pending(slot), "VulkanProgram::stage: slot ", slot, " is in use by a submitted step; wait() first");
    device_.upload(staging_[slot], feed_bytes_);
}

std::unique_ptr<Snapshot> VulkanProgram::make_snapshot(const std::vector<ValueId>& values, std::vector<std::string> labels) {
    std::vector<vulkan::BufferRange> sources;
    for (ValueId v : values) sources.push_back(range_of(v));
    return std::make_unique<VulkanSnapshot>(device_, std::move(labels), std::move(sources));
}

std::unique_ptr<VulkanSnapshot> VulkanProgram::device_snapshot(std::span<const std::string> names,
                                                               std::span<const std::string> labels) {
    return std::unique_ptr<VulkanSnapshot>(static_cast<VulkanSnapshot*>(snapshot(names, labels).release()));
}

StepResults VulkanProgram::results(uint32_t slot) {
    check(slot < kSlots, "VulkanProgram::results: slot ", slot, " of ", kSlots);
    return make_results(collect(slot));
}

void VulkanProgram::record(VkCommandBuffer cmd, uint32_t slot) const { step_->record(cmd, slot); }

void VulkanProgram::submit(uint32_t slot, const SubmitSync& sync) { step_->submit(slot, sync); }

void VulkanProgram::submit_segments(uint32_t slot, size_t first, size_t count, const SubmitSync& sync) {
    step_->submit_segments(slot, first, count, sync);
}

void VulkanProgram::wait(uint32_t slot) { step_->wait(slot); }

double VulkanProgram::step_flops() const {
    double sum = 0;
    for (size_t i = 0; i < segment_count(); ++i) sum += segment_flops(i);
    return sum;
}

size_t VulkanProgram::segments_within(size_t first, double flops_budget) const {
    check(first < segment_count(), "segments_within: segment ", first, " of ", segment_count());
    size_t n = 1;
    double used = segment_flops(first);
    while (first + n < segment_count() && used + segment_flops(first + n) <= flops_budget) used += segment_flops(first + n++);
    return n;
}

void VulkanProgram::run() {
    settle();
    stage(next_slot_);
    step_->submit(next_slot_);
    step_->wait(next_slot_);
}

void VulkanProgram::enqueue_step() {
    const uint32_t slot = next_slot_;
    if (step_->pending(slot)) { // two steps ahead: the oldest must finish before its slot is reused
        check(!in_flight_.empty() && in_flight_.front() == slot, "VulkanProgram: slot ", slot,
              " is in use by a step the host submitted");
        in_flight_.pop_front();
        collected_.push_back(collect(slot));
    }
    stage(slot);
    step_->submit(slot);
    in_flight_.push_back(slot);
    next_slot_ = (slot + 1) % kSlots;
}

std::vector<std::vector<std::byte>> VulkanProgram::finish_step() {
    if (collected_.empty()) {
        const uint32_t slot = in_flight_.front();
        in_flight_.pop_front();
        collected_.push_back(collect(slot));
    }
    auto results = std::move(collected_.front());
    collected_.pop_front();
    return results;
}

std::vector<std::vector<std::byte>> VulkanProgram::collect(uint32_t slot) const {
    step_->wait(slot);
    std::vector<std::vector<std::byte>> results;
    for (size_t i = 0; i < plan_.results.size(); ++i) {
        results.emplace_back(static_cast<size_t>(plan_.graph.value(plan_.results[i]).shape.elements()) * 4);
        device_.download(readback_[slot], results.back(), result_offset_[i]);
    }
    return results;
}

void VulkanProgram::settle() const {
    while (!in_flight_.empty()) {
        collected_.push_back(collect(in_flight_.front()));
        in_flight_.pop_front();
    }
    for (uint32_t slot = 0; slot < kSlots; ++slot) step_->wait(slot); // submitted by a host
}

std::vector<NodeTime> VulkanProgram::profile() const { return profile_of(step_->dispatch_microseconds()); }

std::vector<NodeTime> VulkanProgram::profile(uint32_t slot) const {
    return profile_of(step_->dispatch_microseconds(slot));
}

std::vector<NodeTime> VulkanProgram::profile_of(const std::vector<double>& us) const {
    const graph::Graph& g = plan_.graph;
    std::vector<NodeTime> rows;
    std::vector<int64_t> row_of(g.node_count(), -1);
    auto fused = fused_steps_.begin(); // in dispatch order
    for (size_t i = 0; i < us.size(); ++i) {
        const uint32_t node = dispatch_node_[i];
        if (fused != fused_steps_.end() && fused->dispatch == i) { // a row of its own, over all its tensors
            const graph::Node& n = g.node(node);
            rows.push_back({cat("optimizer steps (", fused->tensors, " tensors)"), graph::op_name(n.op),
                            Shape{fused->elements}, 1, us[i]});
            ++fused;
            continue;
        }
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
