// Comparison helpers for kernel tests: buffers pre-filled with NaN and
// wrapped in guard bands (an element never written, or written out of
// bounds, fails), and an allclose that reports the worst element.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ios>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::test {

// n floats surrounded by kGuard sentinel floats on each side.
struct Guarded {
    static constexpr size_t kGuard = 64;
    static constexpr uint32_t kSentinel = 0x7fc0dead; // a NaN with a recognisable payload
    std::vector<float> storage;

    explicit Guarded(size_t n) : storage(n + 2 * kGuard) {
        float s;
        std::memcpy(&s, &kSentinel, 4);
        std::fill(storage.begin(), storage.end(), s);
    }
    std::span<float> body() { return {storage.data() + kGuard, storage.size() - 2 * kGuard}; }
    std::span<float> all() { return storage; }
    // Every guard float still holds the sentinel?
    bool guards_intact() const {
        for (size_t i = 0; i < storage.size(); ++i) {
            if (i >= kGuard && i < storage.size() - kGuard) continue;
            uint32_t bits;
            std::memcpy(&bits, &storage[i], 4);
            if (bits != kSentinel) return false;
        }
        return true;
    }
};

inline uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

// Bit-for-bit equality (NaN payloads aside: any NaN matches any NaN).
inline void check_bitwise_equal(std::span<const float> got, std::span<const float> want, const std::string& what) {
    REQUIRE_MESSAGE(got.size() == want.size(), what << ": sizes differ");
    for (size_t i = 0; i < got.size(); ++i) {
        const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
        if (!both_nan && bits_of(got[i]) != bits_of(want[i])) {
            FAIL_CHECK(what << ": element " << i << " is " << got[i] << " (0x" << std::hex << bits_of(got[i])
                            << "), expected " << want[i] << " (0x" << bits_of(want[i]) << ")");
            return;
        }
    }
}

// |got - want| <= atol + rtol * |want| everywhere; reports the worst element.
inline void check_allclose(std::span<const float> got, std::span<const float> want, double atol, double rtol,
                           const std::string& what) {
    REQUIRE_MESSAGE(got.size() == want.size(), what << ": sizes differ");
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double g = got[i], w = want[i];
        const double excess = std::isnan(g) != std::isnan(w) ? INFINITY
                              : std::isnan(g)                ? 0.0
                                                             : std::abs(g - w) - (atol + rtol * std::abs(w));
        if (excess > worst) worst = excess, worst_i = i;
    }
    CHECK_MESSAGE(worst <= 0, what << ": worst element " << worst_i << " is " << got[worst_i] << ", expected "
                                   << want[worst_i] << " (atol " << atol << ", rtol " << rtol << ")");
}

// Small integers in [-4, 4], about half of them zero: sums stay exact in float.
inline std::vector<float> small_integers(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> v(-4, 4), zero(0, 1);
    std::vector<float> out(n);
    for (float& x : out) x = zero(rng) ? 0.0f : static_cast<float>(v(rng));
    return out;
}

inline std::vector<float> uniform(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> out(n);
    for (float& x : out) x = u(rng);
    return out;
}

} // namespace vkcnn::test
