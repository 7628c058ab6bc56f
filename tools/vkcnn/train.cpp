// `vkcnn train` and `vkcnn eval`: a model on MNIST or Fashion-MNIST, on the
// Vulkan or the CPU backend, with a progress line, a test-set evaluation
// after every epoch and an atomically written checkpoint. SIGINT (Ctrl-C),
// SIGTERM and SIGHUP save a checkpoint of the steps done so far before
// exiting with 128 + the signal's number; --resume continues the same run
// (the same batches in the same order, the same schedule), after checking
// that the checkpoint's metadata describes this run.
#include "commands.h"
#include "common.h"

#include "vkcnn/core/error.h"
#include "vkcnn/data/stroke_width.h"
#include "vkcnn/nn/checkpoint.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/schedule.h"
#include "vkcnn/ops/augment.h"
#include "vkcnn/viz/adversarial.h"
#include "vkcnn/viz/reports.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include <signal.h>
#include <unistd.h>

namespace vkcnn::cli {

namespace {

// Signals. Until the first step (data loading, device creation, compiling)
// there is nothing to save: the handler says so and exits at once. From then
// on it only records the signal; the training loop stops before its next
// step, writes a checkpoint and returns 128 + the number, as a shell reports
// a process the signal ended. A second signal ends the process at once (the
// last checkpoint written stays intact: writes are atomic).
volatile std::sig_atomic_t g_signal = 0;   // the first one received while training
volatile std::sig_atomic_t g_training = 0; // 0: start-up

extern "C" void on_signal(int sig) {
    if (!g_training) {
        static const char msg[] = "\nvkcnn: interrupted during start-up: no checkpoint to save yet\n";
        if (::write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {} // nothing to do about it: exiting
        ::_exit(128 + sig);
    }
    if (g_signal) {
        ::signal(sig, SIG_DFL);
        ::raise(sig);
        return;
    }
    g_signal = sig;
}

const char* signal_name(int sig) {
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal";
}

// Installs the handler for SIGINT, SIGTERM and SIGHUP (one inherited as
// ignored, as nohup leaves SIGHUP, stays ignored) and restores the previous
// handlers on the way out.
class SignalHandlers {
public:
    SignalHandlers() {
        g_signal = 0;
        g_training = 0;
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART; // reads and writes in progress carry on
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < std::size(kSignals); ++i) {
            sigaction(kSignals[i], nullptr, &old_[i]);
            if (old_[i].sa_handler != SIG_IGN) sigaction(kSignals[i], &sa, nullptr);
        }
    }
    ~SignalHandlers() {
        for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &old_[i], nullptr);
        g_training = 0;
    }
    SignalHandlers(const SignalHandlers&) = delete;
    SignalHandlers& operator=(const SignalHandlers&) = delete;
    // From now on a signal stops training at the next step and saves.
    void training() { g_training = 1; }

private:
    static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction old_[std::size(kSignals)] {};
};

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
    std::fflush(stdout);
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

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

// --out is checked before any work, so that a run does not train for an hour
// and then fail to save: not a directory nor a device, and its directory
// writable, found by creating and removing a file there under the name the
// checkpoint's temporary file will have. A directory still to be made (the
// save makes it) is not made yet: its nearest existing ancestor is probed.
void check_out(const std::string& out) {
    namespace fs = std::filesystem;
    check(!out.empty(), "--out is empty: give the checkpoint file to write");
    const fs::path p(out);
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    check(!fs::is_directory(st), "--out ", out, " is a directory: give the checkpoint's file name");
    check(!fs::exists(st) || fs::is_regular_file(st), "--out ", out,
          " exists and is not a regular file: it would be replaced by the checkpoint");
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    fs::path existing = dir;
    while (!fs::exists(existing, ec) && existing.has_parent_path()) existing = existing.parent_path();
    if (!fs::exists(existing, ec)) existing = "."; // a relative path's first component is to be made
    check(fs::is_directory(existing, ec), "--out ", out, ": ", existing.string(), " is not a directory");
    const std::string probe = existing == dir ? cat(out, ".tmp.", ::getpid())
                                              : (existing / cat(".vkcnn-probe.", ::getpid())).string();
    std::FILE* f = std::fopen(probe.c_str(), "wb");
    check(f != nullptr, "--out ", out, ": cannot write in ", existing.string(), ": ", std::strerror(errno));
    std::fclose(f);
    std::remove(probe.c_str());
}

// A resumed checkpoint must be of this run: the same model, data, batch
// order and optimizer, else its epoch and step mean something else. A key
// older checkpoints lack is not compared.
void check_same_run(const nn::Checkpoint& c, const TrainArgs& a) {
    const auto same = [&](const char* key, const std::string& ours, const char* option) {
        const auto it = c.metadata.find(key);
        if (it == c.metadata.end()) return;
        check(it->second == ours, c.path, ": the checkpoint's run has ", option, " ", nn::quoted_value(it->second),
              ", this one ", option, " '", ours, "': give ", option, " ", nn::quoted_value(it->second),
              " to continue that run");
    };
    same("model", a.model, "--model");
    same("dataset", a.dataset, "--dataset");
    same("optimizer", a.optimizer, "--optimizer");
    const auto same_number = [&](const char* key, uint64_t ours, const char* option) {
        if (!c.metadata.contains(key)) return;
        const uint64_t theirs = nn::metadata_u64(c, key);
        check(theirs == ours, c.path, ": the checkpoint's run has ", option, " ", theirs, ", this one ", option, " ",
              ours, ": give ", option, " ", theirs, " to continue that run");
    };
    same_number("seed", a.seed, "--seed");
    same_number("batch", static_cast<uint64_t>(a.batch), "--batch");
    same_number("validation", static_cast<uint64_t>(a.validation), "--validation");
}

// Where a resumed run continues: checked against this run's epochs and
// batches (an "epoch_step" past the epoch's end would skip batches forever,
// an "epoch" at --epochs trains nothing) and against each other.
struct ResumePoint {
    uint64_t step, epoch, epoch_step;
};
ResumePoint resume_point(const nn::Checkpoint& c, const TrainArgs& a, uint64_t per_epoch) {
    const ResumePoint r{nn::metadata_u64(c, "step"), nn::metadata_u64(c, "epoch"), nn::metadata_u64(c, "epoch_step")};
    check(r.epoch_step < per_epoch, c.path, ": metadata 'epoch_step' is ", r.epoch_step, ", but an epoch of this run has ",
          per_epoch, " steps (0 to ", per_epoch - 1, ")");
    const auto epochs = static_cast<uint64_t>(a.epochs);
    if (r.epoch >= epochs) {
        check(r.epoch < INT_MAX, c.path, ": metadata 'epoch' is ", r.epoch, ", more epochs than any run trains");
        const std::string where = r.epoch_step == 0 ? cat("has trained ", r.epoch, " epoch(s)")
                                                    : cat("is in epoch ", r.epoch + 1);
        throw Error(cat(c.path, ": the checkpoint ", where, ": --epochs ", a.epochs,
                        " leaves nothing to train; give --epochs ", r.epoch + 1, " or more"));
    }
    const uint64_t expected = r.epoch * per_epoch + r.epoch_step; // < --epochs * per_epoch: no overflow
    check(r.step == expected, c.path, ": metadata 'step' is ", r.step, ", but epoch ", r.epoch, " and epoch_step ",
          r.epoch_step, " at ", per_epoch, " steps per epoch make ", expected);
    return r;
}

// --log FILE: the run's curve as CSV, one line per step and per test
// evaluation, flushed per line so an interrupted run keeps what it trained.
// A resumed run appends to an existing log; a new run starts it afresh.
class RunLog {
public:
    RunLog(const std::string& path, bool resume) : path_(path) {
        if (path.empty()) return;
        std::error_code ec;
        const bool append = resume && std::filesystem::file_size(path, ec) > 0 && !ec;
        file_ = std::fopen(path.c_str(), append ? "a" : "w");
        check(file_ != nullptr, "--log ", path, ": cannot write: ", std::strerror(errno));
        if (!append) line(cat(viz::kLogHeader));
    }
    ~RunLog() {
        if (file_) std::fclose(file_);
    }
    RunLog(const RunLog&) = delete;
    RunLog& operator=(const RunLog&) = delete;

