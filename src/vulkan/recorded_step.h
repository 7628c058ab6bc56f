// A fixed list of dispatches recorded once into one command buffer and
// replayed with one vkQueueSubmit per run: the execution half of a compiled
// training step. Dispatches are grouped into hazard levels (core/hazards.h)
// with one global memory barrier between levels; nothing that changes per
// step may live in the recording — per-step values (batch data, learning
// rate, seeds) live in buffers the host updates between runs.
#pragma once

#include "vkcnn/core/hazards.h"
#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/vulkan/device.h"

#include <string>
#include <vector>

namespace vkcnn::vulkan {

struct StepDispatch {
    KernelLaunch launch;
    std::vector<BufferRange> args; // args[i] binds to binding i, accessed as launch.args[i]
    std::string label;             // debug-utils label (the graph node's name)
};

struct RecordOptions {
    // Debug schedule: the given order, a full barrier after every dispatch.
    bool full_barriers = false;
    // A timestamp after every dispatch (needs timestamps on the compute
    // queue: DeviceInfo::timestamp_period_ns > 0, else an error).
    bool timestamps = false;
};

class RecordedStep {
public:
    RecordedStep(Device& device, std::vector<StepDispatch> dispatches, RecordOptions options = {});
    ~RecordedStep();
    RecordedStep(const RecordedStep&) = delete;
    RecordedStep& operator=(const RecordedStep&) = delete;

    // One vkQueueSubmit of the recording, then a wait on its fence.
    void run();

    size_t dispatch_count() const { return dispatches_.size(); }
    // Barriers recorded per run: one on entry (orders this run after earlier
    // work on the queue and host writes), one between consecutive levels.
    size_t barrier_count() const { return barriers_; }
    size_t submit_count() const { return submits_; }
    const std::vector<uint32_t>& order() const { return order_; } // dispatch indices as recorded

    // With RecordOptions::timestamps: GPU time of each dispatch (indexed as
    // given, not as recorded) in the last run, in microseconds. A dispatch's
    // time runs from the completion of the dispatch recorded before it to its
    // own: exact where dispatches run one after another (lavapipe); where a
    // GPU overlaps the dispatches of one level, the level's time is shared
    // out in completion order.
    std::vector<double> dispatch_microseconds() const;

private:
    Device& device_;
    std::vector<StepDispatch> dispatches_;
    std::vector<uint32_t> order_;
    Owned<VkCommandPool> pool_;
    Owned<VkDescriptorPool> descriptors_;
    Owned<VkFence> fence_;
    Owned<VkQueryPool> timestamps_; // dispatches + 1 queries, or none
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    size_t barriers_ = 0, submits_ = 0;
};

} // namespace vkcnn::vulkan
