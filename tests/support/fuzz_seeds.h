// The seeds a shape fuzzer runs: the one in $<rerun_env> (the rerun a failure
// prints), else `count` seeds from `base`. A slower driver's run passes
// --fuzz-cases=n (tests/CMakeLists.txt, for SwiftShader; tests/main.cpp reads
// it): n seeds that follow the default ones, so it takes fewer shapes but
// shapes no other run has tried.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace vkcnn::test {

// --fuzz-cases=n, 0 when not given.
inline uint32_t& fuzz_cases_option() {
    static uint32_t n = 0;
    return n;
}

inline std::vector<uint32_t> fuzz_seeds(const char* rerun_env, uint32_t base, uint32_t count) {
    const auto seed = [base](uint32_t i) { return base + i * 7919u; };
    if (const char* only = std::getenv(rerun_env); only && *only)
        return {static_cast<uint32_t>(std::strtoul(only, nullptr, 10))};
    uint32_t first = 0;
    if (fuzz_cases_option() > 0) {
        first = count;
        count = fuzz_cases_option();
    }
    std::vector<uint32_t> seeds;
    for (uint32_t i = first; i < first + count; ++i) seeds.push_back(seed(i));
    return seeds;
}

} // namespace vkcnn::test