    void step(uint64_t step, double epoch, double loss, double accuracy, double lr) {
        if (file_) line(format("train", step, epoch, loss, accuracy) + cat(",", number(lr)));
    }
    void test(uint64_t step, double epoch, const nn::EvalResult& r) {
        if (file_) line(format("test", step, epoch, r.loss, r.accuracy()) + ",");
    }

private:
    static std::string number(double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%.9g", v);
        return b;
    }
    static std::string format(const char* kind, uint64_t step, double epoch, double loss, double accuracy) {
        return cat(kind, ",", step, ",", number(epoch), ",", number(loss), ",", number(accuracy));
    }
    void line(const std::string& text) {
        const bool ok = std::fprintf(file_, "%s\n", text.c_str()) > 0 && std::fflush(file_) == 0;
        check(ok, "--log ", path_, ": cannot write: ", std::strerror(errno));
    }
    std::string path_;
    std::FILE* file_ = nullptr;
};

} // namespace

int train(const TrainArgs& a) {
    // First: a signal during the slow start-up must exit cleanly, too.
    SignalHandlers signals;
    const nn::Sequential net = nn::model_by_name(a.model);
    if (!a.freeze.empty()) {
        bool trained = false;
        for (const nn::StateSpec& s : nn::model_state(net, {1, 28, 28}))
            trained |= s.role == graph::Role::Parameter &&
                       std::none_of(a.freeze.begin(), a.freeze.end(), [&](const std::string& p) { return s.name.starts_with(p); });
        check(trained, "--freeze ", joined(a.freeze), " freezes every parameter of ", a.model, ": nothing to train");
    }
    make_optimizer(a);    // an unknown optimizer fails before the data loads,
    augment_attrs(a, {}); // and so do bad --augment-* values
    check_out(a.out);     // and an --out that cannot be written
    RunLog log(a.log, !a.resume.empty()); // and a --log that cannot
    data::Dataset train_set = first_samples(load_dataset(a.data_dir, a.dataset, data::Split::Train), a.limit);
    const data::Dataset test_set = first_samples(load_dataset(a.data_dir, a.dataset, data::Split::Test), a.limit);
    const std::string limited = a.limit > 0 ? cat(" (--limit ", a.limit, ")") : std::string();
    check(a.validation < train_set.size(), "--validation ", a.validation, " holds out every training sample: the ",
          a.dataset, " training set has ", train_set.size(), limited);
    // --validation N: N training samples (chosen by the seed, so a resumed run
    // holds out the same ones) are evaluated after every epoch, never trained on.
    std::optional<data::Dataset> validation_set;
    if (a.validation > 0) {
        doing("holding out the validation samples");
        data::TrainValidation split = data::split_train_validation(train_set, a.validation, a.seed);
        train_set = std::move(split.train);
        validation_set = std::move(split.validation);
        std::printf("validation: %lld training samples held out\n", static_cast<long long>(a.validation));
    }
    check(a.batch <= train_set.size(), "--batch ", a.batch, " is larger than the ", train_set.size(),
          " training samples", a.validation > 0 ? cat(" left after --validation ", a.validation) : limited,
          ": an epoch would have no batch");
    const std::optional<ops::AugmentAttrs> augment = augment_attrs(a, train_set.normalization());
    const std::unique_ptr<Device> dev = open_device(a.backend);
    cpu::ThreadPool pool(a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency()));

    doing(cat("compiling the training step of ", a.model, " at batch ", a.batch));
    nn::Model model(net, {.seed = a.seed}, dev.get(), &pool);
    nn::TrainerOptions options{.batch = a.batch, .optimizer = make_optimizer(a), .augment = augment, .frozen = a.freeze};
    // --adversarial: the attacked share of each batch through an attack of its size.
    const viz::AdversarialTraining adversarial{
        .method = a.adversarial == "fgsm" ? viz::AttackMethod::Fgsm : viz::AttackMethod::Pgd,
        .pgd = {.epsilon = static_cast<float>(a.adversarial_epsilon), .steps = a.adversarial_steps, .random_start = true,
                .seed = a.seed},
        .share = a.adversarial_share};
    const int64_t attacked = std::max<int64_t>(1, std::llround(a.adversarial_share * static_cast<double>(a.batch)));
    std::unique_ptr<viz::Attack> attack;
    if (!a.adversarial.empty()) {
        attack = std::make_unique<viz::Attack>(model, viz::PixelSpace{train_set.normalization()}, attacked);
        options.transform_batch = viz::adversarial_batches(*attack, adversarial);
        std::printf("adversarial: %s at epsilon %g%s on %lld of each %lld images\n", viz::attack_name(adversarial.method),
                    a.adversarial_epsilon, a.adversarial == "pgd" ? cat(", ", a.adversarial_steps, " steps").c_str() : "",
                    static_cast<long long>(std::llround(a.adversarial_share * static_cast<double>(a.batch))),
                    static_cast<long long>(a.batch));
    }
    if (a.augment_stroke > 0) { // on the host, before any adversarial rewrite and the backend's affine augmentation
        auto after = std::move(options.transform_batch);
        const auto [c, h, w] = std::array{train_set.channels(), train_set.height(), train_set.width()};
        options.transform_batch = [=, seed = a.seed, share = static_cast<float>(a.augment_stroke)](
                                      std::span<float> images, std::span<const int32_t> labels, uint64_t step) {
            const auto n = static_cast<int64_t>(images.size()) / (c * h * w);
            data::vary_stroke_width(images, n, c, h, w, seed ^ (step * 0xD1B54A32D192ED03ull), {.probability = share});
            if (after) after(images, labels, step);
        };
        std::printf("augment: stroke width, %g of each batch thickened by 1 or 2 pixels\n", a.augment_stroke);
    }
    nn::Trainer trainer(model, options);
    if (augment) std::printf("augment: %s (fill %.4f)\n", describe(augment).c_str(), static_cast<double>(augment->fill));
    data::BatchLoader loader(train_set, {.batch_size = a.batch, .shuffle = true, .seed = a.seed, .drop_last = true});
    const uint64_t per_epoch = static_cast<uint64_t>(loader.batches_per_epoch());
    const uint64_t total = per_epoch * static_cast<uint64_t>(a.epochs);
    nn::Schedule schedule{nn::schedule_kind(a.schedule), a.lr};
    schedule.step_size = per_epoch * static_cast<uint64_t>(std::max(1, a.step_epochs));
    schedule.warmup_steps = a.warmup_steps;

    uint64_t first_epoch = 0, skip = 0;
    if (!a.resume.empty()) {
        doing(cat("reading ", a.resume));
        const io::SafeTensors file = io::read_safetensors(a.resume);
        // The metadata first: "trained with --model resnet" says more than a tensor's shape.
        check_same_run({{}, file.metadata, a.resume}, a);
        const nn::Checkpoint c = nn::read_checkpoint(file, a.resume, trainer);
        const ResumePoint r = resume_point(c, a, per_epoch);
        trainer.load_state(c.state, r.step);
        // Not an error (a run may continue with other augmentation), but no longer the same run.
        const auto aug = c.metadata.find("augment");
        if (aug != c.metadata.end() && aug->second != describe(augment))
            std::printf("note: the checkpoint trained with augment: %s; this run uses: %s\n",
                        nn::quoted_value(aug->second).c_str(), describe(augment).c_str());
        first_epoch = r.epoch;
        skip = r.epoch_step;
        std::printf("resumed %s at epoch %llu, step %llu\n", a.resume.c_str(),
                    static_cast<unsigned long long>(first_epoch + 1), static_cast<unsigned long long>(trainer.steps()));
    }

    const uint64_t first_step = trainer.steps();
    std::optional<uint64_t> saved; // the step of the checkpoint this run last wrote
    const auto save = [&](uint64_t epoch, uint64_t epoch_step) {
        doing(cat("writing the checkpoint ", a.out));
        std::filesystem::path out(a.out);
        std::error_code ec;
        if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path(), ec);
        check(!ec, "--out ", a.out, ": cannot create ", out.parent_path().string(), ": ", ec.message());
        nn::save_checkpoint(a.out, trainer,
                            {{"model", a.model}, {"dataset", a.dataset}, {"epoch", std::to_string(epoch)},
                             {"epoch_step", std::to_string(epoch_step)}, {"seed", std::to_string(a.seed)},
                             {"optimizer", a.optimizer}, {"batch", std::to_string(a.batch)},
                             {"augment", describe(augment)}, {"augment_stroke", cat(a.augment_stroke)},
                             {"frozen", joined(a.freeze)},
                             {"validation", std::to_string(a.validation)},
                             {"adversarial", a.adversarial.empty() ? "none"
                                                                   : cat(a.adversarial, " epsilon ", a.adversarial_epsilon,
                                                                         " steps ", a.adversarial_steps, " share ",
                                                                         a.adversarial_share)}});
        saved = trainer.steps();
        doing("training");
    };
    // A signal arrived: save (unless this step is saved already) and return
    // its exit code. (epoch, epoch_step) is where the next step would be.
    const auto interrupted = [&](uint64_t epoch, uint64_t epoch_step) {
        const int sig = g_signal;
        if (trainer.steps() == first_step) {
            std::printf("interrupted by %s before the first step: no checkpoint written%s\n", signal_name(sig),
                        a.resume.empty() ? "" : cat("; ", a.resume, " still holds step ", first_step).c_str());
        } else {
            if (saved != trainer.steps()) save(epoch, epoch_step);
            std::printf("interrupted by %s: checkpoint of step %llu written to %s (continue with --resume %s)\n",
                        signal_name(sig), static_cast<unsigned long long>(trainer.steps()), a.out.c_str(),
                        a.out.c_str());
        }
        std::fflush(stdout);
        return 128 + sig;
    };

    // --log-every prints lines of its own; the progress line then never rewrites itself.
    const bool tty = isatty(fileno(stdout)) && a.log_every == 0;
    doing(cat("allocating the batch buffers (batch ", a.batch, ")"));
    std::vector<float> images(static_cast<size_t>(a.batch * train_set.image_elements()));
    std::vector<int32_t> labels(static_cast<size_t>(a.batch));
    doing("training");
    signals.training();
    uint64_t collected = first_step; // results arrive in step order
    for (uint64_t epoch = first_epoch; epoch < static_cast<uint64_t>(a.epochs); ++epoch) {
        loader.start_epoch(epoch);
        for (uint64_t k = 0; k < skip; ++k) loader.next(images, labels);
        const auto start = std::chrono::steady_clock::now();
        double loss_sum = 0;
        int64_t correct = 0, seen = 0;
        const auto account = [&](const std::optional<nn::StepResult>& r) {
            if (!r) return;
            ++collected;
            loss_sum += r->loss;
            correct += r->correct;
            seen += a.batch;
            log.step(collected, static_cast<double>(collected) / static_cast<double>(per_epoch), r->loss,
                     static_cast<double>(r->correct) / static_cast<double>(a.batch),
                     nn::learning_rate(schedule, collected, total));
            if (a.log_every > 0 && collected % a.log_every == 0) {
                // %.9g: a float's exact value, so runs compare bit for bit.
                std::printf("step %llu  loss %.9g  correct %d\n", static_cast<unsigned long long>(collected),
                            static_cast<double>(r->loss), r->correct);
                std::fflush(stdout);
            }
        };
        const auto progress = [&](uint64_t done, bool final) {
            if (seen == 0) return;
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const double rate = static_cast<double>(seen) / std::max(secs, 1e-9);
            std::printf("%sepoch %llu/%d  step %llu/%llu  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s%s",
                        tty ? "\r" : "", static_cast<unsigned long long>(epoch + 1), a.epochs,
                        static_cast<unsigned long long>(done), static_cast<unsigned long long>(per_epoch),
                        loss_sum / static_cast<double>(seen / a.batch), 100.0 * correct / static_cast<double>(seen),
                        rate, duration(static_cast<double>((per_epoch - done) * a.batch) / rate).c_str(),
                        tty && !final ? "" : "\n");
            std::fflush(stdout);
        };
        for (uint64_t k = skip; k < per_epoch; ++k) {
            if (g_signal) { // before the step: the steps done are all collected, checked and saved
                account(trainer.flush());
                progress(k, true);
                return interrupted(epoch, k);
            }
            loader.next(images, labels);
            trainer.set_learning_rate(nn::learning_rate(schedule, trainer.steps() + 1, total));
            // Pipelined: this step computes while the next batch is loaded; its loss arrives a step later.
            account(trainer.start_step(images, labels));
            const bool last = k + 1 == per_epoch;
            // A checkpoint holds only steps whose loss was checked: flush first.
            const bool save_now = !last && a.save_every > 0 && trainer.steps() % a.save_every == 0;
            if (last || save_now) account(trainer.flush());
            if (last || (tty ? k % 10 == 0 : k % 200 == 0)) progress(k + 1, last);
            if (save_now) save(epoch, k + 1);
        }
        skip = 0;
        save(epoch + 1, 0);
        if (g_signal) return interrupted(epoch + 1, 0);
        doing("evaluating");
        if (validation_set) print_eval("validation", trainer.evaluate(*validation_set));
        const nn::EvalResult tested = trainer.evaluate(test_set);
        print_eval("test", tested);
        log.test(trainer.steps(), static_cast<double>(epoch + 1), tested);
        std::printf("checkpoint: %s\n", a.out.c_str());
        std::fflush(stdout);
        doing("training");
        if (g_signal) return interrupted(epoch + 1, 0);
    }
    return 0;
}

