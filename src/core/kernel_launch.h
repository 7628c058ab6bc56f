// A GPU kernel launch described as plain data: which embedded shader, its
// specialization constants, push constants, how each buffer argument is
// accessed, and the workgroup grid. Ops produce these without knowing about
// Vulkan; the Vulkan backend turns them into dispatches, and the scheduler
// derives barriers from the declared accesses.
#pragma once

#include "vkcnn/core/error.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

namespace vkcnn {

enum class Access : uint8_t { Read, Write, ReadWrite };

inline bool writes(Access a) { return a != Access::Read; }
inline bool reads(Access a) { return a != Access::Write; }

struct KernelLaunch {
    static constexpr size_t kMaxPushBytes = 128; // Vulkan's guaranteed minimum

    std::string_view shader;                     // shaders/<shader>.comp
    std::array<uint32_t, 3> workgroup{64, 1, 1}; // specialization constants 0..2 (local_size_*_id)
    std::vector<uint32_t> constants;             // specialization constants 3, 4, ...
    std::vector<Access> args;                    // binding i is argument i
    std::array<uint32_t, 3> groups{1, 1, 1};     // vkCmdDispatch grid
    std::array<std::byte, kMaxPushBytes> push{};
    uint32_t push_size = 0;

    template <typename T>
    void set_push(const T& value) {
        static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= kMaxPushBytes && sizeof(T) % 4 == 0);
        std::memcpy(push.data(), &value, sizeof(T));
        push_size = sizeof(T);
    }

    // Specialization constants in id order: workgroup size first.
    std::vector<uint32_t> specialization() const {
        std::vector<uint32_t> s(workgroup.begin(), workgroup.end());
        s.insert(s.end(), constants.begin(), constants.end());
        return s;
    }
};

// The device's kernel tuning, as graph lowerings and ops see it: how
// matrix-product kernels (linear, convolution as implicit GEMM) tile their
// output, and which optional shader paths the device can run. The Vulkan
// backend fills it from its quirk table; ops turn it into specialization
// constants or shader variants. (Named for its first member; lowerings
// everywhere take it, so it keeps the name.)
struct GemmTuning {
    // On GPUs shared-memory tiles pay off; on lavapipe a 512^3 product ran at
    // 2.4 GFLOP/s with 64x64 shared tiles but 11.7 with register blocking only.
    bool shared_memory_tiles = true;
    uint32_t tile_m = 64, tile_n = 64; // outputs per workgroup
    // Workgroup reductions (batch-norm statistics and gradients, sums) may use
    // subgroup arithmetic: the device has it in compute shaders and
    // VKCNN_DISABLE_FEATURES does not mask it. False: the portable
    // shared-memory trees, which every device runs.
    bool subgroup_reductions = false;
};

// Workgroups needed to cover n items with groups of `size`.
inline uint32_t groups_for(uint64_t n, uint32_t size) { return static_cast<uint32_t>((n + size - 1) / size); }

// The launch shape of shaders that loop over n elements with a grid stride
// (common.glsl's FOR_EACH_ELEMENT): 256 invocations a group, at most 4096
// groups, each invocation taking several elements. The caller sets the push
// constants, whose first member is n. Throws past 2^32 - 1 elements.
inline KernelLaunch grid_stride_launch(std::string_view shader, uint64_t n, std::vector<Access> args) {
    check(n <= 0xFFFFFFFFull, shader, ": ", n, " elements exceed 2^32 - 1");
    KernelLaunch l;
    l.shader = shader;
    l.workgroup = {256, 1, 1};
    l.args = std::move(args);
    l.groups = {groups_for(n, 256) < 4096 ? groups_for(n, 256) : 4096, 1, 1};
    return l;
}

} // namespace vkcnn
