// sgemm against a double-precision reference: many shapes, all transposes,
// padded leading dimensions, alpha/beta, untouched guard bands and ld padding,
// an exact tier on small integers, bitwise equality across thread counts, the
// degenerate cases and argument checks. Every compiled kernel variant is run.
#include "vkcnn/cpu/gemm.h"

#include "vkcnn/core/error.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using vkcnn::cpu::GemmKernel;
using vkcnn::cpu::sgemm;
using vkcnn::cpu::ThreadPool;
using vkcnn::cpu::Trans;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kSentinel = -12345.678f;

// The variants this build and CPU can run, narrowest first.
std::vector<GemmKernel> kernels() {
    std::vector<GemmKernel> ks{GemmKernel::Generic};
    const GemmKernel before = vkcnn::cpu::sgemm_kernel();
    for (const GemmKernel k : {GemmKernel::Avx2Fma, GemmKernel::Avx512}) {
        try {
            vkcnn::cpu::set_sgemm_kernel(k);
            ks.push_back(k);
        } catch (const vkcnn::Error&) {
        }
    }
    vkcnn::cpu::set_sgemm_kernel(before);
    return ks;
}

// Selects a kernel for one scope and restores the default after.
struct KernelScope {
    GemmKernel saved = vkcnn::cpu::sgemm_kernel();
    explicit KernelScope(GemmKernel k) { vkcnn::cpu::set_sgemm_kernel(k); }
    ~KernelScope() { vkcnn::cpu::set_sgemm_kernel(saved); }
    KernelScope(const KernelScope&) = delete;
    KernelScope& operator=(const KernelScope&) = delete;
};

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// One problem with its operands laid out as sgemm sees them. Storage outside
// the logical matrices (ld padding, bands before and after C) holds NaN in A
// and B, so reading it shows up in C, and a sentinel in C, checked afterwards.
struct Case {
    size_t M, N, K;
    Trans ta = Trans::No, tb = Trans::No;
    size_t lda_pad = 0, ldb_pad = 0, ldc_pad = 0;
    float alpha = 1.0f, beta = 0.0f;
    bool integers = false; // values in [-4, 4], for the exact tier
    uint32_t seed = 1;

    size_t lda() const { return (ta == Trans::No ? K : M) + lda_pad; }
    size_t ldb() const { return (tb == Trans::No ? N : K) + ldb_pad; }
    size_t ldc() const { return N + ldc_pad; }
};

constexpr size_t kBand = 37; // guard elements before and after C

struct Operands {
    std::vector<float> a, b, c;   // c: band, M rows of ldc, band
    std::vector<float> c0;        // logical C before the call, (M, N)
    float& at_c(const Case& k, size_t i, size_t j) { return c[kBand + i * k.ldc() + j]; }
    float* c_ptr() { return c.data() + kBand; }
};

Operands make_operands(const Case& k) {
    std::mt19937 rng(k.seed);
    std::uniform_real_distribution<float> real(-1.0f, 1.0f);
    std::uniform_int_distribution<int> small(-4, 4);
    auto value = [&] { return k.integers ? static_cast<float>(small(rng)) : real(rng); };

    Operands o;
    const size_t a_rows = k.ta == Trans::No ? k.M : k.K, a_cols = k.ta == Trans::No ? k.K : k.M;
    const size_t b_rows = k.tb == Trans::No ? k.K : k.N, b_cols = k.tb == Trans::No ? k.N : k.K;
    o.a.assign(a_rows * k.lda(), kNaN);
    for (size_t r = 0; r < a_rows; ++r)
        for (size_t c = 0; c < a_cols; ++c) o.a[r * k.lda() + c] = value();
    o.b.assign(b_rows * k.ldb(), kNaN);
    for (size_t r = 0; r < b_rows; ++r)
        for (size_t c = 0; c < b_cols; ++c) o.b[r * k.ldb() + c] = value();
    o.c.assign(2 * kBand + k.M * k.ldc(), kSentinel);
    o.c0.resize(k.M * k.N);
    for (size_t i = 0; i < k.M; ++i)
        for (size_t j = 0; j < k.N; ++j) {
            o.c0[i * k.N + j] = k.beta == 0.0f ? kNaN : value(); // beta == 0 must not read C
            o.at_c(k, i, j) = o.c0[i * k.N + j];
        }
    return o;
}

