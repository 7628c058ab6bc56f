// Everything the library throws is a vkcnn::Error naming the problem: bad
// arguments through the public API that once let a std exception escape
// (std::out_of_range from .at(), std::bad_variant_access from std::get,
// std::system_error, std::bad_alloc), read out of bounds or computed with
// an overflowed size, each triggered here and checked for its message.
#include "vkcnn/core/error.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/data/dataset.h"
#include "vkcnn/data/idx.h"
#include "vkcnn/graph/graph.h"
#include "vkcnn/graph/lowering.h"
#include "vkcnn/graph/op_def.h"
#include "vkcnn/io/safetensors.h"

#include "support/files.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sys/resource.h>
#include <unistd.h>
#define VKCNN_TEST_RLIMIT_AS 1
#endif
// AddressSanitizer and ThreadSanitizer reserve terabytes of address space:
// an address-space limit would stop them, not the allocation under test.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#undef VKCNN_TEST_RLIMIT_AS
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#undef VKCNN_TEST_RLIMIT_AS
#endif
#endif

using namespace vkcnn;
using doctest::Contains;
using test::contains;
using test::error_of;

namespace {

#ifdef VKCNN_TEST_RLIMIT_AS
// While alive, the process may map only `headroom` bytes more than it has
// mapped now (RLIMIT_AS), so an allocation or a thread stack past that fails
// here as it would on a machine out of memory; the limit is restored after.
class AddressSpaceLimit {
public:
    explicit AddressSpaceLimit(uint64_t headroom) {
        ok_ = ::getrlimit(RLIMIT_AS, &saved_) == 0;
        uint64_t pages = 0;
        std::ifstream statm("/proc/self/statm");
        ok_ = ok_ && static_cast<bool>(statm >> pages);
        if (!ok_) return;
        rlimit limit = saved_;
        limit.rlim_cur = static_cast<rlim_t>(pages * uint64_t(::sysconf(_SC_PAGESIZE)) + headroom);
        if (saved_.rlim_max != RLIM_INFINITY && limit.rlim_cur > saved_.rlim_max) limit.rlim_cur = saved_.rlim_max;
        ok_ = ::setrlimit(RLIMIT_AS, &limit) == 0;
    }
    ~AddressSpaceLimit() {
        if (ok_) ::setrlimit(RLIMIT_AS, &saved_);
    }
    AddressSpaceLimit(const AddressSpaceLimit&) = delete;
    AddressSpaceLimit& operator=(const AddressSpaceLimit&) = delete;
    bool ok() const { return ok_; }

private:
    rlimit saved_{};
    bool ok_ = false;
};
#endif

} // namespace

// --- graph ------------------------------------------------------------------

TEST_CASE("core/exceptions: Graph::value and Graph::node name an id out of range") {
    graph::Graph g;
    const graph::ValueId x = g.input("x", Shape{2, 3});
    g.relu(x, "r");
    CHECK_THROWS_WITH_AS(g.value(7), Contains("graph: value 7 does not exist (the graph has 2 values)"), Error);
    CHECK_THROWS_WITH_AS(g.node(3), Contains("graph: node 3 does not exist (the graph has 1 nodes)"), Error);
    CHECK(g.value(x).name == "x");
    CHECK(g.node(0).name == "r");
    // Builders that look a value up before add_node does.
    CHECK_THROWS_WITH_AS(g.sgd_step(99, x, x, {}), Contains("value 99 does not exist"), Error);
    CHECK_THROWS_WITH_AS(g.adam_step(99, x, x, {}), Contains("value 99 does not exist"), Error);
}

