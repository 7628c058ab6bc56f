// vkcnn::Device: one Vulkan device and queue that vkcnn computes on, either
// created by us or adopted from a host application (a game or renderer),
// with its memory allocator, pipelines and validation log.
//
// Sharing a queue with a host application: VkQueue access must be externally
// synchronised. vkcnn submits only from inside calls the application makes
// (upload, download, Recorder::submit_and_wait), on the calling thread. If the
// application also submits to that queue from other threads, give
// AdoptInfo::queue_mutex: vkcnn holds it around each vkQueueSubmit.
// vkcnn never waits for the whole device or queue: only on its own fences.
#pragma once

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/buffer.h"
#include "vkcnn/vulkan/device_info.h"
#include "vkcnn/vulkan/instance.h"
#include "vkcnn/vulkan/quirks.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vkcnn {

namespace vulkan { // vkcnn's backend (private headers: device_internal.h, device_testing.h)
struct DeviceFunctions;
class DebugUtils;
class MemoryAllocator;
class PipelineCache;
struct DeviceInternals;
struct DeviceTesting;
} // namespace vulkan

struct DeviceOptions {
    // Khronos validation layer (with synchronization validation); default
    // from $VKCNN_VALIDATION=1. Messages land in validation_log().
    std::optional<bool> validation;
    bool sync_validation = true;
    // Index or name substring; default from $VKCNN_DEVICE, else the best device.
    std::optional<std::string> select;
    // Where the pipeline cache is kept; default vulkan::default_cache_dir().
    std::optional<std::filesystem::path> cache_dir;
    // A submission not finished after this long is treated as a lost device
    // rather than waited on forever.
    double timeout_seconds = 120.0;
};

// Semaphores a submission waits on before it starts and signals when done, so
// a host can order vkcnn's work with its own (a frame's rendering, say)
// without waiting on the CPU. Timeline semaphores take the values at the same
// index; give no values when all semaphores are binary. Waits block the
// compute and transfer stages.
struct SubmitSync {
    std::span<const VkSemaphore> wait;
    std::span<const uint64_t> wait_values;
    std::span<const VkSemaphore> signal;
    std::span<const uint64_t> signal_values;
};

// A host application's Vulkan objects. vkcnn borrows them and never destroys them.
struct AdoptInfo {
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physical_device = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t queue_family = 0; // must support compute
    VkQueue queue = VK_NULL_HANDLE;
    PFN_vkGetInstanceProcAddr get_instance_proc_addr = nullptr; // null: the system loader's
    std::mutex* queue_mutex = nullptr;  // held around our submits when set
    bool debug_utils = false;           // the instance has VK_EXT_debug_utils enabled
    bool storage_buffer_16bit = false;  // the device was created with storageBuffer16BitAccess
};

// Bytes moved between host memory and device buffers by Device::upload and
// Device::download (whichever path: mapped memcpy or staging copy), and how
// many of those calls moved any. Copies between device buffers, a
// RecordedStep's copies included, are not host transfers.
struct TransferStats {
    uint64_t uploaded = 0, downloaded = 0; // bytes
    uint64_t uploads = 0, downloads = 0;   // calls
};

class Device {
public:
    static std::unique_ptr<Device> create(const DeviceOptions& options = {});
    static std::unique_ptr<Device> adopt(const AdoptInfo& info, const DeviceOptions& options = {});
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const vulkan::DeviceInfo& info() const { return info_; }
    const vulkan::Quirks& quirks() const { return quirks_; }
    bool adopted() const { return !owns_device_; }
    VkDevice handle() const { return device_; }
    // The queue family of the queue we compute on (AdoptInfo::queue_family
    // when adopted): what our buffers belong to and command buffers given to
    // RecordedStep::record must be allocated for.
    uint32_t queue_family() const { return info_.compute_family; }
    // The GEMM tiling kernels compiled from now on use (exec/autotune.h
    // measures one); Device::create applies the one `vkcnn tune` saved.
    void set_gemm_tuning(const GemmTuning& tuning);

