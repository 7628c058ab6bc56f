// Record-once, replay-every-step execution (see recorded_step.h).
#include "vkcnn/vulkan/recorded_step.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/commands.h"
#include "vkcnn/vulkan/result.h"

#include <algorithm>

namespace vkcnn::vulkan {

namespace {

void record_copies(const DeviceFunctions& fns, VkCommandBuffer cmd, const std::vector<StepCopy>& copies) {
    for (const StepCopy& c : copies) {
        const VkBufferCopy region{c.src.offset, c.dst.offset, c.src.end() - c.src.offset};
        fns.vkCmdCopyBuffer(cmd, c.src.buffer->handle(), c.dst.buffer->handle(), 1, &region);
    }
}

} // namespace

struct RecordedStep::Objects {
    Owned<VkCommandPool> pool;
    Owned<VkDescriptorPool> descriptors;
    std::vector<Owned<VkFence>> fences;         // per slot
    std::vector<Owned<VkQueryPool>> timestamps; // per slot, or none
};

RecordedStep::RecordedStep(Device& device, std::vector<StepDispatch> dispatches, RecordOptions options)
    : device_(device), dispatches_(std::move(dispatches)), slots_(std::move(options.slots)),
      objects_(std::make_unique<Objects>()), timestamps_(options.timestamps) {
    const DeviceFunctions& fns = DeviceInternals::fns(device);
    check(!slots_.empty(), "RecordedStep: at least one slot is needed");
    for (const StepSlot& slot : slots_)
        for (const auto* copies : {&slot.before, &slot.after})
            for (const StepCopy& c : *copies)
                check(c.src.end() - c.src.offset == c.dst.end() - c.dst.offset && c.src.end() <= c.src.buffer->size() &&
                          c.dst.end() <= c.dst.buffer->size(),
                      "RecordedStep: a copy from '", c.src.buffer->name(), "' to '", c.dst.buffer->name(),
                      "' has mismatched or out-of-range sizes");
    std::vector<DispatchAccess> accesses;
    uint32_t descriptors = 0;
    for (const StepDispatch& d : dispatches_) {
        pipelines_.push_back(&checked_pipeline(device, d.launch, d.args));
        accesses.push_back(access_of(d.launch, d.args));
        descriptors += pipelines_.back()->bindings;
    }

    // Levels: hazard-derived, or one dispatch per level in the debug schedule.
    BarrierPlan plan;
    if (options.full_barriers) {
        for (uint32_t i = 0; i <= dispatches_.size(); ++i) plan.level_begin.push_back(i);
        for (uint32_t i = 0; i < dispatches_.size(); ++i) plan.order.push_back(i);
        if (dispatches_.empty()) plan.level_begin = {0, 0};
    } else {
        plan = plan_barriers(accesses);
    }
    order_ = std::move(plan.order);
    level_begin_ = std::move(plan.level_begin);

    // Segments: whole levels, greedily up to the work budget.
    const size_t levels = level_begin_.size() - 1;
    segment_level_ = {0};
    segment_work_ = {0.0};
    for (size_t level = 0; level < levels; ++level) {
        double work = 0;
        for (uint32_t k = level_begin_[level]; k < level_begin_[level + 1]; ++k) work += dispatches_[order_[k]].work;
        if (options.max_segment_work > 0 && level > segment_level_.back() &&
            segment_work_.back() + work > options.max_segment_work) {
            segment_level_.push_back(static_cast<uint32_t>(level));
            segment_work_.push_back(0.0);
        }
        segment_work_.back() += work;
    }
    segment_level_.push_back(static_cast<uint32_t>(levels));

    // Descriptor sets: one per dispatch, written once, shared by every slot's recording.
    const uint32_t sets = static_cast<uint32_t>(std::max<size_t>(dispatches_.size(), 1));
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max(descriptors, 1u)};
    VkDescriptorPoolCreateInfo dpci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpci.maxSets = sets;
    dpci.poolSizeCount = 1;
    dpci.pPoolSizes = &size;
    VkDescriptorPool dpool = VK_NULL_HANDLE;
    VKCNN_VK(fns.vkCreateDescriptorPool(device.handle(), &dpci, nullptr, &dpool));
    objects_->descriptors = Owned<VkDescriptorPool>(fns, device.handle(), dpool);
    for (size_t i = 0; i < dispatches_.size(); ++i) {
        VkDescriptorSetLayout layout = pipelines_[i]->set_layout.get();
        VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
        ai.descriptorPool = dpool;
        ai.descriptorSetCount = 1;
        ai.pSetLayouts = &layout;
        VkDescriptorSet set = VK_NULL_HANDLE;
        VKCNN_VK(fns.vkAllocateDescriptorSets(device.handle(), &ai, &set));
        write_descriptor_set(device, set, dispatches_[i].args);
        sets_.push_back(set);
    }

