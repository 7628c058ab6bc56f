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

#include <memory>
#include <string>
#include <vector>

namespace vkcnn::vulkan {

struct Pipeline; // pipeline.h (private)

struct StepDispatch {
    KernelLaunch launch;
    std::vector<BufferRange> args; // args[i] binds to binding i, accessed as launch.args[i]
    std::string label;             // debug-utils label (the graph node's name)
    double work = 0;               // estimated cost (FLOPs), for splitting long steps
};

// A copy recorded around the dispatches of a step: feeds in from a staging
// buffer before them, results out to a readback buffer after them.
struct StepCopy {
    BufferRange src, dst; // same size
};
struct StepSlot {
    std::vector<StepCopy> before, after;
};

struct RecordOptions {
    // Debug schedule: the given order, a full barrier after every dispatch.
    bool full_barriers = false;
    // A timestamp after every dispatch (needs timestamps on the compute
    // queue: DeviceInfo::timestamp_period_ns > 0, else an error), written
    // both by submit() and by record() into a host's command buffer.
    bool timestamps = false;
    // Split the step into segments of at most this much estimated work
    // (StepDispatch::work; a hazard level is never split), each its own
    // command buffer, so that no single command buffer runs long enough to
    // trip a driver's watchdog and a host with a frame budget can submit a
    // step in parts. 0: one segment.
    double max_segment_work = 0;
    // The step is recorded once per slot, each with its own copies, so that
    // a host fills slot 1's staging buffer while the step runs from slot 0
    // (double buffering). Default: one slot, no copies.
    std::vector<StepSlot> slots = {StepSlot{}};
};

class RecordedStep {
public:
    RecordedStep(Device& device, std::vector<StepDispatch> dispatches, RecordOptions options = {});
    ~RecordedStep();
    RecordedStep(const RecordedStep&) = delete;
    RecordedStep& operator=(const RecordedStep&) = delete;

    // submit(0), then wait(0).
    void run();
    // One vkQueueSubmit of the slot's recording, all segments in order;
    // returns at once. The slot must not be pending (wait() for it first).
    void submit(uint32_t slot = 0, const SubmitSync& sync = {});
    // Segments [first, first + count) only, for a host that spreads a step
    // over frames: segments must be submitted in order, and the slot becomes
    // pending with its last one. Each submission orders after all earlier
    // work on the queue, so the parts need no semaphores between them.
    void submit_segments(uint32_t slot, size_t first, size_t count, const SubmitSync& sync = {});
    // Blocks until the slot's last submission has finished (no-op if none).
    void wait(uint32_t slot);
    bool pending(uint32_t slot) const {
        check(slot < pending_.size(), "RecordedStep::pending: slot ", slot, " of ", pending_.size());
        return pending_[slot];
    }

    // Records the whole step with the slot's copies into a host's command
    // buffer, which the host submits itself: a primary command buffer of
    // Device::queue_family(), outside a render pass. Our pipelines and
    // descriptor sets stay valid for this object's lifetime; the host's
    // compute pipeline and descriptor bindings are disturbed. As with
    // submit(), the slot's staging memory must not be rewritten while the
    // host's submission runs, and the slot must not be pending on our queue.
    // With RecordOptions::timestamps it also resets the slot's queries (in
    // `cmd`: the host needs no extra call) and writes them, for
    // dispatch_microseconds(slot).
    void record(VkCommandBuffer cmd, uint32_t slot = 0) const;

    size_t dispatch_count() const { return dispatches_.size(); }
    // Barriers recorded per run: one on entry (orders this run after earlier
    // work on the queue and host writes), one between consecutive levels,
    // and one after each slot's copies in and one before its copies out.
    size_t barrier_count() const { return barriers_; }
    size_t submit_count() const { return submits_; }
    size_t segment_count() const { return segment_level_.size() - 1; }
    double segment_work(size_t segment) const {
        check(segment < segment_work_.size(), "RecordedStep::segment_work: segment ", segment, " of ", segment_work_.size());
        return segment_work_[segment];
    }
    size_t slot_count() const { return slots_.size(); }
    const std::vector<uint32_t>& order() const { return order_; } // dispatch indices as recorded

    // With RecordOptions::timestamps: GPU time of each dispatch (indexed as
    // given, not as recorded) in the last run waited for, in microseconds. A
    // dispatch's time runs from the completion of the dispatch recorded
    // before it to its own: exact where dispatches run one after another
    // (lavapipe); where a GPU overlaps the dispatches of one level, the
    // level's time is shared out in completion order.
    std::vector<double> dispatch_microseconds() const;
    // The same for the last run of slot `slot`, whoever submitted it: after
    // wait(slot) for submit(), or, for a step record()ed into a host's
    // command buffer, once the host's submission has completed (its fence
    // or timeline semaphore says so) — the host promises that; a run still
    // pending blocks this call until it finishes (VK_QUERY_RESULT_WAIT_BIT),
    // and one never submitted would block it for ever.
    std::vector<double> dispatch_microseconds(uint32_t slot) const;

private:
    // Appends segment `segment` of the step with slot `slot`'s copies to `cmd`.
    void record_segment(VkCommandBuffer cmd, uint32_t slot, size_t segment, VkQueryPool timestamps) const;
    VkQueryPool timestamp_pool(uint32_t slot) const; // VK_NULL_HANDLE without timestamps
    std::vector<double> microseconds(uint32_t slot) const;

    struct Objects; // the command pool, descriptor pool, fences and query pools we own (recorded_step.cpp)

    Device& device_;
    std::vector<StepDispatch> dispatches_;
    std::vector<const Pipeline*> pipelines_;
    std::vector<VkDescriptorSet> sets_; // per dispatch, written once
    std::vector<StepSlot> slots_;
    std::vector<uint32_t> order_;
    std::vector<uint32_t> level_begin_;   // positions in order_ where levels start, plus the end
    std::vector<uint32_t> segment_level_; // levels where segments start, plus the level count
    std::vector<double> segment_work_;
    std::unique_ptr<Objects> objects_;
    std::vector<std::vector<VkCommandBuffer>> cmds_; // per slot, per segment (freed with the pool)
    bool timestamps_ = false; // Objects holds a query pool per slot (dispatches + 1 queries)
    mutable std::vector<bool> ran_; // per slot: its queries were written (submitted or recorded)
    std::vector<bool> pending_;
    std::vector<size_t> next_segment_; // per slot: the segment a partial submission continues with
    uint32_t last_waited_ = 0;
    size_t barriers_ = 0, submits_ = 0;
};

} // namespace vkcnn::vulkan
