// A compiled step on a Vulkan device: feeds, persistent values and the arena
// in three buffers, every node lowered to its kernels, the whole step
// recorded once (vulkan::RecordedStep) and replayed by run() with one submit.
//
// Feeds are written into a host copy and staged, per step, into one of two
// upload slots that the step's recording copies from; the step's results are
// copied out into that slot's readback buffer. So the host prepares step n+1
// while step n runs (enqueue / finish) and reads step n's loss without
// waiting for step n+1.
#pragma once

#include "vkcnn/exec/profile.h"
#include "vkcnn/exec/program.h"
#include "vkcnn/exec/vulkan_state.h"
#include "vkcnn/vulkan/recorded_step.h"

#include <deque>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace vkcnn::graph {
struct StepGroup;
}

namespace vkcnn::exec {

struct VulkanProgramOptions {
    // Debug schedule: a full barrier after every dispatch and no arena reuse
    // (compile with CompileOptions::in_place = false too, for no reuse at all).
    // Results must be bitwise identical to the optimised schedule.
    bool debug_schedule = false;
    // Timestamps around every dispatch, for profile(); costs a little GPU time.
    bool profile = false;
    // Split the step into submissions of at most this many estimated FLOPs
    // (graph/work.h), so that no command buffer runs long enough to trip a
    // driver watchdog; 0: one command buffer. All of a step's command
    // buffers still go in one vkQueueSubmit unless the host submits them
    // in parts (submit_segments).
    double max_segment_flops = 0;
};

struct ProgramStats {
    size_t dispatches = 0;
    size_t barriers = 0;          // per run
    uint64_t arena_bytes = 0;     // transient values and temporaries, packed
    uint64_t naive_bytes = 0;     // the same without reuse
    uint64_t persistent_bytes = 0;
};

// A Snapshot in one device buffer: take() queues a copy of the values behind
// the last step submitted and returns at once; read() waits for that copy.
// A renderer binds buffer_of(name) — on our queue, or on its own after
// take(sync) signalled its semaphore (and, for another queue family, the
// ownership transfer of vulkan/ownership.h).
class VulkanSnapshot final : public Snapshot {
public:
    VulkanSnapshot(Device& device, std::vector<std::string> names, std::vector<vulkan::BufferRange> sources);
    ~VulkanSnapshot() override;
    void take() override { take({}); }
    void take(const SubmitSync& sync);
    // Waits for the last take()'s copy.
    void wait();
    vulkan::BufferRange buffer_of(std::string_view name) const;

private:
    void read_bytes(size_t index, std::span<std::byte> data) const override;
    Device& device_;
    vulkan::Buffer buffer_;
    std::vector<uint64_t> offsets_;
    std::unique_ptr<vulkan::RecordedStep> copy_;
};

class VulkanProgram final : public Program {
public:
    // Binds to `state` (shared with other programs of the same network, on
    // the same device), or to a State of its own.
    VulkanProgram(Device& device, graph::Plan plan, VulkanProgramOptions options = {},
                  std::shared_ptr<VulkanState> state = nullptr);

    ~VulkanProgram() override;

    void run() override;
    // snapshot(), with the device buffer a renderer binds.
    std::unique_ptr<VulkanSnapshot> device_snapshot(std::span<const std::string> names,
                                                    std::span<const std::string> labels = {});

    // For a host application that schedules our work itself, on the device
    // it lent us (Device::adopt). stage() copies the inputs written so far
    // into upload slot `slot` (0 or 1) for a step recorded or submitted with
    // that slot; the slot must not be in use by the device.
    void stage(uint32_t slot);
    // Records a whole step reading slot `slot` into the host's command buffer.
    void record(VkCommandBuffer cmd, uint32_t slot) const;
    // Submits a step from slot `slot` on our queue, ordered by the host's
    // (timeline) semaphores, and returns at once; wait(slot) waits for it.
    // Segments [first, first + count) only, to spread a step over frames:
    // segment_flops() says what each costs.
    void submit(uint32_t slot, const SubmitSync& sync = {});
    void submit_segments(uint32_t slot, size_t first, size_t count, const SubmitSync& sync = {});
    void wait(uint32_t slot);
    // The results of the step that ran from `slot` (submitted by the host, or
    // recorded into its command buffer and known by the host to be done).
    StepResults results(uint32_t slot);
    size_t segment_count() const { return step_->segment_count(); }
    double segment_flops(size_t segment) const { return step_->segment_work(segment); }
    double step_flops() const;
    // How many segments from `first` fit a frame's budget of estimated FLOPs
    // (at least one, at most the rest): a host that timed a whole step turns
    // its per-frame time budget into FLOPs with step_flops() / that time.
    size_t segments_within(size_t first, double flops_budget) const;

    const ProgramStats& stats() const { return stats_; }
    size_t submit_count() const { return step_->submit_count(); }
    // Where a value lives, for a renderer that samples it directly.
    vulkan::BufferRange buffer_of(std::string_view name) const;
    // With VulkanProgramOptions::profile: each node's GPU time in the last run.
    std::vector<NodeTime> profile() const;
    // The same for the step that ran from `slot` — one the host recorded
    // into its own command buffer (record() writes the timestamps too) and
    // knows to be done.
    std::vector<NodeTime> profile(uint32_t slot) const;

private:
    void write_bytes(graph::ValueId v, std::span<const std::byte> data) override;
    void read_bytes(graph::ValueId v, std::span<std::byte> data) const override;
    void enqueue_step() override;
    std::vector<std::vector<std::byte>> finish_step() override;
    vulkan::BufferRange range_of(graph::ValueId v) const;
    void settle() const override;
    std::vector<NodeTime> profile_of(const std::vector<double>& dispatch_us) const;
    std::unique_ptr<Snapshot> make_snapshot(const std::vector<graph::ValueId>& values,
                                            std::vector<std::string> labels) override;
    // One multi-tensor dispatch for a group of optimizer steps (its table in step_tables_).
    void append_fused_steps(const graph::StepGroup& group, uint64_t alignment,
                            std::vector<vulkan::StepDispatch>& dispatches);
    std::vector<std::vector<std::byte>> collect(uint32_t slot) const;

    static constexpr uint32_t kSlots = 2;
    Device& device_;
    std::vector<const vulkan::Buffer*> buffer_; // per value: its buffer
    std::vector<uint64_t> offset_;            // per value: offset in that buffer
    vulkan::Buffer feeds_, arena_; // persistent values are the State's
    std::vector<std::byte> feed_bytes_;                 // what the host wrote, staged per step
    vulkan::Buffer staging_[kSlots], readback_[kSlots]; // upload and readback slots
    std::vector<uint64_t> result_offset_;               // per Plan::results entry, in readback_
    std::deque<vulkan::Buffer> step_tables_;            // fused optimizer steps' tables (deque: stable addresses)
    // Pipelining: slots of enqueued steps, oldest first; results collected
    // early (before a read or write that had to wait); the next slot to use.
    mutable std::deque<uint32_t> in_flight_;
    mutable std::deque<std::vector<std::vector<std::byte>>> collected_;
    uint32_t next_slot_ = 0;
    std::unique_ptr<vulkan::RecordedStep> step_;
    std::vector<uint32_t> dispatch_node_; // per dispatch: the node it belongs to (a fused step: the last)
    struct FusedSteps {
        size_t dispatch, tensors;
        int64_t elements; // of all its parameters
    };
    std::vector<FusedSteps> fused_steps_; // dispatches that step several parameters
    ProgramStats stats_;
};

} // namespace vkcnn::exec