TEST_CASE("core/exceptions: add_node with attributes of the wrong kind names both kinds") {
    graph::Graph g;
    const graph::ValueId x = g.input("x", Shape{1, 1, 4, 4});
    const graph::ValueId w = g.parameter("w", Shape{1, 1, 3, 3});
    // Once std::bad_variant_access out of add_node.
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::conv2d, "c", {x, w}, ops::MaxPool2dAttrs{}),
                         Contains("node 'c' (conv2d): takes ops::Conv2dAttrs attributes, got ops::MaxPool2dAttrs"),
                         Error);
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::max_pool2d, "p", {x}, {}),
                         Contains("node 'p' (max_pool2d): takes ops::MaxPool2dAttrs attributes, got none"), Error);
    // Once accepted, and std::bad_variant_access when the node ran or was lowered.
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::leaky_relu, "l", {x}, {}),
                         Contains("node 'l' (leaky_relu): takes ops::LeakyReluAttrs attributes, got none"), Error);
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::leaky_relu_backward, "lb", {x, x}, ops::Conv2dAttrs{}),
                         Contains("takes ops::LeakyReluAttrs attributes, got ops::Conv2dAttrs"), Error);
    const graph::ValueId c = g.parameter("gamma", Shape{1});
    const graph::ValueId rm = g.running_stat("rm", Shape{1}), rv = g.running_stat("rv", Shape{1});
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::batch_norm2d, "bn", {rm, rv, x, c, c}, {}),
                         Contains("node 'bn' (batch_norm2d): takes ops::BatchNorm2dAttrs attributes, got none"), Error);
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::batch_norm2d_eval, "bne", {x, c, c, rm, rv}, {}),
                         Contains("takes ops::BatchNorm2dAttrs attributes, got none"), Error);
    const graph::ValueId logits = g.input("logits", Shape{2, 3});
    const graph::ValueId labels = g.input("labels", Shape{2}, DType::I32);
    const graph::ValueId dloss = g.input("dloss", Shape{1});
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::cross_entropy_backward, "ceb", {logits, labels, dloss}, {}),
                         Contains("takes ops::CrossEntropyAttrs attributes, got none"), Error);
    // An op that takes none refuses some, rather than ignoring them.
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::relu, "r", {x}, ops::Conv2dAttrs{}),
                         Contains("node 'r' (relu): takes no attributes, got ops::Conv2dAttrs"), Error);
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::linear, "fc", {logits, g.parameter("fw", Shape{4, 3})},
                                    ops::SgdAttrs{}),
                         Contains("node 'fc' (linear): takes no attributes, got ops::SgdAttrs"), Error);
    // The right kinds still work.
    CHECK_NOTHROW(g.add_node(graph::Op::leaky_relu, "l", {x}, ops::LeakyReluAttrs{0.1f}));
    CHECK_NOTHROW(g.add_node(graph::Op::relu, "r", {x}, {}));
    CHECK(std::string(graph::attributes_name(ops::Conv2dAttrs{})) == "ops::Conv2dAttrs");
    CHECK(std::string(graph::attributes_name({})) == "none");
}

TEST_CASE("core/exceptions: an op or a role outside its enum is an error, not a read past a table") {
    graph::Graph g;
    const graph::ValueId x = g.input("x", Shape{4});
    const auto bad_op = static_cast<graph::Op>(200);
    CHECK_THROWS_WITH_AS(g.add_node(bad_op, "n", {x}, {}), Contains("add_node: op 200 is not an op (the graph knows"),
                         Error);
    CHECK_THROWS_WITH_AS(graph::op_def(bad_op), Contains("op 200 is not an op"), Error);
    CHECK(std::string(graph::op_name(bad_op)) == "unknown op");
    CHECK(std::string(graph::role_name(static_cast<graph::Role>(99))) == "unknown role");
    // A node makes activations or gradients; persistent values and inputs are made otherwise.
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::relu, "r", {x}, {}, graph::Role::Parameter),
                         Contains("add_node: node 'r' (relu): its outputs' role is parameter (1)"), Error);
    CHECK_THROWS_WITH_AS(g.add_node(graph::Op::relu, "r", {x}, {}, static_cast<graph::Role>(99)),
                         Contains("its outputs' role is unknown role (99)"), Error);
    CHECK_NOTHROW(g.add_node(graph::Op::relu, "r", {x}, {}, graph::Role::Gradient));
}

