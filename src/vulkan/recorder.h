// Immediate-mode command recording for one-off work (uploads, tests, the
// info check): dispatches, copies and fills into one command buffer, with
// barriers inserted from buffer-range hazards (read-after-write,
// write-after-write, write-after-read) since the last barrier, then a
// synchronous submit. The training-step scheduler plans its barriers ahead of
// time instead; this is the simple path.
#pragma once

#include "vkcnn/core/hazards.h"
#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/vulkan/device.h"

#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace vkcnn::vulkan {

class Recorder {
public:
    explicit Recorder(Device& device);
    ~Recorder();
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    // args[i] binds to binding i; its access is launch.args[i].
    void dispatch(const KernelLaunch& launch, std::span<const BufferRange> args, std::string_view label = {});
    void copy(const Buffer& src, VkDeviceSize src_offset, const Buffer& dst, VkDeviceSize dst_offset,
              VkDeviceSize bytes);
    void fill(const Buffer& dst, uint32_t word, VkDeviceSize offset = 0, VkDeviceSize bytes = VK_WHOLE_SIZE);
    void barrier(); // a full compute/transfer memory barrier

    // Ends, submits and waits; the recorder is then empty and can record again.
    void submit_and_wait(std::string_view what = "vkcnn work");

    size_t dispatch_count() const { return dispatches_; }
    size_t barrier_count() const { return barriers_; }

    // Test hook: do not guard the next hazard, so a test can prove that
    // synchronization validation catches a missing barrier.
    void debug_skip_next_barrier() { skip_next_barrier_ = true; }

private:
    void begin_if_needed();
    // Records a barrier first if `access` conflicts with anything since the last one.
    void guard(const DispatchAccess& access);
    VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);

    struct Objects; // the command pool, fence and descriptor pools we own (recorder.cpp)
    Device& device_;
    std::unique_ptr<Objects> objects_;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE; // freed with the pool
    bool recording_ = false;
    DispatchAccess since_barrier_; // everything read and written since the last barrier
    size_t dispatches_ = 0, barriers_ = 0;
    bool skip_next_barrier_ = false;
};

} // namespace vkcnn::vulkan
