// `vkcnn train` and `vkcnn eval`: a model on MNIST or Fashion-MNIST, on the
// Vulkan or the CPU backend, with a progress line, a test-set evaluation
// after every epoch and an atomically written checkpoint. Ctrl-C saves a
// checkpoint of the steps done so far before exiting; --resume continues the
// same run (the same batches in the same order).
#include "commands.h"
#include "common.h"

#include "vkcnn/core/error.h"
#include "vkcnn/nn/checkpoint.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/schedule.h"
#include "vkcnn/ops/augment.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <unistd.h>

namespace vkcnn::cli {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) { g_interrupted = 1; }

nn::Optimizer make_optimizer(const TrainArgs& a) {
    if (a.optimizer == "sgd")
        return ops::SgdAttrs{.lr = a.lr, .momentum = a.momentum, .weight_decay = a.weight_decay, .nesterov = a.nesterov};
    if (a.optimizer == "adam") return ops::AdamAttrs{.lr = a.lr, .weight_decay = a.weight_decay};
    if (a.optimizer == "adamw") {
        ops::AdamAttrs w = ops::adamw_attrs();
        w.lr = a.lr;
        if (a.weight_decay > 0) w.weight_decay = a.weight_decay;
        return w;
    }
    throw Error(cat("unknown optimizer '", a.optimizer, "'; optimizers: sgd, adam, adamw"));
}

std::string duration(double seconds) {
    const long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

// The accuracy and loss, then each class's accuracy (recall: the share of its
// test samples predicted right) on one line, from the confusion matrix.
void print_eval(const char* what, const nn::EvalResult& r) {
    const auto classes = static_cast<size_t>(std::lround(std::sqrt(static_cast<double>(r.confusion.size()))));
    std::printf("%s: accuracy %.2f%% (%lld / %lld), loss %.4f\n", what, 100.0 * r.accuracy(),
                static_cast<long long>(r.correct), static_cast<long long>(r.total), r.loss);
    std::printf("per class:");
    for (size_t t = 0; t < classes; ++t) {
        int64_t row = 0;
        for (size_t p = 0; p < classes; ++p) row += r.confusion[t * classes + p];
        const double right = static_cast<double>(r.confusion[t * classes + t]);
        if (row == 0) std::printf("  %zu -", t); // no samples of this class
        else std::printf("  %zu %.1f%%", t, 100.0 * right / static_cast<double>(row));
    }
    std::printf("\n");
}

// --augment: the attributes, checked (the error names the value); the fill
// is the normalised images' background, -mean / std.
std::optional<ops::AugmentAttrs> augment_attrs(const TrainArgs& a, data::Normalization norm) {
    if (!a.augment) return std::nullopt;
    const ops::AugmentAttrs attrs{static_cast<float>(a.augment_degrees), static_cast<float>(a.augment_scale),
                                  static_cast<float>(a.augment_translate), -norm.mean / norm.std};
    ops::check_augment_attrs(attrs);
    return attrs;
}

// For the checkpoint's metadata: what augmentation the run trained with.
std::string describe(const std::optional<ops::AugmentAttrs>& a) {
    if (!a) return "none";
    return cat("degrees ", a->max_degrees, ", scale ", a->max_scale, ", translate ", a->max_translate);
}

} // namespace