    // A storage buffer, also usable as a vertex buffer and for copies
    // (buffer.h says what a renderer may do with it). bytes may be 0 (a
    // 4-byte buffer is made).
    vulkan::Buffer create_buffer(size_t bytes, std::string_view name,
                                 vulkan::MemoryUsage usage = vulkan::MemoryUsage::Device);
    // Synchronous copies between host memory and a buffer: mapped memcpy on
    // unified-memory devices, a staging buffer and a copy command elsewhere.
    void upload(const vulkan::Buffer& dst, std::span<const std::byte> src, size_t offset = 0);
    void download(const vulkan::Buffer& src, std::span<std::byte> dst, size_t offset = 0);
    template <typename T>
    void upload(const vulkan::Buffer& dst, std::span<const T> src, size_t offset = 0) {
        upload(dst, std::as_bytes(src), offset);
    }
    template <typename T>
    void download(const vulkan::Buffer& src, std::span<T> dst, size_t offset = 0) {
        download(src, std::as_writable_bytes(dst), offset);
    }
    // Bytes and calls of upload / download so far (a transfer is counted
    // once it is done). Safe to call from any thread while others transfer;
    // each field is exact, the four are not read as one snapshot.
    TransferStats transfer_stats() const;
    void reset_transfer_stats();

    // Validation messages (empty unless validation is on).
    vulkan::ValidationLog& validation_log() { return instance_->log(); }
    bool validation_enabled() const { return instance_->validation_enabled(); }

    // Submits `cmd` to the compute queue and waits for `fence` (then resets it). Throws
    // DeviceLostError on VK_ERROR_DEVICE_LOST or timeout; after that every
    // call throws it at once. `what` names the work in those messages.
    void submit_and_wait(VkCommandBuffer cmd, VkFence fence, std::string_view what);
    // The same in two halves: one vkQueueSubmit of `cmds` (in order) that
    // signals `fence`, then, later, the wait for it.
    void submit(std::span<const VkCommandBuffer> cmds, VkFence fence, std::string_view what, const SubmitSync& sync = {});
    void wait(VkFence fence, std::string_view what);
    bool lost() const { return lost_.load(); }

private:
    // The function table, debug utils, pipelines and allocator, for the
    // recorder and other backend code (device_internal.h), and the test hooks
    // (device_testing.h).
    friend struct vulkan::DeviceInternals;
    friend struct vulkan::DeviceTesting;

    Device();
    static std::unique_ptr<Device> create_device(const DeviceOptions& options, bool force_staging);
    void init_common(const DeviceOptions& options, bool force_staging);
    void throw_if_lost(std::string_view what) const;
    [[noreturn]] void mark_lost(VkResult r, std::string_view what);
    // Mapped, non-coherent memory: the host's writes flushed to the device
    // (host_wrote), or the device's writes made visible to the host.
    void sync_if_incoherent(const vulkan::Buffer& b, bool host_wrote);

    std::unique_ptr<vulkan::Instance> instance_;
    vulkan::DeviceInfo info_;
    vulkan::Quirks quirks_;
    VkDevice device_ = VK_NULL_HANDLE;
    bool owns_device_ = false;
    std::unique_ptr<vulkan::DeviceFunctions> fns_; // never null
    VkQueue queue_ = VK_NULL_HANDLE;
    std::mutex own_queue_mutex_;
    std::mutex* queue_mutex_ = &own_queue_mutex_;
    std::unique_ptr<vulkan::DebugUtils> debug_; // never null
    std::unique_ptr<vulkan::MemoryAllocator> allocator_;
    std::unique_ptr<vulkan::PipelineCache> pipelines_;
    uint64_t timeout_ns_ = 0;
    std::atomic<bool> lost_{false};
    std::atomic<bool> simulate_lost_{false};
    std::atomic<uint64_t> uploaded_{0}, downloaded_{0}, uploads_{0}, downloads_{0};
};

} // namespace vkcnn
