// The arena planner: values alive at the same time never share bytes, and
// values that are not do, so the arena is far below the naive sum.
#include "vkcnn/graph/memory_plan.h"

#include "vkcnn/core/error.h"

#include <doctest/doctest.h>

#include <random>

using namespace vkcnn::graph;

namespace {

void check_valid(const std::vector<Lifetime>& values, const MemoryPlan& plan, uint64_t alignment) {
    REQUIRE(plan.offsets.size() == values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        CHECK(plan.offsets[i] % alignment == 0);
        CHECK(plan.offsets[i] + values[i].bytes <= plan.arena_bytes);
        for (size_t j = i + 1; j < values.size(); ++j) {
            const bool live_together = values[i].first <= values[j].last && values[j].first <= values[i].last;
            const bool share_bytes = plan.offsets[i] < plan.offsets[j] + values[j].bytes &&
                                     plan.offsets[j] < plan.offsets[i] + values[i].bytes;
            if (live_together && share_bytes) FAIL_CHECK("values " << i << " and " << j << " are alive together and overlap");
        }
    }
    CHECK(plan.arena_bytes <= plan.naive_bytes);
}

} // namespace

TEST_CASE("graph/memory_plan: a chain needs two slots") {
    std::vector<Lifetime> chain;
    for (uint32_t i = 0; i < 10; ++i) chain.push_back({1000, i, i + 1}); // each value read by the next step only
    const auto plan = plan_memory(chain, 256);
    check_valid(chain, plan, 256);
    CHECK(plan.arena_bytes == 2 * 1024);
    CHECK(plan.naive_bytes == 10 * 1024);
    const auto debug = plan_memory_without_reuse(chain, 256);
    check_valid(chain, debug, 256);
    CHECK(debug.arena_bytes == debug.naive_bytes);
}

TEST_CASE("graph/memory_plan: a value alive throughout is never overwritten") {
    std::vector<Lifetime> v = {{4096, 0, 9}, {100, 1, 2}, {100, 3, 4}, {8000, 5, 6}, {0, 7, 7}};
    const auto plan = plan_memory(v, 64);
    check_valid(v, plan, 64);
    CHECK(plan.arena_bytes == 4096 + 8000); // the 100-byte values reuse the 8000-byte one's bytes
    CHECK(plan.offsets[4] == 0); // empty: takes no space
}

TEST_CASE("graph/memory_plan: random lifetimes are always valid") {
    std::mt19937 rng(42);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<Lifetime> v(1 + rng() % 40);
        for (auto& l : v) {
            l.first = rng() % 30;
            l.last = l.first + rng() % 8;
            l.bytes = rng() % 5000;
        }
        const uint64_t alignment = uint64_t{1} << (rng() % 9);
        const auto plan = plan_memory(v, alignment);
        CAPTURE(trial);
        check_valid(v, plan, alignment);
    }
}

TEST_CASE("graph/memory_plan: bad input is an error") {
    CHECK_THROWS_WITH(plan_memory({{16, 5, 3}}, 16), doctest::Contains("value 0 is last used at 3 before it is written at 5"));
    CHECK_THROWS_WITH(plan_memory({{16, 0, 1}}, 24), doctest::Contains("not a power of two"));
}
