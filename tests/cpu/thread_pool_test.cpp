// ThreadPool: the partition parallel_for promises (exact cover, fixed per n and
// size), that workers really take part, exception propagation, nesting, the
// single-thread pool, and calls from several outside threads.
#include "vkcnn/cpu/thread_pool.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using vkcnn::cpu::ThreadPool;

namespace {

// Emscripten without pthreads has no threads: every pool is the caller alone.
bool have_threads() { return ThreadPool(2).size() == 2; }
#define REQUIRE_THREADS()                                                                                              \
    if (!have_threads()) {                                                                                             \
        MESSAGE("this build has no threads (WebAssembly without pthreads): skipped");                                \
        return;                                                                                                        \
    }

using Chunks = std::vector<std::pair<size_t, size_t>>;

// The chunks one parallel_for call hands out, sorted by begin.
Chunks chunks_of(ThreadPool& pool, size_t n) {
    std::mutex m;
    Chunks chunks;
    pool.parallel_for(n, [&](size_t begin, size_t end) {
        std::lock_guard lock(m);
        chunks.emplace_back(begin, end);
    });
    std::sort(chunks.begin(), chunks.end());
    return chunks;
}

// Waits (bounded, so a broken pool fails instead of hanging) until `count` reaches `target`.
bool wait_for(const std::atomic<size_t>& count, size_t target) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (count.load() < target) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

} // namespace

TEST_CASE("cpu/thread_pool: size") {
    CHECK(ThreadPool(1).size() == 1);
    if (!have_threads()) {
        CHECK(ThreadPool(3).size() == 1);
        CHECK(ThreadPool(0).size() == 1);
        return;
    }
    CHECK(ThreadPool(3).size() == 3);
    const unsigned hw = std::thread::hardware_concurrency();
    CHECK(ThreadPool(0).size() == std::max(1u, hw));
}

TEST_CASE("cpu/thread_pool: chunks cover 0..n exactly once, same partition every call") {
    for (unsigned threads : {1u, 2u, 3u, 4u, 7u}) {
        ThreadPool pool(threads);
        for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{7}, size_t{8},
                         size_t{100}, size_t{1001}}) {
            CAPTURE(threads);
            CAPTURE(n);
            std::vector<std::atomic<int>> hits(n);
            pool.parallel_for(n, [&](size_t begin, size_t end) {
                for (size_t i = begin; i < end; ++i) ++hits[i];
            });
            for (size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);

            const Chunks chunks = chunks_of(pool, n);
            CHECK(chunks.size() == std::min<size_t>(n, pool.size())); // size() is 1 without threads
            size_t next = 0, smallest = n, largest = 0;
            for (const auto& [begin, end] : chunks) {
                CHECK(begin == next);
                CHECK(end > begin);
                smallest = std::min(smallest, end - begin);
                largest = std::max(largest, end - begin);
                next = end;
            }
            CHECK(next == n);
            if (!chunks.empty()) CHECK(largest - smallest <= 1);
            for (int repeat = 0; repeat < 5; ++repeat) CHECK(chunks_of(pool, n) == chunks);
            // The partition depends on n and size only, not on the pool object.
            ThreadPool other(threads);
            CHECK(chunks_of(other, n) == chunks);
        }
    }
}

TEST_CASE("cpu/thread_pool: every thread takes part") {
    REQUIRE_THREADS();
    // Each chunk waits until all have started, which only finishes if
    // size() threads run chunks at the same time.
    ThreadPool pool(4);
    std::atomic<size_t> started{0};
    std::atomic<bool> all_started{true};
    std::mutex m;
    std::set<std::thread::id> ids;
    pool.parallel_for(4, [&](size_t, size_t) {
        {
            std::lock_guard lock(m);
            ids.insert(std::this_thread::get_id());
        }
        ++started;
        if (!wait_for(started, 4)) all_started = false;
    });
    CHECK(all_started.load());
    CHECK(ids.size() == 4);
    CHECK(ids.count(std::this_thread::get_id()) == 1); // the caller works too
}

TEST_CASE("cpu/thread_pool: an exception is rethrown after all chunks finish") {
    REQUIRE_THREADS();
    ThreadPool pool(4);
    std::atomic<int> finished{0};
    auto body = [&](size_t begin, size_t) {
        // chunks of 2: chunk 1 starts at 2, chunk 3 at 6
        if (begin == 6) throw std::runtime_error("chunk 3");
        if (begin == 2) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20)); // throws after chunk 3
            throw std::runtime_error("chunk 1");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ++finished;
    };
    std::string what;
    try {
        pool.parallel_for(8, body);
    } catch (const std::runtime_error& e) {
        what = e.what();
    }
    CHECK(what == "chunk 1"); // the lowest-numbered failing chunk, not the first to throw
    CHECK(finished.load() == 2);

    // The pool is still usable.
    std::atomic<size_t> sum{0};
    pool.parallel_for(100, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) sum += i;
    });
    CHECK(sum.load() == 4950);

    // Inline (size 1) and nested paths report the same way.
    ThreadPool one(1);
    CHECK_THROWS_WITH_AS(one.parallel_for(3, [](size_t, size_t) { throw std::runtime_error("inline"); }),
                         "inline", std::runtime_error);
}

TEST_CASE("cpu/thread_pool: nested parallel_for runs inline with the same partition") {
    REQUIRE_THREADS();
    ThreadPool pool(3);
    const Chunks top_level = chunks_of(pool, 10);
    std::atomic<size_t> total{0};
    std::atomic<bool> same_thread{true}, same_chunks{true};
    pool.parallel_for(3, [&](size_t, size_t) {
        const auto outer = std::this_thread::get_id();
        std::mutex m;
        Chunks inner;
        pool.parallel_for(10, [&](size_t begin, size_t end) {
            if (std::this_thread::get_id() != outer) same_thread = false;
            total += end - begin;
            std::lock_guard lock(m);
            inner.emplace_back(begin, end);
        });
        if (inner != top_level) same_chunks = false; // inline chunks run in order
        // Another pool from inside a body also runs inline rather than waiting on it.
        ThreadPool other(2);
        other.parallel_for(4, [&](size_t begin, size_t end) { total += end - begin; });
    });
    CHECK(total.load() == 3 * (10 + 4));
    CHECK(same_thread.load());
    CHECK(same_chunks.load());
}

TEST_CASE("cpu/thread_pool: size 1 runs everything on the caller") {
    ThreadPool pool(1);
    std::thread::id id;
    Chunks chunks;
    pool.parallel_for(17, [&](size_t begin, size_t end) {
        id = std::this_thread::get_id();
        chunks.emplace_back(begin, end);
    });
    CHECK(id == std::this_thread::get_id());
    CHECK(chunks == Chunks{{0, 17}});
}

TEST_CASE("cpu/thread_pool: many calls, and calls from several threads at once") {
    REQUIRE_THREADS();
    ThreadPool pool(4);
    for (size_t n = 0; n < 2000; ++n) {
        std::atomic<size_t> count{0};
        pool.parallel_for(n % 9, [&](size_t begin, size_t end) { count += end - begin; });
        REQUIRE(count.load() == n % 9);
    }

    std::atomic<size_t> total{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 3; ++t)
        callers.emplace_back([&] {
            for (int i = 0; i < 300; ++i)
                pool.parallel_for(50, [&](size_t begin, size_t end) { total += end - begin; });
        });
    for (auto& t : callers) t.join();
    CHECK(total.load() == 3 * 300 * 50);
}
