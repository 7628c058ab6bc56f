// The browser demo's session on the native CPU backend: what the browser
// tests (tests/web/) compare the page against.
//   vkcnn_web_reference losses DATA_DIR STEPS SEED LR BATCH [generic]
//     the first STEPS training losses of a fresh LeNet-5 (as the worker's
//     train-steps), one per line; `generic`: the portable GEMM micro-kernel,
//     the one the WebAssembly build runs, instead of AVX2+FMA
//   vkcnn_web_reference preprocess WIDTH HEIGHT IN OUT
//     MNIST's preprocessing of IN (WIDTH x HEIGHT bytes, ink high, value/255)
//     into OUT: the 28x28 image as 784 little-endian floats in [0, 1]
//     (the floats, not bytes: rounding 255 * pixel differs between float
//     and JavaScript's double arithmetic at exact halves)
#include "session.h"

#include "vkcnn/core/error.h"
#include "vkcnn/cpu/gemm.h"
#include "vkcnn/data/idx.h"

#include <bit>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using namespace vkcnn;

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    check(f.good(), path, ": cannot open");
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

int losses(int argc, char** argv) {
    check(argc == 7 || argc == 8, "usage: losses DATA_DIR STEPS SEED LR BATCH [generic]");
    const std::string dir = std::string(argv[2]) + "/mnist/";
    if (argc == 8) {
        check(std::string(argv[7]) == "generic", "the last argument must be 'generic', not '", argv[7], "'");
        cpu::set_sgemm_kernel(cpu::GemmKernel::Generic);
    }
    web::Session session(1);
    session.set_mnist(data::Split::Train, data::read_maybe_gzip(dir + "train-images-idx3-ubyte"),
                      data::read_maybe_gzip(dir + "train-labels-idx1-ubyte"), dir + "train");
    session.start_training({.lr = std::stod(argv[5]), .batch = std::stoll(argv[6]), .seed = std::stoull(argv[4])});
    for (float loss : session.train_steps(std::stoll(argv[3]))) std::printf("%.9g\n", static_cast<double>(loss));
    return 0;
}

int preprocess(int argc, char** argv) {
    check(argc == 6, "usage: preprocess WIDTH HEIGHT IN OUT");
    const int width = std::stoi(argv[2]), height = std::stoi(argv[3]);
    const std::vector<uint8_t> in = read_file(argv[4]);
    std::vector<float> gray(in.size());
    for (size_t i = 0; i < in.size(); ++i) gray[i] = static_cast<float>(in[i]) / 255.0f;
    const data::DigitImage d = data::mnist_preprocess(gray, width, height);
    static_assert(std::endian::native == std::endian::little, "OUT is little-endian floats");
    std::ofstream f(argv[5], std::ios::binary);
    f.write(reinterpret_cast<const char*>(d.pixels.data()), static_cast<std::streamsize>(sizeof d.pixels));
    check(f.good(), argv[5], ": cannot write");
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        const std::string command = argc > 1 ? argv[1] : "";
        if (command == "losses") return losses(argc, argv);
        if (command == "preprocess") return preprocess(argc, argv);
        std::fprintf(stderr, "usage: vkcnn_web_reference losses|preprocess ...\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vkcnn_web_reference: %s\n", e.what());
        return 1;
    }
}