int train(const TrainArgs& a) {
    const nn::Sequential net = nn::model_by_name(a.model);
    augment_attrs(a, {}); // bad --augment-* values fail before the data loads
    data::Dataset train_set = load_dataset(a.data_dir, a.dataset, data::Split::Train);
    const data::Dataset test_set = load_dataset(a.data_dir, a.dataset, data::Split::Test);
    // --validation N: N training samples (chosen by the seed, so a resumed run
    // holds out the same ones) are evaluated after every epoch, never trained on.
    std::optional<data::Dataset> validation_set;
    if (a.validation > 0) {
        data::TrainValidation split = data::split_train_validation(train_set, a.validation, a.seed);
        train_set = std::move(split.train);
        validation_set = std::move(split.validation);
        std::printf("validation: %lld training samples held out\n", static_cast<long long>(a.validation));
    }
    const std::optional<ops::AugmentAttrs> augment = augment_attrs(a, train_set.normalization());
    const std::unique_ptr<Device> dev = open_device(a.backend);
    cpu::ThreadPool pool(a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency()));

    nn::Trainer trainer(net, {.batch = a.batch, .optimizer = make_optimizer(a), .seed = a.seed, .augment = augment, .frozen = a.freeze},
                        dev.get(), pool);
    if (augment) std::printf("augment: %s (fill %.4f)\n", describe(augment).c_str(), static_cast<double>(augment->fill));
    data::BatchLoader loader(train_set, {.batch_size = a.batch, .shuffle = true, .seed = a.seed, .drop_last = true});
    const uint64_t per_epoch = static_cast<uint64_t>(loader.batches_per_epoch());
    const uint64_t total = per_epoch * static_cast<uint64_t>(a.epochs);
    nn::Schedule schedule{nn::schedule_kind(a.schedule), a.lr};
    schedule.step_size = per_epoch * static_cast<uint64_t>(std::max(1, a.step_epochs));
    schedule.warmup_steps = a.warmup_steps;

    uint64_t first_epoch = 0, skip = 0;
    if (!a.resume.empty()) {
        const nn::Checkpoint c = nn::read_checkpoint(a.resume, trainer);
        const auto get = [&](const char* key) -> uint64_t {
            const auto it = c.metadata.find(key);
            vkcnn::check(it != c.metadata.end(), a.resume, ": metadata '", key, "' is missing: not a vkcnn training checkpoint");
            return std::stoull(it->second);
        };
        trainer.load_state(c.state, get("step"));
        // Not an error (a run may continue with other augmentation), but no longer the same run.
        const auto aug = c.metadata.find("augment");
        if (aug != c.metadata.end() && aug->second != describe(augment))
            std::printf("note: the checkpoint trained with augment: %s; this run uses: %s\n", aug->second.c_str(),
                        describe(augment).c_str());
        first_epoch = get("epoch");
        skip = get("epoch_step");
        std::printf("resumed %s at epoch %llu, step %llu\n", a.resume.c_str(),
                    static_cast<unsigned long long>(first_epoch + 1), static_cast<unsigned long long>(trainer.steps()));
    }

    std::string frozen;
    for (const std::string& prefix : a.freeze) frozen += (frozen.empty() ? "" : ",") + prefix;
    const auto save = [&](uint64_t epoch, uint64_t epoch_step) {
        std::filesystem::path out(a.out);
        if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
        nn::save_checkpoint(a.out, trainer,
                            {{"model", a.model}, {"dataset", a.dataset}, {"epoch", std::to_string(epoch)},
                             {"epoch_step", std::to_string(epoch_step)}, {"seed", std::to_string(a.seed)},
                             {"optimizer", a.optimizer}, {"batch", std::to_string(a.batch)},
                             {"augment", describe(augment)}, {"frozen", frozen},
                             {"validation", std::to_string(a.validation)}});
    };

    std::signal(SIGINT, on_interrupt);
    const bool tty = isatty(fileno(stdout));
    std::vector<float> images(static_cast<size_t>(a.batch * train_set.image_elements()));
    std::vector<int32_t> labels(static_cast<size_t>(a.batch));
    for (uint64_t epoch = first_epoch; epoch < static_cast<uint64_t>(a.epochs); ++epoch) {
        loader.start_epoch(epoch);
        for (uint64_t k = 0; k < skip; ++k) loader.next(images, labels);
        const auto start = std::chrono::steady_clock::now();
        double loss_sum = 0;
        int64_t correct = 0, seen = 0;
        const auto account = [&](const std::optional<nn::StepResult>& r) {
            if (!r) return;
            loss_sum += r->loss;
            correct += r->correct;
            seen += a.batch;
        };
        for (uint64_t k = skip; k < per_epoch; ++k) {
            loader.next(images, labels);
            const double lr = nn::learning_rate(schedule, trainer.steps() + 1, total);
            // Pipelined: this step computes while the next batch is loaded; its loss arrives a step later.
            account(trainer.start_step(images, labels, lr));
            const bool last = k + 1 == per_epoch;
            if (last || g_interrupted) account(trainer.flush());
            if (seen > 0 && (g_interrupted || last || (tty ? k % 10 == 0 : k % 200 == 0))) {
                const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                const double rate = static_cast<double>(seen) / std::max(secs, 1e-9);
                std::printf("%sepoch %llu/%d  step %llu/%llu  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s%s",
                            tty ? "\r" : "", static_cast<unsigned long long>(epoch + 1), a.epochs,
                            static_cast<unsigned long long>(k + 1), static_cast<unsigned long long>(per_epoch),
                            loss_sum / static_cast<double>(seen / a.batch), 100.0 * correct / static_cast<double>(seen),
                            rate, duration(static_cast<double>((per_epoch - k - 1) * a.batch) / rate).c_str(),
                            tty && !last && !g_interrupted ? "" : "\n");
                std::fflush(stdout);
            }
            if (g_interrupted) {
                save(epoch, k + 1);
                std::printf("interrupted: checkpoint of step %llu written to %s\n",
                            static_cast<unsigned long long>(trainer.steps()), a.out.c_str());
                return 130;
            }
        }
        skip = 0;
        save(epoch + 1, 0);
        if (validation_set) print_eval("validation", trainer.evaluate(*validation_set));
        print_eval("test", trainer.evaluate(test_set));
        std::printf("checkpoint: %s\n", a.out.c_str());
    }
    return 0;
}

