// A compiled step on a Vulkan device: feeds, persistent values and the arena
// in three buffers, every node lowered to its kernels, the whole step
// recorded once (vulkan::RecordedStep) and replayed by run() with one submit.
#pragma once

#include "vkcnn/exec/profile.h"
#include "vkcnn/exec/program.h"
#include "vkcnn/vulkan/recorded_step.h"

#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace vkcnn::exec {

struct VulkanProgramOptions {
    // Debug schedule: a full barrier after every dispatch and no arena reuse
    // (compile with CompileOptions::in_place = false too, for no reuse at all).
    // Results must be bitwise identical to the optimised schedule.
    bool debug_schedule = false;
    // Timestamps around every dispatch, for profile(); costs a little GPU time.
    bool profile = false;
};

struct ProgramStats {
    size_t dispatches = 0;
    size_t barriers = 0;          // per run
    uint64_t arena_bytes = 0;     // transient values and temporaries, packed
    uint64_t naive_bytes = 0;     // the same without reuse
    uint64_t persistent_bytes = 0;
};

class VulkanProgram final : public Program {
public:
    VulkanProgram(Device& device, graph::Plan plan, VulkanProgramOptions options = {});

    void run() override;

    const ProgramStats& stats() const { return stats_; }
    size_t submit_count() const { return step_->submit_count(); }
    // Where a value lives, for a renderer that samples it directly.
    vulkan::BufferRange buffer_of(std::string_view name) const;
    // With VulkanProgramOptions::profile: each node's GPU time in the last run.
    std::vector<NodeTime> profile() const;

private:
    void write_bytes(graph::ValueId v, std::span<const std::byte> data) override;
    void read_bytes(graph::ValueId v, std::span<std::byte> data) const override;
    vulkan::BufferRange range_of(graph::ValueId v) const;

    Device& device_;
    std::vector<const vulkan::Buffer*> buffer_; // per value: its buffer
    std::vector<uint64_t> offset_;            // per value: offset in that buffer
    vulkan::Buffer feeds_, persistent_, arena_;
    std::unique_ptr<vulkan::RecordedStep> step_;
    std::vector<uint32_t> dispatch_node_; // per dispatch: the node it belongs to
    ProgramStats stats_;
};

} // namespace vkcnn::exec