int evaluate(const EvalArgs& a) {
    const nn::Sequential net = nn::model_by_name(a.model);
    doing(cat("reading ", a.checkpoint));
    const io::SafeTensors file = io::read_safetensors(a.checkpoint); // a bad file fails first
    const data::Dataset test_set = first_samples(load_dataset(a.data_dir, a.dataset, data::Split::Test), a.limit);
    const std::unique_ptr<Device> dev = open_device(a.backend);
    cpu::ThreadPool pool(std::max(1u, std::thread::hardware_concurrency()));
    // No larger than the test set (a --batch of millions would allocate for nothing).
    const int64_t batch = std::min(a.batch, test_set.size());
    nn::Model model(net, {}, dev.get(), &pool);
    const nn::Checkpoint c = nn::read_checkpoint(file, a.checkpoint, model.parameters());
    // Broken weights evaluate to a number that looks like a result (10% or
    // 7%): say so, and exit non-zero after printing it.
    const std::vector<std::string> bad = nn::nonfinite_tensors(c.state);
    if (!bad.empty()) {
        std::string list;
        for (size_t i = 0; i < bad.size() && i < 3; ++i) list += (i ? ", " : "") + bad[i];
        if (bad.size() > 3) list += cat(" and ", bad.size() - 3, " more");
        std::fprintf(stderr, "vkcnn: warning: %s: the weights hold NaN or infinity: %s; the results below mean nothing\n",
                     a.checkpoint.c_str(), list.c_str());
    }
    model.load_weights(c.state);
    doing(cat("evaluating ", a.model, " at batch ", batch));
    const nn::EvalResult r = model.evaluate(test_set, batch);
    print_eval(cat(a.dataset, " test").c_str(), r);
    if (a.confusion) {
        const auto classes = static_cast<size_t>(std::lround(std::sqrt(static_cast<double>(r.confusion.size()))));
        std::printf("confusion (rows: true class, columns: predicted)\n");
        for (size_t t = 0; t < classes; ++t) {
            for (size_t p = 0; p < classes; ++p) std::printf("%6lld", static_cast<long long>(r.confusion[t * classes + p]));
            std::printf("\n");
        }
    }
    return bad.empty() ? 0 : 1;
}