int evaluate(const EvalArgs& a) {
    const nn::Sequential net = nn::model_by_name(a.model);
    const std::unique_ptr<Device> dev = open_device(a.backend);
    cpu::ThreadPool pool(std::max(1u, std::thread::hardware_concurrency()));
    nn::Trainer trainer(net, {.batch = a.batch}, dev.get(), pool);
    const nn::Checkpoint c = nn::read_checkpoint(a.checkpoint, trainer, false);
    trainer.load_state(c.state, 0);
    const data::Dataset test_set = load_dataset(a.data_dir, a.dataset, data::Split::Test);
    const nn::EvalResult r = trainer.evaluate(test_set);
    print_eval(cat(a.dataset, " test").c_str(), r);
    if (a.confusion) {
        const auto classes = static_cast<size_t>(std::lround(std::sqrt(static_cast<double>(r.confusion.size()))));
        std::printf("confusion (rows: true class, columns: predicted)\n");
        for (size_t t = 0; t < classes; ++t) {
            for (size_t p = 0; p < classes; ++p) std::printf("%6lld", static_cast<long long>(r.confusion[t * classes + p]));
            std::printf("\n");
        }
    }
    return 0;
}

int profile(const ProfileArgs& a) {
    const nn::Sequential net = nn::model_by_name(a.model);
    const std::unique_ptr<Device> dev = open_device("vulkan");
    cpu::ThreadPool pool(1);
    nn::Trainer trainer(net, {.batch = a.batch, .profile = true}, dev.get(), pool);
    std::vector<float> images(static_cast<size_t>(a.batch * 784));
    std::vector<int32_t> labels(static_cast<size_t>(a.batch));
    for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>((i * 7919) % 255) / 255.0f;
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 10);
    const ProfiledSteps p = profile_steps(trainer, a.steps, 0.01, [&] {
        return std::pair<std::span<const float>, std::span<const int32_t>>(images, labels);
    });
    // Host time: the step's uploads, submit, wait and loss read-back, less the GPU's own time.
    std::printf("%s, batch %lld, %d steps: %.2f ms wall per step, %.2f ms GPU, %.2f ms host\n", a.model.c_str(),
                static_cast<long long>(a.batch), a.steps, p.wall_ms, p.gpu_ms, p.wall_ms - p.gpu_ms);
    std::printf("%s", exec::format_profile(p.last).c_str());
    return 0;
}

} // namespace vkcnn::cli
