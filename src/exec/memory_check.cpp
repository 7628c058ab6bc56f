// What a compiled step needs against what there is (see memory_check.h).
#include "vkcnn/exec/memory_check.h"

#include "vkcnn/core/error.h"
#if VKCNN_HAS_VULKAN
#include "vkcnn/vulkan/device.h"
#endif

#include <algorithm>
#include <cstdio>

#include <sys/resource.h>
#include <unistd.h>

namespace vkcnn::exec {

namespace {

// What this process may use of the host's memory, and what that limit is:
// the physical memory, or less where an address-space limit (ulimit -v) or
// the cgroup's memory.max (a container's) says so. 0 bytes: unknown.
struct HostMemory {
    uint64_t bytes = 0;
    std::string what;
};
HostMemory host_memory() {
    HostMemory m;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) m = {static_cast<uint64_t>(pages) * static_cast<uint64_t>(page), "this machine's physical memory"};
#endif
#if !defined(__EMSCRIPTEN__)
    const auto lower = [&](uint64_t bytes, const char* what) {
        if (bytes > 0 && (m.bytes == 0 || bytes < m.bytes)) m = {bytes, what};
    };
    rlimit limit{};
    if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        lower(static_cast<uint64_t>(limit.rlim_cur), "this process's address-space limit (ulimit -v)");
    if (std::FILE* f = std::fopen("/sys/fs/cgroup/memory.max", "r")) { // "max" when unlimited
        unsigned long long bytes = 0;
        if (std::fscanf(f, "%llu", &bytes) == 1) lower(bytes, "the cgroup's memory.max");
        std::fclose(f);
    }
#endif
    return m;
}

std::string bytes_str(uint64_t bytes) {
    char buf[32];
    const double b = static_cast<double>(bytes);
    if (bytes >= (uint64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", b / 0x1p30);
    else std::snprintf(buf, sizeof buf, "%.1f MiB", b / 0x1p20);
    return buf;
}

} // namespace

MemoryEstimate estimate_memory(const graph::Plan& plan) {
    const graph::Graph& g = plan.graph;
    MemoryEstimate m;
    std::vector<graph::Lifetime> transients(g.value_count());
    for (graph::ValueId v = 0; v < g.value_count(); ++v) {
        if (plan.home[v] != v) continue; // a view: its home's memory
        const uint64_t bytes = static_cast<uint64_t>(g.value(v).shape.elements()) * 4; // f32 and i32
        switch (plan.storage[v]) {
        case graph::Storage::Feed: m.feeds += bytes; break;
        case graph::Storage::Persistent: m.persistent += bytes; break;
        case graph::Storage::Transient: transients[v] = plan.lifetimes[v]; break;
        }
    }
    m.arena = graph::plan_memory(transients, 64).arena_bytes;
    return m;
}

void check_memory(const MemoryEstimate& need, [[maybe_unused]] const Device* device, std::string_view what) {
    const std::string parts = cat("activations and gradients ", bytes_str(need.arena), ", parameters and state ",
                                  bytes_str(need.persistent), ", inputs ", bytes_str(need.feeds));
    const HostMemory host = host_memory();
#if VKCNN_HAS_VULKAN
    if (device) {
        uint64_t heap = 0;
        for (const vulkan::MemoryHeapInfo& h : device->info().heaps)
            if (h.device_local) heap = std::max(heap, h.size);
        if (heap > 0 && need.total() > heap)
            throw OutOfMemoryError(cat("out of memory: ", what, " needs about ", bytes_str(need.total()), " (", parts,
                                       ") on the device, more than the ", bytes_str(heap), " of ", device->info().name,
                                       "'s largest device-local heap; use a smaller batch"));
        // The host's copy of the inputs and the two upload slots.
        if (host.bytes > 0 && 3 * need.feeds > host.bytes)
            throw OutOfMemoryError(cat("out of memory: ", what, " needs about ", bytes_str(3 * need.feeds),
                                       " of host memory for its inputs, more than ", host.what, ", ",
                                       bytes_str(host.bytes), "; use a smaller batch"));
        return;
    }
#endif
    // The Program's values and a caller's copy of the batch it feeds.
    if (host.bytes > 0 && need.total() + need.feeds > host.bytes)
        throw OutOfMemoryError(cat("out of memory: ", what, " needs about ", bytes_str(need.total() + need.feeds), " (",
                                   parts, ", and the caller's copy of the inputs), more than ", host.what, ", ",
                                   bytes_str(host.bytes), "; use a smaller batch"));
}

} // namespace vkcnn::exec
