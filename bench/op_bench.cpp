// vkcnn_op_bench: GFLOP/s of conv2d forward, backward-data and
// backward-weight (and linear forward, as a GEMM reference) on LeNet-5 and
// ResNet-style shapes, on the Vulkan backend and the CPU backend.
//
// Prints CSV on stdout, one line per (op, shape, backend):
//   op,shape,backend,threads,ms,gflops,ts_ms
// ms is the median over --runs runs of the time per op; gflops = flops / ms.
// Vulkan: each run is one vulkan::RecordedStep::run() (one submit) holding
// `repeats` dispatches of the launch, timed by the wall clock around run() and
// divided by the repeats, so submit and fence-wait overhead is amortised;
// ts_ms is the median per-dispatch time from timestamp queries in the same
// runs (empty where the queue has no timestamps). An op of several launches
// (the backward weight split into chunks, then their sum) is timed as a whole:
// each repeat holds all its dispatches. CPU: the conv2d_*_cpu /
// linear_forward_cpu kernels on a cpu::ThreadPool of --threads threads, the
// call repeated `repeats` times per run. Repeats are chosen so that a run
// takes about --run-ms. Lines starting with '#' describe the machine.
// bench/torch_ops.py prints the same lines for PyTorch; scripts/bench.sh
// runs both and writes docs/benchmarks.md. --shared-tiles / --register-tiles
// override the device's choice of GEMM kernel (GemmTuning::shared_memory_tiles),
// to compare the two on one device.
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/ops/conv2d.h"
#include "vkcnn/ops/linear.h"
#include "vkcnn/vulkan/device.h"
#include "vkcnn/vulkan/recorded_step.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    unsigned threads = 0;
    int runs = 7;
    double run_ms = 200.0;
    bool vulkan = true, cpu = true;
    std::string filter; // substring of "op shape"
    int split = -1;     // conv2d backward weight chunks: -1 the library's choice, else this many
    int shared_tiles = -1; // GEMM kernels: -1 the device's choice, 1 shared-memory tiles, 0 registers only
};

struct ConvCase {
    const char* name;
    std::array<uint32_t, 4> x, w;
    uint32_t pad;
};

// LeNet-5's convolutions and ResNet-style 3x3 and 1x1 convolutions, batch 64.
const ConvCase kConvCases[] = {
    {"lenet_conv1", {64, 1, 28, 28}, {6, 1, 5, 5}, 2},
    {"lenet_conv2", {64, 6, 14, 14}, {16, 6, 5, 5}, 0},
    {"resnet_3x3_28", {64, 64, 28, 28}, {64, 64, 3, 3}, 1},
    {"resnet_3x3_14", {64, 64, 14, 14}, {64, 64, 3, 3}, 1},
    {"resnet_1x1_14", {64, 64, 14, 14}, {128, 64, 1, 1}, 0},
};

struct LinearCase {
    const char* name;
    size_t batch, in, out;
};

const LinearCase kLinearCases[] = {
    {"lenet_fc1", 64, 400, 120},
    {"gemm_512", 512, 512, 512},
};

std::string conv_shape_text(const ConvCase& c) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s x%ux%ux%ux%u w%ux%ux%ux%u p%u", c.name, c.x[0], c.x[1], c.x[2], c.x[3], c.w[0],
                  c.w[1], c.w[2], c.w[3], c.pad);
    return buf;
}

std::string linear_shape_text(const LinearCase& c) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s x%zux%zu w%zux%zu", c.name, c.batch, c.in, c.out, c.in);
    return buf;
}

std::vector<float> random_values(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float& f : v) f = dist(rng);
    return v;
}