    if (options.timestamps)
        check(device.info().timestamp_period_ns > 0, "RecordedStep: timestamps were asked for, but the compute queue of ",
              device.info().name, " has none");
    objects_->pool = create_command_pool(device, 0);
    const uint32_t queries = static_cast<uint32_t>(dispatches_.size() + 1);
    for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
        objects_->fences.push_back(create_fence(device));
        VkQueryPool qpool = VK_NULL_HANDLE;
        if (options.timestamps) {
            VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
            qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
            qci.queryCount = queries;
            VKCNN_VK(fns.vkCreateQueryPool(device.handle(), &qci, nullptr, &qpool));
            objects_->timestamps.emplace_back(fns, device.handle(), qpool);
        }
        cmds_.emplace_back();
        for (size_t segment = 0; segment < segment_count(); ++segment) {
            VkCommandBuffer cmd = allocate_command_buffer(device, objects_->pool.get());
            VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO}; // replayable: no one-time flag
            VKCNN_VK(fns.vkBeginCommandBuffer(cmd, &bi));
            // Queries are reset by the recording itself, so every replay measures afresh.
            if (qpool && segment == 0) fns.vkCmdResetQueryPool(cmd, qpool, 0, queries);
            record_segment(cmd, slot, segment, qpool);
            VKCNN_VK(fns.vkEndCommandBuffer(cmd));
            cmds_.back().push_back(cmd);
        }
    }
    ran_.assign(slots_.size(), false);
    pending_.assign(slots_.size(), false);
    next_segment_.assign(slots_.size(), 0);
    // The entry barrier doubles as the first level's; one more after the copies in and before the copies out.
    barriers_ = std::max<size_t>(levels, 1) + (slots_[0].before.empty() ? 0 : 1) + (slots_[0].after.empty() ? 0 : 1);
}

RecordedStep::~RecordedStep() = default;

void RecordedStep::record_segment(VkCommandBuffer cmd, uint32_t slot, size_t segment, VkQueryPool timestamps) const {
    const DeviceFunctions& fns = DeviceInternals::fns(device_);
    const StepSlot& copies = slots_[slot];
    if (segment == 0) {
        // Entry barrier: this run's reads and writes (its copies included)
        // come after everything earlier on the queue — the previous run,
        // uploads; host writes are covered by the submission itself.
        record_global_barrier(fns, cmd);
        if (!copies.before.empty()) {
            record_copies(fns, cmd, copies.before);
            record_global_barrier(fns, cmd);
        }
        if (timestamps) fns.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, timestamps, 0);
    }
    for (uint32_t level = segment_level_[segment]; level < segment_level_[segment + 1]; ++level) {
        if (level > 0) record_global_barrier(fns, cmd);
        for (uint32_t k = level_begin_[level]; k < level_begin_[level + 1]; ++k) {
            const uint32_t i = order_[k];
            record_dispatch(device_, cmd, *pipelines_[i], sets_[i], dispatches_[i].launch, dispatches_[i].label);
            if (timestamps) fns.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, timestamps, k + 1);
        }
    }
    if (segment + 1 == segment_count()) {
        if (!copies.after.empty()) {
            record_global_barrier(fns, cmd);
            record_copies(fns, cmd, copies.after);
        }
        record_host_read_barrier(fns, cmd);
    }
}

