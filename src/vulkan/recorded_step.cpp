// Record-once, replay-every-step execution (see recorded_step.h).
#include "vkcnn/vulkan/recorded_step.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/commands.h"
#include "vkcnn/vulkan/result.h"

namespace vkcnn::vulkan {

RecordedStep::RecordedStep(Device& device, std::vector<StepDispatch> dispatches, RecordOptions options)
    : device_(device), dispatches_(std::move(dispatches)) {
    const DeviceFunctions& fns = device.fns();
    std::vector<const Pipeline*> pipelines;
    std::vector<DispatchAccess> accesses;
    uint32_t descriptors = 0;
    for (const StepDispatch& d : dispatches_) {
        pipelines.push_back(&checked_pipeline(device, d.launch, d.args));
        accesses.push_back(access_of(d.launch, d.args));
        descriptors += pipelines.back()->bindings;
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
    order_ = plan.order;

    // Exactly the descriptor sets this recording needs; they stay valid for its lifetime.
    const uint32_t sets = static_cast<uint32_t>(std::max<size_t>(dispatches_.size(), 1));
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max(descriptors, 1u)};
    VkDescriptorPoolCreateInfo dpci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpci.maxSets = sets;
    dpci.poolSizeCount = 1;
    dpci.pPoolSizes = &size;
    VkDescriptorPool dpool = VK_NULL_HANDLE;
    VKCNN_VK(fns.vkCreateDescriptorPool(device.handle(), &dpci, nullptr, &dpool));
    descriptors_ = Owned<VkDescriptorPool>(fns, device.handle(), dpool);

    pool_ = create_command_pool(device, 0);
    cmd_ = allocate_command_buffer(device, pool_.get());
    fence_ = create_fence(device);

    const uint32_t queries = static_cast<uint32_t>(dispatches_.size() + 1);
    if (options.timestamps) {
        check(device.info().timestamp_period_ns > 0, "RecordedStep: timestamps were asked for, but the compute queue of ",
              device.info().name, " has none");
        VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qci.queryCount = queries;
        VkQueryPool qpool = VK_NULL_HANDLE;
        VKCNN_VK(fns.vkCreateQueryPool(device.handle(), &qci, nullptr, &qpool));
        timestamps_ = Owned<VkQueryPool>(fns, device.handle(), qpool);
    }

    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO}; // replayable: no one-time flag
    VKCNN_VK(fns.vkBeginCommandBuffer(cmd_, &bi));
    // Queries are reset by the recording itself, so every replay measures afresh.
    if (timestamps_) fns.vkCmdResetQueryPool(cmd_, timestamps_.get(), 0, queries);
    // Entry barrier: this run's reads and writes come after everything earlier
    // on the queue (the previous run, uploads); host writes are covered by the submit.
    record_global_barrier(fns, cmd_);
    barriers_ = 1;
    uint32_t query = 0;
    if (timestamps_) fns.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, timestamps_.get(), query++);
    for (size_t level = 0; level + 1 < plan.level_begin.size(); ++level) {
        if (level > 0) {
            record_global_barrier(fns, cmd_);
            ++barriers_;
        }
        for (uint32_t k = plan.level_begin[level]; k < plan.level_begin[level + 1]; ++k) {
            const uint32_t i = plan.order[k];
            const StepDispatch& d = dispatches_[i];
            VkDescriptorSetLayout layout = pipelines[i]->set_layout.get();
            VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
            ai.descriptorPool = dpool;
            ai.descriptorSetCount = 1;
            ai.pSetLayouts = &layout;
            VkDescriptorSet set = VK_NULL_HANDLE;
            VKCNN_VK(fns.vkAllocateDescriptorSets(device.handle(), &ai, &set));
            record_dispatch(device, cmd_, *pipelines[i], set, d.launch, d.args, d.label);
            if (timestamps_)
                fns.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, timestamps_.get(), query++);
        }
    }
    record_host_read_barrier(fns, cmd_);
    VKCNN_VK(fns.vkEndCommandBuffer(cmd_));
}

RecordedStep::~RecordedStep() = default;

void RecordedStep::run() {
    VkFence fence = fence_.get();
    device_.submit_and_wait(cmd_, fence, "recorded step");
    ++submits_;
    VKCNN_VK(device_.fns().vkResetFences(device_.handle(), 1, &fence));
}

std::vector<double> RecordedStep::dispatch_microseconds() const {
    check(static_cast<bool>(timestamps_), "RecordedStep: dispatch times need RecordOptions::timestamps");
    check(submits_ > 0, "RecordedStep: dispatch times are available after the first run");
    std::vector<uint64_t> ticks(dispatches_.size() + 1);
    VKCNN_VK(device_.fns().vkGetQueryPoolResults(device_.handle(), timestamps_.get(), 0,
                                                 static_cast<uint32_t>(ticks.size()), ticks.size() * sizeof(uint64_t),
                                                 ticks.data(), sizeof(uint64_t),
                                                 VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    std::vector<double> us(dispatches_.size());
    const double period_us = device_.info().timestamp_period_ns * 1e-3;
    for (size_t k = 0; k < order_.size(); ++k) // a counter that wrapped reads as 0, not as hours
        us[order_[k]] = ticks[k + 1] >= ticks[k] ? static_cast<double>(ticks[k + 1] - ticks[k]) * period_us : 0.0;
    return us;
}

} // namespace vkcnn::vulkan
