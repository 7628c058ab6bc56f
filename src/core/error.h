// Errors vkcnn throws. The library never aborts or exits on a caller's mistake:
// every check throws one of these with a message that names the actual values
// ("relu_forward: x has 12 elements, y has 10"), so the caller can act on it.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace vkcnn {

// Base of everything the library throws.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// The Vulkan device was lost (driver reset, watchdog, hardware fault). The
// Device that raised it refuses further work; destroy it and create a new one.
class DeviceLostError : public Error {
public:
    using Error::Error;
};

// A memory request that cannot be met: device memory (what was asked for and
// what is left), or host memory where the library knows what a request is for
// (a file it reads whole, worker threads, a step's estimated needs). A bare
// std::bad_alloc from elsewhere is still out of memory; callers that print it
// say what they were doing (tools/vkcnn/main.cpp).
class OutOfMemoryError : public Error {
public:
    using Error::Error;
};

// No Vulkan loader, no driver or no usable device. The CPU backend still works.
class VulkanUnavailableError : public Error {
public:
    using Error::Error;
};

// Concatenates anything streamable into one string: cat("x has ", n, " elements").
template <typename... Args>
std::string cat(Args&&... args) {
    std::ostringstream s;
    (s << ... << std::forward<Args>(args));
    return s.str();
}

// Throws vkcnn::Error(cat(args...)) when cond is false.
template <typename... Args>
void check(bool cond, Args&&... args) {
    if (!cond) throw Error(cat(std::forward<Args>(args)...));
}

} // namespace vkcnn