void run(ThreadPool& pool, const Case& k, Operands& o) {
    sgemm(pool, k.ta, k.tb, k.M, k.N, k.K, k.alpha, o.a.data(), k.lda(), o.b.data(), k.ldb(), k.beta, o.c_ptr(),
          k.ldc());
}

// Runs the case and checks every element against a double-precision
// reference. Tolerance: a float dot product of length K is within
// K * 2^-24 * sum |a_ik b_kj| of the exact value, plus a few roundings for
// alpha, beta and the final add; the bound below is twice that.
void check_case(ThreadPool& pool, const Case& k) {
    Operands o = make_operands(k);
    const std::vector<float> a = o.a, b = o.b;
    run(pool, k, o);

    auto a_at = [&](size_t i, size_t p) { return k.ta == Trans::No ? a[i * k.lda() + p] : a[p * k.lda() + i]; };
    auto b_at = [&](size_t p, size_t j) { return k.tb == Trans::No ? b[p * k.ldb() + j] : b[j * k.ldb() + p]; };

    double worst = 0.0; // error / bound; exact tier: error itself
    size_t wi = 0, wj = 0;
    double w_got = 0, w_ref = 0, w_bound = 0;
    for (size_t i = 0; i < k.M; ++i)
        for (size_t j = 0; j < k.N; ++j) {
            double sum = 0.0, mag = 0.0;
            for (size_t p = 0; p < k.K; ++p) {
                const double ab = static_cast<double>(a_at(i, p)) * b_at(p, j);
                sum += ab;
                mag += std::fabs(ab);
            }
            const double c0 = o.c0[i * k.N + j];
            const double ref = k.alpha * sum + (k.beta == 0.0f ? 0.0 : k.beta * c0);
            const double scale = std::fabs(k.alpha) * mag + (k.beta == 0.0f ? 0.0 : std::fabs(k.beta * c0));
            const double bound = static_cast<double>(k.K + 4) * std::ldexp(1.0, -23) * scale;
            const double got = o.at_c(k, i, j);
            const double err = std::fabs(got - ref);
            double score;
            if (std::isnan(got)) score = std::numeric_limits<double>::infinity();
            else if (k.integers) score = err;
            else score = err == 0.0 ? 0.0 : (bound == 0.0 ? std::numeric_limits<double>::infinity() : err / bound);
            if (score > worst || (std::isinf(score) && !std::isinf(worst))) {
                worst = score;
                wi = i, wj = j, w_got = got, w_ref = ref, w_bound = bound;
            }
        }
    INFO("M=", k.M, " N=", k.N, " K=", k.K, " ta=", int(k.ta), " tb=", int(k.tb), " lda=", k.lda(),
         " ldb=", k.ldb(), " ldc=", k.ldc(), " alpha=", k.alpha, " beta=", k.beta,
         " kernel=", vkcnn::cpu::sgemm_kernel_name(vkcnn::cpu::sgemm_kernel()), " threads=", pool.size());
    INFO("worst at C(", wi, ", ", wj, "): got ", w_got, ", reference ", w_ref, ", bound ", w_bound,
         (k.integers ? " (exact tier)" : ""));
    if (k.integers) CHECK(worst == 0.0);
    else CHECK(worst <= 1.0);

    // Nothing outside the M x N window may change: bands and ld padding.
    size_t touched = 0;
    for (size_t x = 0; x < o.c.size(); ++x) {
        const bool inside = x >= kBand && x < kBand + k.M * k.ldc() && (x - kBand) % k.ldc() < k.N;
        if (!inside && !same_bits(o.c[x], kSentinel)) ++touched;
    }
    CHECK_MESSAGE(touched == 0, touched, " elements outside C were written");
}

const Trans kTrans[] = {Trans::No, Trans::Yes};

struct Shape {
    size_t M, N, K;
};

