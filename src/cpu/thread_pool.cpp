// ThreadPool: persistent workers sleeping on a condition variable, handed one
// job at a time; the caller takes chunks alongside them. Without threads
// (Emscripten without pthreads) only the inline path exists.
#include "vkcnn/cpu/thread_pool.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <exception>
#include <vector>

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define VKCNN_CPU_NO_THREADS 1
#else
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#endif

namespace vkcnn::cpu {

namespace {

// Nonzero while this thread runs a parallel_for body of any pool. A nested call
// then runs inline: waiting for workers that may all be busy in bodies that
// wait for us would deadlock, and waking threads for work inside already
// parallel work gains nothing.
thread_local unsigned t_body_depth = 0;

size_t chunk_begin(size_t n, size_t chunks, size_t i) {
    return i * (n / chunks) + std::min(i, n % chunks);
}

// Runs chunk i; an exception is kept for the caller instead of escaping a worker.
void run_chunk(const std::function<void(size_t, size_t)>& body, size_t n, size_t chunks, size_t i,
               std::exception_ptr& error) {
    ++t_body_depth;
    try {
        body(chunk_begin(n, chunks, i), chunk_begin(n, chunks, i + 1));
    } catch (...) {
        error = std::current_exception();
    }
    --t_body_depth;
}

void rethrow_first(const std::vector<std::exception_ptr>& errors) {
    for (const auto& e : errors)
        if (e) std::rethrow_exception(e);
}

void run_inline(size_t n, size_t chunks, const std::function<void(size_t, size_t)>& body) {
    std::vector<std::exception_ptr> errors(chunks);
    for (size_t i = 0; i < chunks; ++i) run_chunk(body, n, chunks, i, errors[i]);
    rethrow_first(errors);
}

} // namespace

#ifdef VKCNN_CPU_NO_THREADS

struct ThreadPool::State {};

ThreadPool::ThreadPool(unsigned) : size_(1) {}

ThreadPool::~ThreadPool() = default;

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& body) {
    if (n == 0) return;
    run_inline(n, 1, body);
}

#else

struct ThreadPool::State {
    std::mutex submit; // one job at a time when several outside threads call

    // Everything below is guarded by m.
    std::mutex m;
    std::condition_variable wake; // workers: a new job or stop
    std::condition_variable done; // caller: remaining reached 0
    uint64_t generation = 0;      // bumped per job, so a worker never re-runs one
    bool stop = false;
    const std::function<void(size_t, size_t)>* body = nullptr;
    size_t n = 0;
    size_t chunks = 0;
    size_t next = 0;      // first chunk nobody has taken
    size_t remaining = 0; // chunks not finished
    // One slot per chunk, each written only by the thread running that chunk.
    std::vector<std::exception_ptr> errors;

    std::vector<std::thread> workers;

    // Takes and runs chunks of the current job until none are left. Claiming a
    // chunk and reading the job happen under one lock, and the caller cannot
    // return before `remaining` drops, so a claimed chunk's job is still alive.
    void work(std::unique_lock<std::mutex>& lock) {
        while (next < chunks) {
            const size_t i = next++;
            const auto* b = body;
            const size_t job_n = n, job_chunks = chunks;
            std::exception_ptr& error = errors[i];
            lock.unlock();
            run_chunk(*b, job_n, job_chunks, i, error);
            lock.lock();
            if (--remaining == 0) done.notify_one();
        }
    }

    void worker_loop() {
        std::unique_lock lock(m);
        uint64_t seen = 0; // a job posted before this thread got here is still joined
        for (;;) {
            wake.wait(lock, [&] { return stop || generation != seen; });
            if (stop) return;
            seen = generation;
            work(lock);
        }
    }

    void shut_down() {
        {
            std::lock_guard lock(m);
            stop = true;
        }
        wake.notify_all();
        for (auto& t : workers) t.join();
        workers.clear();
    }
};

ThreadPool::ThreadPool(unsigned threads) : state_(std::make_unique<State>()) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    // std::thread throws std::system_error when the system refuses a thread
    // (EAGAIN: a ulimit -u, a container's pids limit, a huge `threads`).
    try {
        state_->workers.reserve(threads - 1);
        for (unsigned i = 1; i < threads; ++i) state_->workers.emplace_back([s = state_.get()] { s->worker_loop(); });
    } catch (const std::system_error& e) {
        const size_t started = state_->workers.size();
        state_->shut_down(); // the destructor will not run; the started workers must not outlive us
        throw Error(cat("ThreadPool: cannot start worker thread ", started + 1, " of ", threads - 1, " (", e.what(),
                        "); ask for fewer threads"));
    } catch (const std::bad_alloc&) {
        state_->shut_down();
        throw OutOfMemoryError(cat("ThreadPool: out of host memory for ", threads - 1, " worker threads"));
    } catch (...) {
        state_->shut_down();
        throw;
    }
    size_ = threads;
}

ThreadPool::~ThreadPool() { state_->shut_down(); }

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& body) {
    if (n == 0) return;
    const size_t chunks = std::min(n, size_t{size_});
    if (chunks == 1 || t_body_depth > 0) {
        run_inline(n, chunks, body);
        return;
    }

    State& s = *state_;
    std::lock_guard submit(s.submit);
    std::unique_lock lock(s.m);
    s.body = &body;
    s.n = n;
    s.chunks = chunks;
    s.next = 0;
    s.remaining = chunks;
    s.errors.assign(chunks, nullptr);
    ++s.generation;
    if (chunks - 1 == s.workers.size()) {
        s.wake.notify_all();
    } else {
        for (size_t i = 1; i < chunks; ++i) s.wake.notify_one();
    }
    s.work(lock);
    s.done.wait(lock, [&] { return s.remaining == 0; });
    s.body = nullptr;
    s.chunks = 0;
    const std::vector<std::exception_ptr> errors = std::move(s.errors);
    s.errors.clear();
    lock.unlock();
    rethrow_first(errors);
}

#endif

} // namespace vkcnn::cpu
