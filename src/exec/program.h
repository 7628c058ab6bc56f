// A compiled step, whichever backend runs it: values are written and read
// by name (inputs and persistent values before a run; anything the plan
// keeps after it), and run() executes the whole step. CpuProgram and
// VulkanProgram implement it; the trainer, the demos and the visualisations
// are written against this interface. Persistent values live in the
// program's State (state.h), shared with every other program bound to it.
#pragma once

#include "vkcnn/exec/state.h"
#include "vkcnn/graph/compile.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vkcnn::exec {

// What one step handed back: its CompileOptions::results, by name.
class StepResults {
public:
    std::vector<float> read(std::string_view name) const;
    std::vector<int32_t> read_i32(std::string_view name) const;

private:
    friend class Program;
    std::span<const std::byte> bytes_of(std::string_view name, DType dtype) const;
    const graph::Plan* plan_ = nullptr;
    std::vector<std::vector<std::byte>> bytes_; // per Plan::results entry
};

// Copies of chosen values of a program, taken at the end of a step on
// request and left alone by every later step: what a renderer draws from
// (or the host reads) while training goes on. take() copies the values as
// the step started last leaves them — on Vulkan a copy queued behind that
// step, so the host does not wait — and the copy stays as it is until the
// next take(). A renderer that samples it on the GPU while take() may run
// again alternates two snapshots. A Snapshot must not outlive its program.
class Snapshot {
public:
    virtual ~Snapshot() = default;
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;

    virtual void take() = 0;
    // The value as of the last take() (zeros before the first); waits for
    // that copy only.
    std::vector<float> read(std::string_view name) const;
    const std::vector<std::string>& names() const { return names_; }
    uint64_t takes() const { return takes_; }

protected:
    Snapshot(std::vector<std::string> names, std::vector<int64_t> elements)
        : names_(std::move(names)), elements_(std::move(elements)) {}
    size_t index_of(std::string_view name) const;
    virtual void read_bytes(size_t index, std::span<std::byte> data) const = 0;
    std::vector<std::string> names_;
    std::vector<int64_t> elements_;
    uint64_t takes_ = 0;
};

class Program {
public:
    virtual ~Program();
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    // The element type must be the value's (i32 for class labels); sizes must match.
    void write(std::string_view name, std::span<const float> data);
    void write(std::string_view name, std::span<const int32_t> data);
    std::vector<float> read(std::string_view name) const;
    std::vector<int32_t> read_i32(std::string_view name) const;
    // Runs one step and waits for it.
    virtual void run() = 0;

    // Pipelined stepping, so that the host never waits for the device in the
    // middle of training: enqueue() starts a step on the inputs written so
    // far and returns at once; inputs written after it belong to the next
    // step (the Vulkan backend double-buffers them, so writing them does not
    // wait). finish() waits for the oldest enqueued step and returns its
    // results as that step left them. Reading or writing any other value
    // first waits for every enqueued step (their results stay collectable).
    void enqueue();
    StepResults finish();
    size_t in_flight() const { return in_flight_; }

    // A snapshot of these values (kept ones: inputs, persistent values,
    // values the plan keeps), by name; none is copied until take(). The
    // snapshot reads them by `labels` when given (one per name).
    std::unique_ptr<Snapshot> snapshot(std::span<const std::string> names, std::span<const std::string> labels = {});

    const graph::Plan& plan() const { return plan_; }
    State& state() const { return *state_; }
    const std::shared_ptr<State>& shared_state() const { return state_; }

protected:
    // Binds the plan's persistent values to `state` (a fresh one of the
    // backend's kind when the caller gives none: see the executors).
    Program(graph::Plan plan, std::shared_ptr<State> state);
    // Waits for every step in flight (their results stay collectable).
    virtual void settle() const = 0;
    // Results as finish() hands them back, from per-result bytes.
    StepResults make_results(std::vector<std::vector<std::byte>> bytes) const;
    // The backend's snapshot of checked values, read back by `labels`.
    virtual std::unique_ptr<Snapshot> make_snapshot(const std::vector<graph::ValueId>& values,
                                                    std::vector<std::string> labels) = 0;
    // The value's state entry (persistent values only).
    size_t state_entry(graph::ValueId v) const { return state_entry_[plan_.home[v]]; }
    // The value's bytes, after the name, kind, size and type were checked
    // (never persistent values: those are the State's).
    virtual void write_bytes(graph::ValueId v, std::span<const std::byte> data) = 0;
    virtual void read_bytes(graph::ValueId v, std::span<std::byte> data) const = 0;
    virtual void enqueue_step() = 0;
    // The oldest enqueued step's results, per Plan::results entry.
    virtual std::vector<std::vector<std::byte>> finish_step() = 0;

    graph::Plan plan_;

private:
    friend class State;
    size_t elements_of(std::string_view name) const;
    std::shared_ptr<State> state_;
    std::vector<size_t> state_entry_; // per value id
    size_t in_flight_ = 0;
};

} // namespace vkcnn::exec