// Around every blocking edge: micro-tiles (6 x 8, 6 x 16), K blocks (256), the
// thread split, plus vectors, single columns and depth 1.
const Shape kShapes[] = {
    {1, 1, 1},     {7, 13, 29},   {1, 40, 33},   {1, 300, 7},   {45, 1, 19},   {300, 1, 70}, {9, 11, 1},
    {6, 8, 16},    {6, 16, 256},  {12, 32, 257}, {13, 17, 513}, {5, 7, 255},   {129, 67, 257},
    {64, 200, 77}, {300, 5, 40},  {2, 1000, 3},  {97, 33, 600},
};

struct Scalars {
    float alpha, beta;
};
const Scalars kScalars[] = {{1.0f, 0.0f}, {0.5f, -1.5f}, {-2.0f, 1.0f}};

} // namespace

TEST_CASE("cpu/sgemm: matches a double reference over shapes, transposes, ld, alpha/beta") {
    ThreadPool pool(4);
    for (GemmKernel kernel : kernels()) {
        KernelScope scope(kernel);
        uint32_t seed = 1;
        for (const Shape& s : kShapes)
            for (Trans ta : kTrans)
                for (Trans tb : kTrans)
                    for (size_t pad : {size_t{0}, size_t{3}})
                        for (const Scalars& sc : kScalars) {
                            Case k{s.M, s.N, s.K, ta, tb, pad, pad * 2, pad + 1, sc.alpha, sc.beta, false, seed++};
                            check_case(pool, k);
                        }
    }
}

TEST_CASE("cpu/sgemm: exact on small integers") {
    // |values| <= 4 and K <= 600: every partial sum is an integer below 2^24,
    // so float arithmetic in any order (and with FMA) is exact.
    ThreadPool pool(3);
    for (GemmKernel kernel : kernels()) {
        KernelScope scope(kernel);
        uint32_t seed = 1000;
        for (const Shape& s : kShapes)
            for (Trans ta : kTrans)
                for (Trans tb : kTrans)
                    for (Scalars sc : {Scalars{1.0f, 0.0f}, Scalars{-1.0f, 1.0f}, Scalars{2.0f, -3.0f},
                                       Scalars{0.5f, 1.0f}}) {
                        Case k{s.M, s.N, s.K, ta, tb, 1, 0, 2, sc.alpha, sc.beta, true, seed++};
                        check_case(pool, k);
                    }
    }
}

TEST_CASE("cpu/sgemm: bitwise identical for 1, 2, 3 and 4 threads") {
    ThreadPool one(1), two(2), three(3), four(4);
    ThreadPool* pools[] = {&two, &three, &four};
    // Shapes that split along N, along M, and across several K and N blocks.
    const Shape shapes[] = {{129, 67, 257}, {300, 5, 40}, {64, 2000, 100}, {37, 1000, 600}, {500, 48, 300}};
    for (GemmKernel kernel : kernels()) {
        KernelScope scope(kernel);
        for (const Shape& s : shapes)
            for (Trans ta : kTrans)
                for (Trans tb : kTrans) {
                    Case k{s.M, s.N, s.K, ta, tb, 0, 0, 0, 0.75f, -0.25f, false, 7};
                    Operands base = make_operands(k);
                    run(one, k, base);
                    for (ThreadPool* pool : pools) {
                        Operands o = make_operands(k);
                        run(*pool, k, o);
                        size_t differ = 0;
                        for (size_t x = 0; x < o.c.size(); ++x) differ += !same_bits(o.c[x], base.c[x]);
                        INFO("M=", k.M, " N=", k.N, " K=", k.K, " ta=", int(ta), " tb=", int(tb), " threads=",
                             pool->size(), " kernel=", vkcnn::cpu::sgemm_kernel_name(kernel));
                        CHECK(differ == 0);
                    }
                }
    }
}