int profile(const ProfileArgs& a) {
    const nn::Sequential net = nn::model_by_name(a.model);
    const std::unique_ptr<Device> dev = open_device(a.backend);
    const unsigned threads = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
    cpu::ThreadPool pool(threads);
    nn::Model model(net, {}, dev.get(), &pool);
    nn::Trainer trainer(model, {.batch = a.batch, .optimizer = ops::SgdAttrs{.lr = 0.01, .momentum = 0.9}, .profile = true});
    std::vector<float> images(static_cast<size_t>(a.batch * 784));
    std::vector<int32_t> labels(static_cast<size_t>(a.batch));
    for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>((i * 7919) % 255) / 255.0f;
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 10);
    const ProfiledSteps p = profile_steps(trainer, a.steps, [&] {
        return std::pair<std::span<const float>, std::span<const int32_t>>(images, labels);
    });
    if (dev) // host time: the step's uploads, submit, wait and loss read-back, less the GPU's own time
        std::printf("%s, batch %lld, %d steps: %.2f ms wall per step, %.2f ms GPU, %.2f ms host\n", a.model.c_str(),
                    static_cast<long long>(a.batch), a.steps, p.wall_ms, p.gpu_ms, p.wall_ms - p.gpu_ms);
    else // the rest: feeding the batch, reading the loss back, the loop between nodes
        std::printf("%s, batch %lld, CPU backend, %u threads, %d steps: %.2f ms wall per step, %.2f ms in nodes, "
                    "%.2f ms between\n",
                    a.model.c_str(), static_cast<long long>(a.batch), threads, a.steps, p.wall_ms, p.gpu_ms,
                    p.wall_ms - p.gpu_ms);
    std::printf("%s", exec::format_profile(p.last).c_str());
    return 0;
}

} // namespace vkcnn::cli
