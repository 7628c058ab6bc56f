// A compiled step on the CPU backend: values in host memory (transients
// packed into an arena by the same memory plan as on a GPU), nodes run in
// order through the op's CPU kernel. Reference executor for the Vulkan one,
// and what the browser build runs.
#pragma once

#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/exec/profile.h"
#include "vkcnn/exec/program.h"

#include <deque>
#include <span>
#include <string_view>
#include <vector>

namespace vkcnn::exec {

class CpuProgram final : public Program {
public:
    // Binds to `state` (shared with other programs of the same network), or
    // to a State of its own.
    // profile: time every node with a clock (see profile()).
    CpuProgram(graph::Plan plan, cpu::ThreadPool& pool, std::shared_ptr<CpuState> state = nullptr,
               bool profile = false);

    void run() override;

    // With profile on: each node's wall time in the last run, slowest first.
    // A node's kernel runs on the whole pool and returns when it is done,
    // so the times add up to the step (less the loop's own overhead).
    std::vector<NodeTime> profile() const;

    uint64_t arena_bytes() const { return memory_.arena_bytes; }

private:
    void write_bytes(graph::ValueId v, std::span<const std::byte> data) override;
    void read_bytes(graph::ValueId v, std::span<std::byte> data) const override;
    // Runs at once (the CPU is the caller's thread pool), keeping the results.
    void enqueue_step() override;
    std::vector<std::vector<std::byte>> finish_step() override;
    std::unique_ptr<Snapshot> make_snapshot(const std::vector<graph::ValueId>& values,
                                            std::vector<std::string> labels) override;
    void settle() const override {} // every step has finished when enqueue() returns
    std::span<float> span_of(graph::ValueId v);
    std::span<const float> span_of(graph::ValueId v) const;

    cpu::ThreadPool& pool_;
    CpuState& values_;                         // persistent values, shared
    graph::MemoryPlan memory_;                 // transient values in arena_
    std::vector<float> arena_;
    std::vector<std::vector<float>> feeds_;    // per value id
    std::deque<std::vector<std::vector<std::byte>>> finished_; // results of enqueued steps
    bool profile_;
    std::vector<double> node_microseconds_; // with profile_: per plan_.order entry, the last run
};

} // namespace vkcnn::exec
