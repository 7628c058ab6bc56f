// Device creation (ours or adopted), buffers, host transfers and submission
// with device-loss handling.
#include "vkcnn/vulkan/device.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/debug_utils.h"
#include "vkcnn/vulkan/device_choice.h"
#include "vkcnn/vulkan/device_testing.h"
#include "vkcnn/vulkan/loader.h"
#include "vkcnn/vulkan/memory.h"
#include "vkcnn/vulkan/pipeline.h"
#include "vkcnn/vulkan/recorder.h"
#include "vkcnn/vulkan/result.h"
#include "vkcnn/vulkan/tuning_file.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace vkcnn {

using namespace vulkan;

namespace {

bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}

} // namespace

Device::Device()
    : fns_(std::make_unique<DeviceFunctions>()), debug_(std::make_unique<DebugUtils>()) {}

std::unique_ptr<Device> Device::create(const DeviceOptions& options) { return create_device(options, false); }

std::unique_ptr<Device> vulkan::DeviceTesting::create_with_staging(const DeviceOptions& options) {
    return Device::create_device(options, true);
}

size_t vulkan::DeviceTesting::memory_blocks(const Device& device) { return device.allocator_->block_count(); }

std::unique_ptr<Device> Device::create_device(const DeviceOptions& options, bool force_staging) {
    auto dev = std::unique_ptr<Device>(new Device());
    dev->instance_ = Instance::create(
        {options.validation.value_or(env_flag("VKCNN_VALIDATION")), options.sync_validation});
    const auto devices = describe_devices(*dev->instance_);
    const char* env = std::getenv("VKCNN_DEVICE");
    const std::string selector = options.select.value_or(env ? env : "");
    dev->info_ = devices[choose_device(devices, selector).index];
    dev->quirks_ = quirks_for(dev->info_, std::getenv("VKCNN_DISABLE_FEATURES"));

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo queue{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    queue.queueFamilyIndex = dev->info_.compute_family;
    queue.queueCount = 1;
    queue.pQueuePriorities = &priority;
    VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    storage16.storageBuffer16BitAccess = dev->quirks_.storage_buffer_16bit;
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    features.pNext = &storage16;
    VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    info.pNext = &features;
    info.queueCreateInfoCount = 1;
    info.pQueueCreateInfos = &queue;
    const InstanceFunctions& ifn = dev->instance_->fns();
    VKCNN_VK(ifn.vkCreateDevice(dev->info_.physical_device, &info, nullptr, &dev->device_));
    dev->owns_device_ = true;
    *dev->fns_ = load_device_functions(ifn, dev->device_);
    dev->fns_->vkGetDeviceQueue(dev->device_, dev->info_.compute_family, 0, &dev->queue_);
    dev->init_common(options, force_staging);
    return dev;
}

std::unique_ptr<Device> Device::adopt(const AdoptInfo& a, const DeviceOptions& options) {
    check(a.physical_device != VK_NULL_HANDLE, "Device::adopt: AdoptInfo::physical_device is VK_NULL_HANDLE");
    check(a.device != VK_NULL_HANDLE, "Device::adopt: AdoptInfo::device is VK_NULL_HANDLE");
    check(a.queue != VK_NULL_HANDLE, "Device::adopt: AdoptInfo::queue is VK_NULL_HANDLE");
    auto dev = std::unique_ptr<Device>(new Device());
    dev->instance_ = Instance::borrow(a.instance, a.get_instance_proc_addr, a.debug_utils,
                                      options.validation.value_or(env_flag("VKCNN_VALIDATION")));
    const auto pds = dev->instance_->physical_devices();
    const auto it = std::find(pds.begin(), pds.end(), a.physical_device);
    check(it != pds.end(), "Device::adopt: AdoptInfo::physical_device is not one of the ", pds.size(),
          " physical devices of AdoptInfo::instance (handles from another VkInstance?)");
    dev->info_ = describe_device(*dev->instance_, a.physical_device, static_cast<uint32_t>(it - pds.begin()));
    check(dev->info_.api_version >= VK_API_VERSION_1_1, "Device::adopt: ", dev->info_.name,
          " supports Vulkan ", version_string(dev->info_.api_version), ", vkcnn needs 1.1");

    uint32_t nq = 0;
    dev->instance_->fns().vkGetPhysicalDeviceQueueFamilyProperties(a.physical_device, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> families(nq);
    dev->instance_->fns().vkGetPhysicalDeviceQueueFamilyProperties(a.physical_device, &nq, families.data());
    check(a.queue_family < nq, "Device::adopt: queue_family ", a.queue_family, " does not exist (",
          dev->info_.name, " has ", nq, " queue families)");
    check(families[a.queue_family].queueFlags & VK_QUEUE_COMPUTE_BIT, "Device::adopt: queue family ",
          a.queue_family, " of ", dev->info_.name, " does not support compute");
    dev->info_.compute_family = a.queue_family;
    dev->info_.timestamp_period_ns = families[a.queue_family].timestampValidBits
                                         ? dev->info_.timestamp_period_ns : 0.0f;

    dev->quirks_ = quirks_for(dev->info_, std::getenv("VKCNN_DISABLE_FEATURES"));
    // We can only use features the host enabled when it created the device.
    dev->quirks_.storage_buffer_16bit = dev->quirks_.storage_buffer_16bit && a.storage_buffer_16bit;
    dev->device_ = a.device;
    dev->owns_device_ = false;
    *dev->fns_ = load_device_functions(dev->instance_->fns(), a.device);
    dev->queue_ = a.queue;
    if (a.queue_mutex) dev->queue_mutex_ = a.queue_mutex;
    dev->init_common(options, false);
    return dev;
}

void Device::init_common(const DeviceOptions& options, bool force_staging) {
    *debug_ = DebugUtils(&instance_->fns(), device_, instance_->has_debug_utils());
    VkPhysicalDeviceMemoryProperties mem{};
    instance_->fns().vkGetPhysicalDeviceMemoryProperties(info_.physical_device, &mem);
    allocator_ = std::make_unique<MemoryAllocator>(*fns_, device_, mem, info_.unified_memory && !force_staging);
    const std::filesystem::path cache_dir = options.cache_dir.value_or(default_cache_dir());
    pipelines_ = std::make_unique<PipelineCache>(*fns_, device_, info_, cache_dir, *debug_);
    // A tiling `vkcnn tune` measured on this device and driver wins over the table's.
    if (!cache_dir.empty()) {
        const std::filesystem::path file = tuning_file(cache_dir, info_);
        try {
            if (const auto measured = read_tuning(file)) {
                set_gemm_tuning(*measured);
                quirks_.applied.push_back("GEMM tiling measured by vkcnn tune (" + file.string() + ")");
            }
        } catch (const Error& e) { // a damaged file must not keep the device from working
            quirks_.applied.push_back(cat("ignored: ", e.what()));
        }
    }
    if (const char* forced = std::getenv("VKCNN_GEMM_TILES"); forced && *forced) {
        set_gemm_tuning(parse_gemm_tiles(forced));
        quirks_.applied.push_back(cat("GEMM tiling forced by VKCNN_GEMM_TILES=", forced));
    }
    check(options.timeout_seconds > 0, "DeviceOptions::timeout_seconds must be positive, got ",
          options.timeout_seconds);
    timeout_ns_ = static_cast<uint64_t>(options.timeout_seconds * 1e9);
}

Device::~Device() {
    // Our own submissions are always waited for, so nothing of ours is in
    // flight here unless the device was lost, where waiting could hang.
    if (owns_device_ && device_ && !lost_) fns_->vkDeviceWaitIdle(device_);
    pipelines_.reset();
    allocator_.reset();
    if (owns_device_ && device_) fns_->vkDestroyDevice(device_, nullptr);
    instance_.reset();
}

void Device::set_gemm_tuning(const GemmTuning& tuning) {
    // Only the tiling: which optional features kernels may use stays the device's.
    quirks_.gemm.shared_memory_tiles = tuning.shared_memory_tiles;
    quirks_.gemm.tile_m = tuning.tile_m;
    quirks_.gemm.tile_n = tuning.tile_n;
}

Buffer Device::create_buffer(size_t bytes, std::string_view name, MemoryUsage usage) {
    throw_if_lost(name);
    uint64_t largest_heap = 0;
    for (const MemoryHeapInfo& h : info_.heaps) largest_heap = std::max(largest_heap, h.size);
    if (bytes > largest_heap)
        throw OutOfMemoryError(cat("out of device memory: buffer '", name, "' asks for ", bytes,
                                   " bytes, more than the largest memory heap of ", info_.name, " (",
                                   largest_heap, " bytes)"));
    Buffer b;
    b.size_ = std::max<size_t>(bytes, 4);
    b.name_ = std::string(name);
    VkBufferCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    ci.size = b.size_;
    // Vertex input too, so a renderer draws from network values directly (buffer.h).
    ci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_VERTEX_BUFFER_BIT |
               VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    ci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkBuffer handle = VK_NULL_HANDLE;
    VKCNN_VK(fns_->vkCreateBuffer(device_, &ci, nullptr, &handle));
    b.allocator_ = allocator_.get(); // from here on `b` destroys the VkBuffer, should a step below throw
    b.buffer_ = handle;
    VkMemoryRequirements req{};
    fns_->vkGetBufferMemoryRequirements(device_, handle, &req);
    b.allocation_ = allocator_->allocate(req, usage, name);
    VKCNN_VK(fns_->vkBindBufferMemory(device_, handle, b.allocation_.memory, b.allocation_.offset));
    debug_->name(VK_OBJECT_TYPE_BUFFER, handle, name);
    return b;
}

void Device::upload(const Buffer& dst, std::span<const std::byte> src, size_t offset) {
    check(offset + src.size() <= dst.size(), "upload to '", dst.name(), "': ", src.size(),
          " bytes at offset ", offset, " do not fit its ", dst.size(), " bytes");
    if (src.empty()) return;
    if (dst.mapped()) {
        // Host writes before vkQueueSubmit are visible to the submitted work
        // (once flushed, where the memory is not coherent).
        std::memcpy(dst.mapped() + offset, src.data(), src.size());
        sync_if_incoherent(dst, true);
    } else {
        Buffer staging = create_buffer(src.size(), "staging upload", MemoryUsage::Upload);
        std::memcpy(staging.mapped(), src.data(), src.size());
        Recorder rec(*this);
        rec.copy(staging, 0, dst, offset, src.size());
        rec.submit_and_wait("upload to " + dst.name());
    }
    uploaded_.fetch_add(src.size(), std::memory_order_relaxed);
    uploads_.fetch_add(1, std::memory_order_relaxed);
}

void Device::download(const Buffer& src, std::span<std::byte> dst, size_t offset) {
    check(offset + dst.size() <= src.size(), "download from '", src.name(), "': ", dst.size(),
          " bytes at offset ", offset, " exceed its ", src.size(), " bytes");
    if (dst.empty()) return;
    if (src.mapped()) {
        sync_if_incoherent(src, false);
        std::memcpy(dst.data(), src.mapped() + offset, dst.size());
    } else {
        Buffer readback = create_buffer(dst.size(), "staging readback", MemoryUsage::Readback);
        Recorder rec(*this);
        rec.copy(src, offset, readback, 0, dst.size());
        rec.submit_and_wait("download from " + src.name());
        sync_if_incoherent(readback, false);
        std::memcpy(dst.data(), readback.mapped(), dst.size());
    }
    downloaded_.fetch_add(dst.size(), std::memory_order_relaxed);
    downloads_.fetch_add(1, std::memory_order_relaxed);
}

TransferStats Device::transfer_stats() const {
    return {uploaded_.load(std::memory_order_relaxed), downloaded_.load(std::memory_order_relaxed),
            uploads_.load(std::memory_order_relaxed), downloads_.load(std::memory_order_relaxed)};
}

void Device::reset_transfer_stats() {
    for (auto* counter : {&uploaded_, &downloaded_, &uploads_, &downloads_}) counter->store(0, std::memory_order_relaxed);
}

void Device::sync_if_incoherent(const Buffer& b, bool host_wrote) {
    if (b.allocation_.coherent) return;
    VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE};
    range.memory = b.allocation_.memory;
    range.size = VK_WHOLE_SIZE; // whole block: offsets need nonCoherentAtomSize alignment
    VKCNN_VK(host_wrote ? fns_->vkFlushMappedMemoryRanges(device_, 1, &range)
                        : fns_->vkInvalidateMappedMemoryRanges(device_, 1, &range));
}

void Device::throw_if_lost(std::string_view what) const {
    if (lost_)
        throw DeviceLostError(cat("'", what, "' refused: the Vulkan device ", info_.name,
                                  " was lost earlier. Destroy this Device and create a new one."));
}

void Device::submit_and_wait(VkCommandBuffer cmd, VkFence fence, std::string_view what) {
    submit({&cmd, 1}, fence, what);
    wait(fence, what);
}

void Device::submit(std::span<const VkCommandBuffer> cmds, VkFence fence, std::string_view what, const SubmitSync& sync) {
    throw_if_lost(what);
    check(sync.wait_values.empty() || sync.wait_values.size() == sync.wait.size(), what, ": ", sync.wait.size(),
          " wait semaphores but ", sync.wait_values.size(), " timeline values");
    check(sync.signal_values.empty() || sync.signal_values.size() == sync.signal.size(), what, ": ",
          sync.signal.size(), " signal semaphores but ", sync.signal_values.size(), " timeline values");
    const std::vector<VkPipelineStageFlags> stages(sync.wait.size(),
                                                   VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT);
    VkTimelineSemaphoreSubmitInfo timeline{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
    timeline.waitSemaphoreValueCount = static_cast<uint32_t>(sync.wait_values.size());
    timeline.pWaitSemaphoreValues = sync.wait_values.data();
    timeline.signalSemaphoreValueCount = static_cast<uint32_t>(sync.signal_values.size());
    timeline.pSignalSemaphoreValues = sync.signal_values.data();
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    if (!sync.wait_values.empty() || !sync.signal_values.empty()) submit.pNext = &timeline;
    submit.waitSemaphoreCount = static_cast<uint32_t>(sync.wait.size());
    submit.pWaitSemaphores = sync.wait.data();
    submit.pWaitDstStageMask = stages.data();
    submit.commandBufferCount = static_cast<uint32_t>(cmds.size());
    submit.pCommandBuffers = cmds.data();
    submit.signalSemaphoreCount = static_cast<uint32_t>(sync.signal.size());
    submit.pSignalSemaphores = sync.signal.data();
    VkResult r;
    {
        std::lock_guard lock(*queue_mutex_);
        r = fns_->vkQueueSubmit(queue_, 1, &submit, fence);
    }
    if (r == VK_ERROR_DEVICE_LOST) mark_lost(r, what);
    VKCNN_VK(r);
}

void Device::wait(VkFence fence, std::string_view what) {
    throw_if_lost(what);
    VkResult r = fns_->vkWaitForFences(device_, 1, &fence, VK_TRUE, timeout_ns_);
    if (r == VK_SUCCESS && simulate_lost_.exchange(false)) r = VK_ERROR_DEVICE_LOST;
    if (r == VK_TIMEOUT || r == VK_ERROR_DEVICE_LOST) mark_lost(r, what);
    VKCNN_VK(r);
    VKCNN_VK(fns_->vkResetFences(device_, 1, &fence));
}

void Device::mark_lost(VkResult r, std::string_view what) {
    lost_ = true;
    throw DeviceLostError(cat(
        "'", what, "' on ", info_.name, ": ",
        r == VK_TIMEOUT ? cat("the GPU did not finish within ", static_cast<double>(timeout_ns_) / 1e9,
                              " s (DeviceOptions::timeout_seconds); treating the device as lost")
                        : std::string("VK_ERROR_DEVICE_LOST: the GPU was reset or stopped responding"),
        ". This Device refuses further work; destroy it and create a new one."));
}

} // namespace vkcnn
