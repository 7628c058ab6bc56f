// Adversarial training's figure for docs/benchmarks.md: fine-tunes a
// trained LeNet-5 with PGD-7 at epsilon 0.3 on half of each batch
// (viz::adversarial_batches through TrainerOptions::transform_batch), SGD
// with momentum 0.9 and a cosine learning rate from 0.02 to 0, and prints
// the clean and PGD-40 accuracy after every epoch (the first 2000 test
// digits; all of them after the last). Not a test: nothing is asserted.
// Usage: vkcnn_robust_training CHECKPOINT [epochs=10] [data-dir=data] [threads=2]
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/trainer.h"
#include "vkcnn/viz/adversarial.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>
#include <string>
#include <vector>

using namespace vkcnn;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CHECKPOINT [epochs] [data-dir] [threads]\n", argv[0]);
        return 2;
    }
    try {
        const int epochs = argc > 2 ? std::atoi(argv[2]) : 10;
        const std::string dir = argc > 3 ? argv[3] : "data";
        const unsigned threads = argc > 4 ? unsigned(std::atoi(argv[4])) : 2;
        const data::Dataset train = data::load_mnist(dir + "/mnist", data::Split::Train);
        const data::Dataset test = data::load_mnist(dir + "/mnist", data::Split::Test);
        cpu::ThreadPool pool(threads);
        nn::Model model(nn::lenet5(), {}, pool);
        model.load_checkpoint(argv[1]);
        viz::Attack attack(model, viz::PixelSpace{train.normalization()}, 32); // the attacked half of a batch of 64
        nn::TrainerOptions options{.batch = 64, .optimizer = ops::SgdAttrs{.lr = 0.02, .momentum = 0.9}};
        options.transform_batch =
            viz::adversarial_batches(attack, {.pgd = {.epsilon = 0.3f, .steps = 7, .random_start = true}, .share = 0.5});
        nn::Trainer trainer(model, options);
        data::BatchLoader loader(train, {.batch_size = 64, .seed = 7, .drop_last = true});
        std::vector<float> images(size_t(64 * train.image_elements()));
        std::vector<int32_t> labels(64);
        const int64_t per_epoch = loader.batches_per_epoch();
        for (int epoch = 0; epoch < epochs; ++epoch) {
            const auto start = std::chrono::steady_clock::now();
            loader.start_epoch(uint64_t(epoch));
            for (int64_t b = 0; b < per_epoch; ++b) {
                const double progress = double(epoch * per_epoch + b) / double(epochs * per_epoch);
                trainer.set_learning_rate(0.01 * (1 + std::cos(std::numbers::pi * progress)));
                loader.next(images, labels);
                trainer.start_step(images, labels);
            }
            trainer.flush();
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const bool last = epoch + 1 == epochs;
            const viz::AccuracyCurve c = viz::accuracy_vs_epsilon(
                model, test,
                {.epsilons = {0.0f, 0.1f, 0.2f, 0.3f}, .method = viz::AttackMethod::Pgd, .pgd = {.steps = 40},
                 .batch = 500, .limit = last ? 0 : 2000});
            std::printf("epoch %d (%.0f s): clean %.2f%%, PGD-40 at 0.1 %.2f%%, 0.2 %.2f%%, 0.3 %.2f%% (%lld digits)\n",
                        epoch + 1, seconds, 100 * c.points[0].accuracy(), 100 * c.points[1].accuracy(),
                        100 * c.points[2].accuracy(), 100 * c.points[3].accuracy(), (long long)c.points[3].total);
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vkcnn_robust_training: %s\n", e.what());
        return 1;
    }
    return 0;
}
