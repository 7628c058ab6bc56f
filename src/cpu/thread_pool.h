// The CPU backend's worker threads. parallel_for cuts an index range into a
// partition that depends only on the range and the pool size, so kernels that
// reduce per chunk give the same bits on every run with the same pool size.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace vkcnn::cpu {

class ThreadPool {
public:
    // threads: how many threads work in parallel_for, the caller included.
    // 0 = std::thread::hardware_concurrency(); 1 = no workers, all on the caller.
    // Under Emscripten without pthreads there are never workers (size() == 1).
    // Throws vkcnn::Error naming the thread when the system refuses one.
    explicit ThreadPool(unsigned threads = 0);
    ~ThreadPool(); // joins the workers
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    // Threads that work in parallel_for, caller included.
    unsigned size() const { return size_; }

    // Calls body(begin, end) on min(n, size()) contiguous chunks that cover [0, n)
    // exactly once; chunk i is [i*q + min(i, r), ...) with q = n / chunks,
    // r = n % chunks. The caller works on chunks too and returns when all are
    // done. If bodies throw, every chunk still runs to its end and then the
    // exception of the lowest-numbered failing chunk is rethrown here.
    // From inside a body (of any pool) the chunks run one after another on the
    // calling thread, with the same partition, so nesting cannot deadlock.
    // Calls from several outside threads at once are serialised.
    void parallel_for(size_t n, const std::function<void(size_t begin, size_t end)>& body);

private:
    struct State; // threads, locks and the current job; absent without threads

    unsigned size_ = 1;
    std::unique_ptr<State> state_;
};

} // namespace vkcnn::cpu
