// Barrier levels from byte-range hazards: dependent dispatches land in later
// levels, independent ones share a level, and every hazard kind is seen.
#include "vkcnn/core/hazards.h"

#include <doctest/doctest.h>

#include <random>

using namespace vkcnn;

namespace {

DispatchAccess access(std::vector<ByteRange> reads, std::vector<ByteRange> writes) { return {std::move(reads), std::move(writes)}; }

} // namespace

TEST_CASE("core/hazards: RAW, WAW and WAR each force a barrier, disjoint ranges do not") {
    const ByteRange a{0, 0, 100}, a_tail{0, 50, 150}, b{0, 200, 300}, other_buffer{1, 0, 100};
    CHECK(must_wait(access({a}, {}), access({}, {a_tail})));  // RAW
    CHECK(must_wait(access({}, {a}), access({}, {a_tail})));  // WAW
    CHECK(must_wait(access({}, {a}), access({a_tail}, {})));  // WAR
    CHECK(!must_wait(access({a}, {}), access({a}, {})));      // read after read
    CHECK(must_wait(access({a}, {b}), access({b}, {}))); // WAR on b
    CHECK(!must_wait(access({}, {a}), access({}, {other_buffer})));
    CHECK(!must_wait(access({}, {ByteRange{0, 100, 200}}), access({}, {a}))); // touching, not overlapping
}

TEST_CASE("core/hazards: a chain is one level per dispatch, a fan-out is one level") {
    std::vector<DispatchAccess> chain;
    for (uint32_t i = 0; i < 5; ++i) chain.push_back(access({{0, i * 64, i * 64 + 64}}, {{0, (i + 1) * 64, (i + 2) * 64}}));
    auto plan = plan_barriers(chain);
    CHECK(plan.barriers() == 4);
    for (uint32_t i = 0; i < 5; ++i) CHECK(plan.level[i] == i);

    std::vector<DispatchAccess> fan;
    for (uint32_t i = 0; i < 5; ++i) fan.push_back(access({{0, 0, 64}}, {{1, i * 64, i * 64 + 64}}));
    plan = plan_barriers(fan);
    CHECK(plan.barriers() == 0);
    CHECK(plan_barriers({}).barriers() == 0);
}

TEST_CASE("core/hazards: independent work is pulled into earlier levels") {
    // x -> y -> z, and an unrelated w -> v recorded last: it joins level 0.
    std::vector<DispatchAccess> d = {access({{0, 0, 8}}, {{0, 8, 16}}), access({{0, 8, 16}}, {{0, 16, 24}}),
                                     access({{1, 0, 8}}, {{1, 8, 16}})};
    const auto plan = plan_barriers(d);
    CHECK(plan.level == std::vector<uint32_t>{0, 1, 0});
    CHECK(plan.order == std::vector<uint32_t>{0, 2, 1});
    CHECK(plan.barriers() == 1);
}

TEST_CASE("core/hazards: random programs keep every hazard ordered") {
    std::mt19937 rng(7);
    for (int trial = 0; trial < 100; ++trial) {
        std::vector<DispatchAccess> d(1 + rng() % 30);
        auto range = [&] {
            const uint64_t begin = rng() % 1000;
            return ByteRange{uint64_t{rng() % 3}, begin, begin + 1 + rng() % 100};
        };
        for (auto& x : d) {
            for (unsigned k = rng() % 3; k-- > 0;) x.reads.push_back(range());
            for (unsigned k = 1 + rng() % 2; k-- > 0;) x.writes.push_back(range());
        }
        const auto plan = plan_barriers(d);
        CAPTURE(trial);
        for (size_t j = 0; j < d.size(); ++j)
            for (size_t i = 0; i < j; ++i)
                if (must_wait(d[j], d[i])) CHECK(plan.level[j] > plan.level[i]);
        // The order lists every dispatch once, levels non-decreasing.
        std::vector<int> seen(d.size());
        for (size_t k = 0; k < plan.order.size(); ++k) {
            ++seen[plan.order[k]];
            if (k) CHECK(plan.level[plan.order[k - 1]] <= plan.level[plan.order[k]]);
        }
        for (int s : seen) CHECK(s == 1);
    }
}