TEST_CASE("core/exceptions: shapes whose sizes overflow are refused when the value is made") {
    graph::Graph g;
    // (2^40, 2^40) elements: int64 overflow in every size computed from it.
    CHECK_THROWS_WITH_AS(g.input("x", Shape{int64_t{1} << 40, int64_t{1} << 40}),
                         Contains("value 'x': shape (1099511627776, 1099511627776) has more than 2^60 elements"),
                         Error);
    CHECK_THROWS_WITH_AS(g.fill(Shape{int64_t{1} << 31, int64_t{1} << 31}, 0.0f, "f"),
                         Contains("has more than 2^60 elements"), Error);
    // A dimension past 32 bits was cut to its low bits by the convolutions.
    const graph::ValueId x = g.input("tall", Shape{1, 1, (int64_t{1} << 32) + 3, 1});
    const graph::ValueId w = g.parameter("w", Shape{1, 1, 3, 1});
    CHECK_THROWS_WITH_AS(g.conv2d(x, w, std::nullopt, {}, "c"),
                         Contains("x 'tall' (1, 1, 4294967299, 1) has a dimension over 2^32 - 1"), Error);
}

TEST_CASE("core/exceptions: run_on_cpu checks the spans it is given") {
    graph::Graph g;
    const graph::ValueId x = g.input("x", Shape{4});
    g.relu(x, "r");
    cpu::ThreadPool pool(1);
    std::vector<float> a(4), b(3);
    const std::vector<std::span<const float>> in{a};
    const std::vector<std::span<float>> out{b};
    CHECK_THROWS_WITH_AS(graph::run_on_cpu(g, g.node(0), pool, {}, {}),
                         Contains("run_on_cpu: node 'r' (relu) has 1 inputs and 1 outputs (updated inputs first), "
                                  "given 0 and 0 spans"),
                         Error);
    CHECK_THROWS_WITH_AS(graph::run_on_cpu(g, g.node(0), pool, in, out),
                         Contains("run_on_cpu: node 'r' (relu): output 0 'r' (4,) has 4 elements, its span 3"), Error);
    std::vector<float> y(4);
    const std::vector<std::span<float>> good{y};
    CHECK_NOTHROW(graph::run_on_cpu(g, g.node(0), pool, in, good));
}

// --- io, data, cpu -----------------------------------------------------------

TEST_CASE("core/exceptions: a safetensors dtype outside the enum is an error") {
    const auto bad = static_cast<io::StDType>(99);
    CHECK_THROWS_WITH_AS(io::st_dtype_size(bad), Contains("safetensors: dtype 99 is not a safetensors dtype (known: BOOL"),
                         Error);
    CHECK_THROWS_WITH_AS(io::st_dtype_name(bad), Contains("dtype 99 is not a safetensors dtype"), Error);
    io::SafeTensor t{"w", bad, {1}, std::vector<std::byte>(4)};
    CHECK_THROWS_WITH_AS(io::serialize_safetensors(std::span<const io::SafeTensor>(&t, 1)),
                         Contains("dtype 99 is not a safetensors dtype"), Error);
}

TEST_CASE("core/exceptions: a safetensors file larger than memory is an OutOfMemoryError naming it") {
#ifdef VKCNN_TEST_RLIMIT_AS
    test::TempDir tmp;
    const std::string path = tmp.file("huge.safetensors");
    {
        std::ofstream(path).put('x');
    }
    std::error_code ec;
    std::filesystem::resize_file(path, uint64_t{64} << 30, ec); // sparse: no disk used
    if (ec) {
        MESSAGE("skipped: cannot make a sparse 64 GiB file here: ", ec.message());
        return;
    }
    std::string what;
    {
        AddressSpaceLimit limit(uint64_t{1} << 30);
        REQUIRE(limit.ok());
        try {
            io::read_safetensors(path); // once a std::bad_alloc, named nothing
        } catch (const OutOfMemoryError& e) {
            what = e.what();
        } catch (const std::exception& e) {
            what = std::string("not an OutOfMemoryError: ") + e.what();
        }
    }
    CHECK(contains(what, path + ": 68719476736 bytes: out of host memory reading the file"));
#else
    MESSAGE("skipped: needs RLIMIT_AS without a sanitizer");
#endif
}