TEST_CASE("cpu/sgemm: alpha == 0, K == 0 and empty results") {
    ThreadPool pool(2);
    std::vector<float> c(12, kNaN);

    // alpha == 0 reads neither A nor B (null here) and beta == 0 clears C.
    sgemm(pool, Trans::No, Trans::No, 3, 4, 5, 0.0f, nullptr, 5, nullptr, 4, 0.0f, c.data(), 4);
    for (float x : c) CHECK(x == 0.0f);

    // K == 0: C = beta * C.
    for (size_t x = 0; x < c.size(); ++x) c[x] = static_cast<float>(x);
    sgemm(pool, Trans::No, Trans::No, 3, 4, 0, 1.0f, nullptr, 0, nullptr, 4, 2.0f, c.data(), 4);
    for (size_t x = 0; x < c.size(); ++x) CHECK(c[x] == 2.0f * static_cast<float>(x));
    sgemm(pool, Trans::Yes, Trans::Yes, 3, 4, 0, 1.0f, nullptr, 3, nullptr, 0, 1.0f, c.data(), 4);
    for (size_t x = 0; x < c.size(); ++x) CHECK(c[x] == 2.0f * static_cast<float>(x));

    // An empty C touches nothing, even through null pointers.
    sgemm(pool, Trans::No, Trans::No, 0, 4, 5, 1.0f, nullptr, 5, nullptr, 4, 0.0f, nullptr, 4);
    sgemm(pool, Trans::No, Trans::No, 3, 0, 5, 1.0f, nullptr, 5, nullptr, 0, 0.0f, nullptr, 0);
}

TEST_CASE("cpu/sgemm: NaN and infinity in A reach only their own row") {
    ThreadPool pool(2);
    const size_t M = 20, N = 30, K = 300;
    std::vector<float> a(M * K, 1.0f), b(K * N, 0.5f), c(M * N);
    a[3 * K + 280] = kNaN;                               // row 3, in the second K block
    a[7 * K + 5] = std::numeric_limits<float>::infinity(); // row 7
    sgemm(pool, Trans::No, Trans::No, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N);
    for (size_t i = 0; i < M; ++i)
        for (size_t j = 0; j < N; ++j) {
            const float x = c[i * N + j];
            if (i == 3) CHECK(std::isnan(x));
            else if (i == 7) CHECK(x == std::numeric_limits<float>::infinity());
            else CHECK(x == 150.0f);
        }
}