VkQueryPool RecordedStep::timestamp_pool(uint32_t slot) const {
    check(slot < slots_.size(), "RecordedStep: slot ", slot, " of ", slots_.size());
    return timestamps_ ? objects_->timestamps[slot].get() : VK_NULL_HANDLE;
}

void RecordedStep::record(VkCommandBuffer cmd, uint32_t slot) const {
    check(slot < slots_.size(), "RecordedStep::record: slot ", slot, " of ", slots_.size());
    const VkQueryPool qpool = timestamp_pool(slot);
    // As in our own recordings: the queries are reset before they are written, in the same command buffer.
    if (qpool)
        DeviceInternals::fns(device_).vkCmdResetQueryPool(cmd, qpool, 0, static_cast<uint32_t>(dispatches_.size() + 1));
    for (size_t segment = 0; segment < segment_count(); ++segment) record_segment(cmd, slot, segment, qpool);
    ran_[slot] = true;
}

void RecordedStep::run() {
    submit(0);
    wait(0);
}

void RecordedStep::submit(uint32_t slot, const SubmitSync& sync) { submit_segments(slot, 0, segment_count(), sync); }

void RecordedStep::submit_segments(uint32_t slot, size_t first, size_t count, const SubmitSync& sync) {
    check(slot < slots_.size(), "RecordedStep: slot ", slot, " of ", slots_.size());
    check(!pending_[slot], "RecordedStep: slot ", slot, " is still running; wait() for it first");
    check(count > 0 && first == next_segment_[slot] && first + count <= segment_count(), "RecordedStep: segments [",
          first, ", ", first + count, ") of ", segment_count(), " submitted out of order (next is ",
          next_segment_[slot], ")");
    const bool last = first + count == segment_count();
    device_.submit(std::span(cmds_[slot]).subspan(first, count), last ? objects_->fences[slot].get() : VK_NULL_HANDLE,
                   "recorded step", sync);
    next_segment_[slot] = last ? 0 : first + count;
    pending_[slot] = last;
    if (last) {
        ++submits_;
        ran_[slot] = true;
    }
}

void RecordedStep::wait(uint32_t slot) {
    check(slot < slots_.size(), "RecordedStep: slot ", slot, " of ", slots_.size());
    if (!pending_[slot]) return;
    device_.wait(objects_->fences[slot].get(), "recorded step");
    pending_[slot] = false;
    last_waited_ = slot;
}

std::vector<double> RecordedStep::dispatch_microseconds() const {
    check(timestamps_, "RecordedStep: dispatch times need RecordOptions::timestamps");
    check(submits_ > 0, "RecordedStep: dispatch times are available after the first run");
    return microseconds(last_waited_);
}

std::vector<double> RecordedStep::dispatch_microseconds(uint32_t slot) const {
    check(timestamps_, "RecordedStep: dispatch times need RecordOptions::timestamps");
    check(slot < slots_.size(), "RecordedStep: slot ", slot, " of ", slots_.size());
    check(ran_[slot], "RecordedStep: slot ", slot, " was never submitted or recorded, so it has no dispatch times");
    return microseconds(slot);
}

std::vector<double> RecordedStep::microseconds(uint32_t slot) const {
    std::vector<uint64_t> ticks(dispatches_.size() + 1);
    VKCNN_VK(DeviceInternals::fns(device_).vkGetQueryPoolResults(
        device_.handle(), timestamp_pool(slot), 0, static_cast<uint32_t>(ticks.size()), ticks.size() * sizeof(uint64_t),
        ticks.data(), sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    std::vector<double> us(dispatches_.size());
    const double period_us = device_.info().timestamp_period_ns * 1e-3;
    for (size_t k = 0; k < order_.size(); ++k) // a counter that wrapped reads as 0, not as hours
        us[order_[k]] = ticks[k + 1] >= ticks[k] ? static_cast<double>(ticks[k + 1] - ticks[k]) * period_us : 0.0;
    return us;
}

} // namespace vkcnn::vulkan