TEST_CASE("core/exceptions: a ThreadPool the system refuses threads for is an Error") {
#ifdef VKCNN_TEST_RLIMIT_AS
    std::string what;
    {
        // Thread stacks are 2 MiB or more each: 255 of them do not fit in 64 MiB.
        AddressSpaceLimit limit(uint64_t{64} << 20);
        REQUIRE(limit.ok());
        try {
            cpu::ThreadPool pool(256); // once std::system_error (EAGAIN)
        } catch (const Error& e) {
            what = e.what();
        } catch (const std::exception& e) {
            what = std::string("not a vkcnn::Error: ") + e.what();
        }
    }
    CHECK(contains(what, "ThreadPool: cannot start worker thread "));
    CHECK(contains(what, " of 255 ("));
    CHECK(contains(what, "); ask for fewer threads"));
    cpu::ThreadPool after(2); // the workers that did start were joined; the pool works again
    CHECK(after.size() == 2);
#else
    MESSAGE("skipped: needs RLIMIT_AS without a sanitizer");
#endif
}

TEST_CASE("core/exceptions: Dataset sizes that overflow are refused") {
    const int64_t big = int64_t{1} << 40;
    CHECK_THROWS_WITH_AS(data::Dataset(big, big, big, 10, {}, {}),
                         Contains("Dataset: image shape (1099511627776, 1099511627776, 1099511627776) has more than "
                                  "2^40 elements"),
                         Error);
    // An empty dataset of 2^40-element images: a bad index is an error about
    // the index, not a 4 TiB allocation (std::bad_alloc) made before it is checked.
    const data::Dataset empty(1, int64_t{1} << 20, int64_t{1} << 20, 10, {}, {});
    const std::vector<int64_t> indices{0};
    CHECK_THROWS_WITH_AS(empty.subset(indices), Contains("Dataset::subset: index 0 out of range for 0 samples"), Error);
}

TEST_CASE("core/exceptions: BatchLoader::next names a batch too large for its buffers without overflowing") {
    const data::Dataset ds(1, 2, 2, 10, std::vector<float>(4), std::vector<int32_t>{3});
    data::BatchLoader loader(ds, {.batch_size = int64_t{1} << 62, .shuffle = false});
    // batch_size * 4 floats is 2^64: it wrapped to 0 in the message (and in the check).
    CHECK_THROWS_WITH_AS(loader.next({}, {}),
                         Contains("buffers hold 0 floats and 0 labels, a batch of 4611686018427387904 needs "
                                  "4611686018427387904 x 4 and 4611686018427387904"),
                         Error);
}

TEST_CASE("core/exceptions: write_idx_images refuses dims an IDX header cannot hold") {
    test::TempDir tmp;
    const std::string path = tmp.file("images");
    // 2^62 x 4 x 1 images need 2^64 pixels, which wrapped to the 0 given: the
    // file was written with a count of 0 (the low 32 bits of 2^62).
    data::IdxImages images;
    images.count = int64_t{1} << 62;
    images.rows = 4;
    images.cols = 1;
    CHECK_THROWS_WITH_AS(data::write_idx_images(path, images),
                         Contains(": cannot write IDX images with dims 4611686018427387904 x 4 x 1 (each must be in "
                                  "1..4294967295)"),
                         Error);
    CHECK(!std::filesystem::exists(path));
    images.count = int64_t{1} << 31;
    images.rows = int64_t{1} << 31;
    images.cols = 8;
    CHECK_THROWS_WITH_AS(data::write_idx_images(path, images),
                         Contains("2147483648 x 2147483648 x 8 images need more than 2^64 pixels, got 0"), Error);
}

TEST_CASE("core/exceptions: backward through an output that has no gradient rule names it") {
    graph::Graph g;
    const graph::ValueId x = g.input("x", Shape{1, 1, 4, 4});
    g.max_pool2d(x, {}, "p");
    const graph::ValueId indices = *g.find("p.1"); // i32 (1, 1, 2, 2)
    // A differentiable path from the indices to the loss: the rule read the
    // gradient of output 0, which has none (an empty optional dereferenced).
    const graph::ValueId twice = g.add(indices, indices, "twice");
    const graph::ValueId loss = g.mse_loss(twice, g.input("target", Shape{1, 1, 2, 2}, DType::I32), "loss");
    const std::vector<graph::ValueId> wrt{x};
    CHECK_THROWS_WITH_AS(g.backward(loss, wrt),
                         Contains("backward: a gradient reaches output 1 'p.1' of node 'p' (max_pool2d), but only its "
                                  "first output is differentiable"),
                         Error);
}