TEST_CASE("cpu/sgemm: inconsistent arguments throw with the values") {
    ThreadPool pool(1);
    std::vector<float> a(100), b(100), c(100);
    auto message = [&](Trans ta, Trans tb, size_t M, size_t N, size_t K, size_t lda, size_t ldb, size_t ldc,
                       float* cp) {
        try {
            sgemm(pool, ta, tb, M, N, K, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, cp, ldc);
        } catch (const vkcnn::Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(message(Trans::No, Trans::No, 3, 4, 5, 4, 4, 4, c.data()) ==
          "sgemm: lda = 4 is less than K = 5 (A stored 3 x 5, Trans::No)");
    CHECK(message(Trans::Yes, Trans::No, 3, 4, 5, 2, 4, 4, c.data()) ==
          "sgemm: lda = 2 is less than M = 3 (A stored 5 x 3, Trans::Yes)");
    CHECK(message(Trans::No, Trans::No, 3, 4, 5, 5, 3, 4, c.data()) ==
          "sgemm: ldb = 3 is less than N = 4 (B stored 5 x 4, Trans::No)");
    CHECK(message(Trans::No, Trans::Yes, 3, 4, 5, 5, 4, 4, c.data()) ==
          "sgemm: ldb = 4 is less than K = 5 (B stored 4 x 5, Trans::Yes)");
    CHECK(message(Trans::No, Trans::No, 3, 4, 5, 5, 4, 3, c.data()) ==
          "sgemm: ldc = 3 is less than N = 4 (C is 3 x 4)");
    CHECK(message(Trans::No, Trans::No, 3, 4, 5, 5, 4, 4, nullptr) == "sgemm: C is null for a 3 x 4 result");
}

TEST_CASE("cpu/sgemm: kernel selection") {
    const GemmKernel chosen = vkcnn::cpu::sgemm_kernel();
    MESSAGE("sgemm kernel: ", std::string(vkcnn::cpu::sgemm_kernel_name(chosen)),
            " (VKCNN_CPU_ISA: ", std::string(std::getenv("VKCNN_CPU_ISA") ? std::getenv("VKCNN_CPU_ISA") : "unset"), ")");
    // The default is available and within VKCNN_CPU_ISA's cap, and a wide
    // one wherever the cap and the CPU allow (AVX2 or AVX-512: which of the
    // two is faster depends on the CPU, see best_kernel).
    const GemmKernel cap = vkcnn::cpu::gemm_kernel_cap(std::getenv("VKCNN_CPU_ISA"));
    const std::vector<GemmKernel> ks = kernels();
    CHECK(std::find(ks.begin(), ks.end(), chosen) != ks.end());
    CHECK(chosen <= cap);
    if (cap >= GemmKernel::Avx2Fma && ks.size() > 1) CHECK(chosen >= GemmKernel::Avx2Fma);
    // Set, VKCNN_CPU_ISA takes the widest variant up to its value.
    const char* isa = std::getenv("VKCNN_CPU_ISA");
    if (isa != nullptr && *isa != '\0') {
        GemmKernel widest = GemmKernel::Generic;
        for (GemmKernel k : ks)
            if (k <= cap) widest = k;
        CHECK(chosen == widest);
    }
    {
        KernelScope scope(GemmKernel::Generic);
        CHECK(vkcnn::cpu::sgemm_kernel() == GemmKernel::Generic);
    }
    CHECK(vkcnn::cpu::sgemm_kernel() == chosen);
    if (kernels().size() == 1)
        CHECK_THROWS_AS(vkcnn::cpu::set_sgemm_kernel(GemmKernel::Avx2Fma), vkcnn::Error);

    CHECK(vkcnn::cpu::gemm_kernel_cap(nullptr) == GemmKernel::Avx512);
    CHECK(vkcnn::cpu::gemm_kernel_cap("") == GemmKernel::Avx512);
    CHECK(vkcnn::cpu::gemm_kernel_cap("generic") == GemmKernel::Generic);
    CHECK(vkcnn::cpu::gemm_kernel_cap("avx2") == GemmKernel::Avx2Fma);
    CHECK(vkcnn::cpu::gemm_kernel_cap("avx512") == GemmKernel::Avx512);
    CHECK_THROWS_WITH(vkcnn::cpu::gemm_kernel_cap("AVX-512"),
                      "VKCNN_CPU_ISA is 'AVX-512': expected generic, avx2 or avx512 (the most the CPU backend's "
                      "kernels may use), or unset for the best this CPU has");
}

// The wide kernels run each element's fused multiply-adds in the same order
// over the same K blocks, so AVX-512 is AVX2 bit for bit (what lets a
// machine with it reproduce one without).
TEST_CASE("cpu/sgemm: the AVX-512 kernel gives the AVX2 kernel's bits") {
    const std::vector<GemmKernel> ks = kernels();
    if (std::find(ks.begin(), ks.end(), GemmKernel::Avx512) == ks.end()) {
        MESSAGE("no AVX-512 on this CPU or in this build (or VKCNN_CPU_ISA caps it): skipped");
        return;
    }
    ThreadPool pool(2);
    uint32_t seed = 500;
    for (const Shape& s : kShapes)
        for (Trans ta : kTrans)
            for (Trans tb : kTrans) {
                Case k{s.M, s.N, s.K, ta, tb, 1, 2, 3, 0.75f, -0.25f, false, seed++};
                Operands wide = make_operands(k), narrow = make_operands(k);
                {
                    KernelScope scope(GemmKernel::Avx512);
                    run(pool, k, wide);
                }
                {
                    KernelScope scope(GemmKernel::Avx2Fma);
                    run(pool, k, narrow);
                }
                size_t differ = 0;
                for (size_t x = 0; x < wide.c.size(); ++x) differ += !same_bits(wide.c[x], narrow.c[x]);
                INFO("M=", k.M, " N=", k.N, " K=", k.K, " ta=", int(ta), " tb=", int(tb));
                CHECK(differ == 0);
            }
}
