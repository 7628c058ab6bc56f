// compile(graph): the backend-independent half of turning a graph into a
// step that runs every batch — checks, the execution order, and each value's
// lifetime. The executors (src/exec) add their own temporaries, pack
// transient values into an arena with graph/memory_plan.h, and derive
// barriers with core/hazards.h.
#pragma once

#include "vkcnn/graph/graph.h"
#include "vkcnn/graph/memory_plan.h"

#include <string>
#include <vector>

namespace vkcnn::graph {

enum class Storage : uint8_t {
    Feed,       // inputs, written by the host before each run
    Persistent, // parameters, optimizer state, running statistics
    Transient,  // activations, gradients, temporaries: packed into the arena
};

struct CompileOptions {
    // Values that must stay readable after a run (by name), besides those the
    // graph marks as outputs (requested gradients) and those nothing consumes.
    std::vector<std::string> keep;
    // Small values (loss, accuracy count) that every step hands back to the
    // host, copied out as part of the step so that Program::finish() reads
    // them without waiting for later steps. Kept, too.
    std::vector<std::string> results;
    // Elementwise ops (relu, add, the activations and their backward) write
    // over an input that nothing reads later, instead of new memory.
    bool in_place = true;
};

struct Plan {
    Graph graph;
    std::vector<uint32_t> order;      // node indices in execution order
    std::vector<Storage> storage;     // per value
    std::vector<Lifetime> lifetimes;  // per value, in positions of `order`; meaningful for transient values
    std::vector<bool> kept;           // per value: readable after a run
    std::vector<ValueId> results;     // CompileOptions::results
    // Per value: the value whose memory it is — itself, the value a view
    // (reshape) views, or the input an in-place op overwrote. Storage,
    // lifetime and offset are the home's; the others' lifetimes are empty.
    std::vector<ValueId> home;
    uint64_t in_place_bytes = 0; // what in-place outputs would have taken on their own
};

// Throws an error naming the value or node for: an input that nothing uses,
// a transient value nothing produces, an unknown name in `keep`, an in-place
// update of a value that is not persistent.
Plan compile(Graph graph, const CompileOptions& options = {});

} // namespace vkcnn::graph