double median(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Result {
    double ms = NAN, ts_ms = NAN;
};

// Repeats so that `repeats` calls of something taking `one_ms` take about run_ms.
int repeats_for(double one_ms, const Options& o) {
    const double r = std::ceil(o.run_ms / std::max(one_ms, 1e-3));
    return static_cast<int>(std::clamp(r, 1.0, 500.0));
}

// One buffer of a Vulkan op: its size in floats (every buffer starts with
// random values).
struct Arg {
    size_t floats;
};

// One launch of an op and the buffers (indices into the op's Args) it binds.
struct Launch {
    vkcnn::KernelLaunch launch;
    std::vector<size_t> bind;
};

// A single launch binding the op's buffers in order.
std::vector<Launch> single(const vkcnn::KernelLaunch& launch, size_t buffers) {
    std::vector<size_t> bind(buffers);
    for (size_t i = 0; i < buffers; ++i) bind[i] = i;
    return {{launch, bind}};
}

Result time_vulkan(vkcnn::Device& dev, const std::vector<Launch>& launches, const std::vector<Arg>& args,
                   const Options& o) {
    std::vector<vkcnn::vulkan::Buffer> buffers;
    buffers.reserve(args.size());
    for (size_t i = 0; i < args.size(); ++i) {
        buffers.push_back(dev.create_buffer(args[i].floats * sizeof(float), "bench_arg"));
        const auto values = random_values(args[i].floats, static_cast<uint32_t>(i + 1));
        dev.upload<float>(buffers.back(), values);
    }
    const bool timestamps = dev.info().timestamp_period_ns > 0;
    auto make_step = [&](int repeats) {
        std::vector<vkcnn::vulkan::StepDispatch> dispatches;
        for (int r = 0; r < repeats; ++r)
            for (const Launch& l : launches) {
                vkcnn::vulkan::StepDispatch d;
                d.launch = l.launch;
                for (const size_t i : l.bind) d.args.emplace_back(buffers[i]);
                d.label = "bench";
                dispatches.push_back(std::move(d));
            }
        vkcnn::vulkan::RecordOptions ro;
        ro.timestamps = timestamps;
        return std::make_unique<vkcnn::vulkan::RecordedStep>(dev, std::move(dispatches), ro);
    };
    // Warm-up (pipeline creation, first-touch) and an estimate of one dispatch.
    auto probe = make_step(1);
    probe->run();
    auto t0 = Clock::now();
    probe->run();
    const double one_ms = seconds_since(t0) * 1e3;
    const int repeats = repeats_for(one_ms, o);

    auto step = make_step(repeats);
    step->run(); // warm-up
    std::vector<double> wall, ts;
    for (int r = 0; r < o.runs; ++r) {
        t0 = Clock::now();
        step->run();
        wall.push_back(seconds_since(t0) * 1e3 / repeats);
        if (timestamps) {
            double sum = 0;
            for (double us : step->dispatch_microseconds()) sum += us;
            ts.push_back(sum / 1e3 / repeats);
        }
    }
    return {median(wall), timestamps ? median(ts) : NAN};
}

Result time_cpu(const std::function<void()>& call, const Options& o) {
    call(); // warm-up
    auto t0 = Clock::now();
    call();
    const int repeats = repeats_for(seconds_since(t0) * 1e3, o);
    std::vector<double> wall;
    for (int r = 0; r < o.runs; ++r) {
        t0 = Clock::now();
        for (int i = 0; i < repeats; ++i) call();
        wall.push_back(seconds_since(t0) * 1e3 / repeats);
    }
    return {median(wall), NAN};
}

void print_line(const char* op, const std::string& shape, const char* backend, unsigned threads, double flops,
                const Result& r) {
    std::printf("%s,%s,%s,%u,%.4f,%.3f,", op, shape.c_str(), backend, threads, r.ms, flops / (r.ms * 1e-3) / 1e9);
    if (!std::isnan(r.ts_ms)) std::printf("%.4f", r.ts_ms);
    std::printf("\n");
    std::fflush(stdout);
}

bool selected(const Options& o, const char* op, const std::string& shape) {
    return o.filter.empty() || (std::string(op) + " " + shape).find(o.filter) != std::string::npos;
}

void usage() {
    std::fprintf(stderr,
                 "usage: vkcnn_op_bench [--threads N] [--runs N] [--run-ms MS] [--no-vulkan] [--no-cpu] "
                 "[--filter TEXT] [--split N] [--shared-tiles | --register-tiles] [--list]\n"
                 "  --threads  CPU backend threads (default: hardware threads); also LP_NUM_THREADS for\n"
                 "             lavapipe unless that is already set\n"
                 "  --runs     timed runs, the median is reported (default 7)\n"
                 "  --run-ms   target length of one run (default 200)\n"
                 "  --filter   only ops whose \"op shape\" contains TEXT (shape: name x.. w.. ..)\n"
                 "  --split    conv2d backward weight in N chunks (1: unsplit; default: the library's choice)\n"
                 "  --shared-tiles    GEMM kernels with shared-memory tiles, whatever the device's tuning says\n"
                 "  --register-tiles  GEMM kernels with register blocks only\n"
                 "  --list     print the shape names and exit\n");
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage();
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--threads") o.threads = static_cast<unsigned>(std::stoul(value()));
        else if (a == "--runs") o.runs = std::max(1, std::stoi(value()));
        else if (a == "--run-ms") o.run_ms = std::stod(value());
        else if (a == "--no-vulkan") o.vulkan = false;
        else if (a == "--no-cpu") o.cpu = false;
        else if (a == "--filter") o.filter = value();
        else if (a == "--split") o.split = std::max(1, std::stoi(value()));
        else if (a == "--shared-tiles") o.shared_tiles = 1;
        else if (a == "--register-tiles") o.shared_tiles = 0;
        else if (a == "--list") {
            for (const ConvCase& c : kConvCases) std::printf("%s\n", c.name);
            for (const LinearCase& c : kLinearCases) std::printf("%s\n", c.name);
            std::exit(0);
        }
        else {
            usage();
            std::exit(a == "--help" || a == "-h" ? 0 : 2);
        }
    }
    if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
    return o;
}

} // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    // lavapipe runs compute shaders on LP_NUM_THREADS threads: give it the
    // same count as the CPU backend and torch, unless the caller chose.
    setenv("LP_NUM_THREADS", std::to_string(o.threads).c_str(), 0);
    std::printf("# threads: %u\n", o.threads);
    std::printf("# LP_NUM_THREADS: %s\n", std::getenv("LP_NUM_THREADS"));

    try {
        std::unique_ptr<vkcnn::Device> dev;
        vkcnn::GemmTuning tuning; // the device's, or as --shared-tiles / --register-tiles force it
        if (o.vulkan) {
            vkcnn::DeviceOptions dopt;
            dopt.validation = false;
            dev = vkcnn::Device::create(dopt);
            const auto& info = dev->info();
            std::printf("# device: %s\n", info.name.c_str());
            std::printf("# driver: %s %s\n", info.driver_name.c_str(), info.driver_info.c_str());
            tuning = dev->quirks().gemm;
            if (o.shared_tiles >= 0) tuning.shared_memory_tiles = o.shared_tiles == 1;
            std::printf("# gemm tiles: %ux%u %s%s\n", tuning.tile_m, tuning.tile_n,
                        tuning.shared_memory_tiles ? "shared memory" : "registers only",
                        o.shared_tiles >= 0 ? " (forced)" : "");
        }
        vkcnn::cpu::ThreadPool pool(o.threads);
        std::printf("op,shape,backend,threads,ms,gflops,ts_ms\n");
        std::fflush(stdout);

        for (const ConvCase& c : kConvCases) {
            const std::string shape = conv_shape_text(c);
            vkcnn::ops::Conv2dAttrs attrs;
            attrs.pad(c.pad, c.pad);
            const auto s = vkcnn::ops::conv2d_shape(c.x, c.w, attrs, false);
            const double flops = static_cast<double>(s.flops()); // the same for all three directions
            const auto x = random_values(s.x_size(), 1), w = random_values(s.w_size(), 2),
                       dy = random_values(s.y_size(), 3);
            std::vector<float> y(s.y_size()), dx(s.x_size()), dw(s.w_size());
            struct Direction {
                const char* op;
                std::function<std::vector<Launch>(const vkcnn::GemmTuning&)> launches;
                std::vector<Arg> args;
                std::function<void()> cpu;
            };
            // The backward weight as the graph runs it: in chunks, then their
            // sum (buffer 3: the partials), when the weight alone gives few workgroups.
            const uint32_t split = o.split > 0 ? static_cast<uint32_t>(o.split)
                                   : dev       ? vkcnn::ops::conv2d_backward_weight_split(s, tuning)
                                               : 1;
            auto backward_weight = [&](const vkcnn::GemmTuning& t) {
                if (split == 1) return single(vkcnn::ops::conv2d_backward_weight_launch(s, t), 3);
                return std::vector<Launch>{{vkcnn::ops::conv2d_backward_weight_launch(s, t, split), {0, 1, 3}},
                                           {vkcnn::ops::conv2d_backward_weight_sum_launch(s, split), {3, 2}}};
            };
            const Direction directions[] = {
                {"conv2d_forward",
                 [&](const vkcnn::GemmTuning& t) { return single(vkcnn::ops::conv2d_forward_launch(s, t), 3); },
                 {{s.x_size()}, {s.w_size()}, {s.y_size()}},
                 [&] { vkcnn::ops::conv2d_forward_cpu(pool, s, x, w, {}, y); }},
                {"conv2d_backward_data",
                 [&](const vkcnn::GemmTuning& t) { return single(vkcnn::ops::conv2d_backward_data_launch(s, t), 3); },
                 {{s.w_size()}, {s.y_size()}, {s.x_size()}},
                 [&] { vkcnn::ops::conv2d_backward_data_cpu(pool, s, w, dy, dx); }},
                {"conv2d_backward_weight",
                 backward_weight,
                 {{s.x_size()}, {s.y_size()}, {s.w_size()},
                  {std::max<size_t>(vkcnn::ops::conv2d_backward_weight_partials_size(s, split), 1)}},
                 [&] { vkcnn::ops::conv2d_backward_weight_cpu(pool, s, x, dy, dw); }},
            };
            for (const Direction& d : directions) {
                if (!selected(o, d.op, shape)) continue;
                if (dev && d.op == std::string("conv2d_backward_weight"))
                    std::printf("# conv2d_backward_weight %s: split %u\n", shape.c_str(), split);
                if (dev) print_line(d.op, shape, "vulkan", o.threads, flops,
                                    time_vulkan(*dev, d.launches(tuning), d.args, o));
                if (o.cpu) print_line(d.op, shape, "cpu", o.threads, flops, time_cpu(d.cpu, o));
            }
        }

        for (const LinearCase& c : kLinearCases) {
            const std::string shape = linear_shape_text(c);
            if (!selected(o, "linear_forward", shape)) continue;
            vkcnn::ops::LinearShape s{c.batch, c.in, c.out, false};
            const double flops = 2.0 * static_cast<double>(c.batch * c.in * c.out);
            const auto x = random_values(c.batch * c.in, 1), w = random_values(c.out * c.in, 2);
            std::vector<float> y(c.batch * c.out);
            if (dev)
                print_line("linear_forward", shape, "vulkan", o.threads, flops,
                           time_vulkan(*dev, single(vkcnn::ops::linear_forward_launch(s, tuning), 3),
                                       {{x.size()}, {w.size()}, {y.size()}}, o));
            if (o.cpu)
                print_line("linear_forward", shape, "cpu", o.threads, flops,
                           time_cpu([&] { vkcnn::ops::linear_forward_cpu(pool, s, x, w, {}, y); }, o));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vkcnn_op_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
