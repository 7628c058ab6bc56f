// vkcnn: the command-line tool. Errors from the library reach the user as one
// clear line and a non-zero exit code, never a crash.
#include "commands.h"
#include "common.h"
#include "viz.h"

#include "vkcnn/core/error.h"

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>

namespace {

using vkcnn::cli::finite_number;
using vkcnn::cli::whole_number;

const CLI::Validator kPositive = finite_number(0, false, "a finite number > 0", "POSITIVE");
const CLI::Validator kNonNegative = finite_number(0, true, "a finite number >= 0", "NONNEGATIVE");
const CLI::Validator kCount = whole_number(1, "POSITIVE");    // sizes and counts
const CLI::Validator kOptional = whole_number(0, "NONNEGATIVE"); // 0: off, or all

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"vkcnn: train convolutional networks on any Vulkan GPU"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "vkcnn 0.1.0");
    // Every subcommand opens its device through Device::create, which reads
    // $VKCNN_DEVICE: --device sets it, before or after the subcommand.
    std::string device;
    app.add_option("--device", device, "Vulkan device: index or name substring, as `vkcnn info` lists (default: $VKCNN_DEVICE, else the best)");
    app.fallthrough();

    app.add_subcommand("info", "List Vulkan devices and what vkcnn would use");
    auto* check = app.add_subcommand("check", "Compare the GPU with the CPU backend on a test kernel");
    size_t elements = 1 << 20;
    bool validation = false;
    check->add_option("-n,--elements", elements, "Elements per test tensor")->check(kCount);
    check->add_flag("--validation", validation, "Enable the Vulkan validation layer");

    vkcnn::cli::TrainArgs t;
    auto* train = app.add_subcommand("train", "Train a model on MNIST or Fashion-MNIST and write a checkpoint");
    train->add_option("--model", t.model, "lenet5, resnet or mobilenet")->capture_default_str();
    train->add_option("--dataset", t.dataset, "mnist or fashion-mnist")->capture_default_str();
    train->add_option("--data", t.data_dir, "Folder holding mnist/ and fashion-mnist/")->capture_default_str();
    train->add_option("--epochs", t.epochs, "Epochs")->check(kCount)->capture_default_str();
    train->add_option("--batch", t.batch, "Batch size")->check(kCount)->capture_default_str();
    train->add_option("--lr", t.lr, "Learning rate")->check(kPositive)->capture_default_str();
    train->add_option("--optimizer", t.optimizer, "sgd, adam or adamw")->capture_default_str();
    train->add_option("--momentum", t.momentum, "SGD momentum")->check(kNonNegative)->capture_default_str();
    train->add_flag("--nesterov", t.nesterov, "Nesterov momentum");
    train->add_option("--weight-decay", t.weight_decay, "L2 (sgd, adam) or decoupled (adamw) weight decay")
        ->check(kNonNegative);
    train->add_option("--schedule", t.schedule, "constant, step (x0.1 every --step-epochs) or cosine")->capture_default_str();
    train->add_option("--step-epochs", t.step_epochs, "Epochs between steps of the step schedule")->check(kCount);
    train->add_option("--warmup-steps", t.warmup_steps, "Linear warm-up steps")->check(kOptional);
    train->add_option("--backend", t.backend, "vulkan or cpu")->capture_default_str();
    train->add_option("--threads", t.threads, "CPU threads (0: all)")->check(kOptional);
    train->add_option("--seed", t.seed, "Seed of the initial weights and the batch order")->check(kOptional)->capture_default_str();
    train->add_option("--out", t.out, "Checkpoint file (safetensors)")->capture_default_str();
    train->add_option("--resume", t.resume, "Continue the run saved in this checkpoint");
    train->add_option("--validation", t.validation, "Hold out this many training samples, evaluated after every epoch")
        ->check(kOptional);
    train->add_option("--freeze", t.freeze, "Parameters not trained, by name prefix (e.g. 0.,3.weight)")
        ->delimiter(',');
    train->add_option("--save-every", t.save_every, "Also write the checkpoint every N steps (0: at the end of each epoch only)")
        ->check(kOptional);
    train->add_option("--log-every", t.log_every, "Print the loss of every N-th step, exactly (0: the progress line only)")
        ->check(kOptional);
    train->add_option("--log", t.log, "Also write a CSV of every step's loss, batch accuracy and learning rate, "
                                      "and of each test evaluation (vkcnn viz curves plots it)");
    train->add_option("--limit", t.limit, "Train and test on the first N samples of each set only (quick runs, tests)")
        ->check(kOptional);
    auto* augment = train->add_flag("--augment", t.augment, "Random affine augmentation of the training batches");
    train->add_option("--augment-degrees", t.augment_degrees, "--augment: largest rotation, degrees")
        ->needs(augment)->check(kNonNegative)->capture_default_str();
    train->add_option("--augment-scale", t.augment_scale, "--augment: scale in [1 - s, 1 + s]")
        ->needs(augment)->check(kNonNegative)->capture_default_str();
    train->add_option("--augment-translate", t.augment_translate, "--augment: largest shift, pixels")
        ->needs(augment)->check(kNonNegative)->capture_default_str();
    train->add_option("--augment-stroke", t.augment_stroke,
                      "Thicken this share of each batch's digits by 1 or 2 pixels (grey dilation): drawn digits")
        ->check(CLI::Range(0.0, 1.0));
    auto* adversarial = train->add_option("--adversarial", t.adversarial,
                                          "Adversarial training: fgsm or pgd examples replace a share of each batch")
                            ->check(CLI::IsMember({"fgsm", "pgd"}));
    train->add_option("--adversarial-epsilon", t.adversarial_epsilon, "--adversarial: the attack's epsilon, pixel units")
        ->needs(adversarial)->check(kNonNegative)->capture_default_str();
    train->add_option("--adversarial-steps", t.adversarial_steps, "--adversarial pgd: steps (random start, step 2.5 eps / steps)")
        ->needs(adversarial)->check(kCount)->capture_default_str();
    train->add_option("--adversarial-share", t.adversarial_share, "--adversarial: the share of each batch attacked, in [0, 1]")
        ->needs(adversarial)->check(CLI::Range(0.0, 1.0))->capture_default_str();

    vkcnn::cli::EvalArgs ev;
    auto* eval = app.add_subcommand("eval", "Test-set accuracy of a checkpoint");
    eval->add_option("checkpoint", ev.checkpoint, "Checkpoint file (safetensors)")->required();
    eval->add_option("--model", ev.model, "lenet5, resnet or mobilenet")->capture_default_str();
    eval->add_option("--dataset", ev.dataset, "mnist or fashion-mnist")->capture_default_str();
    eval->add_option("--data", ev.data_dir, "Folder holding mnist/ and fashion-mnist/")->capture_default_str();
    eval->add_option("--backend", ev.backend, "vulkan or cpu")->capture_default_str();
    eval->add_option("--batch", ev.batch, "Batch size")->check(kCount)->capture_default_str();
    eval->add_option("--limit", ev.limit, "Evaluate the first N test samples only")->check(kOptional);
    eval->add_flag("--confusion", ev.confusion, "Print the confusion matrix");

    vkcnn::cli::ProfileArgs pr;
    auto* prof = app.add_subcommand("profile", "Time a training step per node (GPU timestamps, or a clock on the CPU)");
    prof->add_option("--model", pr.model, "lenet5, resnet or mobilenet")->capture_default_str();
    prof->add_option("--backend", pr.backend, "vulkan or cpu")->capture_default_str();
    prof->add_option("--threads", pr.threads, "CPU backend threads (0: all)")->check(kOptional)->capture_default_str();
    prof->add_option("--batch", pr.batch, "Batch size")->check(kCount)->capture_default_str();
    prof->add_option("--steps", pr.steps, "Steps to run; the last one is shown")->check(kCount)->capture_default_str();

    vkcnn::cli::BenchArgs be;
    auto* bench = app.add_subcommand("bench", "Training throughput: ms per step and images/s");
    bench->add_option("--model", be.model, "lenet5, resnet or mobilenet")->capture_default_str();
    bench->add_option("--batch", be.batch, "Batch size")->check(kCount)->capture_default_str();
    bench->add_option("--backend", be.backend, "vulkan, cpu or both")->capture_default_str();
    bench->add_option("--threads", be.threads, "CPU backend threads (0: all)")->check(kOptional)->capture_default_str();
    bench->add_option("--dataset", be.dataset, "random, mnist or fashion-mnist")->capture_default_str();
    bench->add_option("--data", be.data_dir, "Folder holding mnist/ and fashion-mnist/")->capture_default_str();
    bench->add_option("--warmup", be.warmup, "Untimed steps first")->check(kOptional)->capture_default_str();
    bench->add_option("--steps", be.steps, "Timed steps per run")->check(kCount)->capture_default_str();
    bench->add_option("--runs", be.runs, "Runs; the median is shown")->check(kCount)->capture_default_str();
    bench->add_flag("--csv", be.csv, "CSV lines model,backend,batch,threads,ms_per_step,images_per_s");

    vkcnn::cli::PredictArgs pd;
    auto* pred = app.add_subcommand("predict", "Classify an image or a test-set sample with a checkpoint");
    pred->add_option("checkpoint", pd.checkpoint, "Checkpoint file (safetensors)")->required();
    auto* image = pred->add_option("--image", pd.image,
                                   "A PNG: 28x28 light on dark is taken as is; any other size is a drawn digit, "
                                   "preprocessed as MNIST (light background inverted, ink fitted into 20x20, "
                                   "centred by its mass)");
    pred->add_option("--index", pd.index, "A test-set sample instead")->excludes(image);
    pred->add_flag("--preprocess", pd.preprocess, "Preprocess a 28x28 image as a drawn digit too")->needs(image);
    pred->add_option("--save-preprocessed", pd.save_preprocessed, "Write the 28x28 image the network sees (PNG)")
        ->needs(image);
    pred->add_option("--model", pd.model, "lenet5, resnet or mobilenet")->capture_default_str();
    pred->add_option("--dataset", pd.dataset, "mnist or fashion-mnist")->capture_default_str();
    pred->add_option("--data", pd.data_dir, "Folder holding mnist/ and fashion-mnist/")->capture_default_str();
    pred->add_option("--backend", pd.backend, "vulkan or cpu")->capture_default_str();

    vkcnn::cli::TuneArgs tu;
    auto* tune = app.add_subcommand("tune", "Measure this device's GEMM tilings and keep the fastest");
    tune->add_option("--batch", tu.batch, "Batch of the timed convolution")->check(CLI::Range(1, 4096))->capture_default_str();
    tune->add_option("--runs", tu.runs, "Runs per tiling (the best counts)")->check(kCount)->capture_default_str();
    tune->add_flag("--dry-run", tu.dry_run, "Measure and print only");

    vkcnn::cli::VizArgs vz;
    vkcnn::cli::add_viz(app, vz);

    CLI11_PARSE(app, argc, argv);
    if (!device.empty()) setenv("VKCNN_DEVICE", device.c_str(), 1);
    try {
        if (app.got_subcommand("info")) return vkcnn::cli::info();
        if (app.got_subcommand("check")) return vkcnn::cli::check_gpu(elements, validation);
        if (app.got_subcommand("train")) return vkcnn::cli::train(t);
        if (app.got_subcommand("eval")) return vkcnn::cli::evaluate(ev);
        if (app.got_subcommand("profile")) return vkcnn::cli::profile(pr);
        if (app.got_subcommand("bench")) return vkcnn::cli::bench(be);
        if (app.got_subcommand("tune")) return vkcnn::cli::tune(tu);
        if (app.got_subcommand("viz")) return vkcnn::cli::viz(vz);
        if (app.got_subcommand("predict")) {
            if (pd.image.empty() && pd.index < 0) throw vkcnn::Error("predict: give --image FILE.png or --index N");
            return vkcnn::cli::predict(pd);
        }
    } catch (const std::bad_alloc&) {
        // The library checks the memory a Program needs before allocating
        // it (vkcnn::OutOfMemoryError, below); this is everything else: the
        // exception says nothing, so say what was being done.
        std::fprintf(stderr, "vkcnn: error: out of memory while %s\n", vkcnn::cli::doing().c_str());
        return 1;
    } catch (const std::length_error&) { // a std::vector asked for more than it can ever hold
        std::fprintf(stderr, "vkcnn: error: out of memory while %s (a buffer beyond any size)\n",
                     vkcnn::cli::doing().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vkcnn: error: %s\n", e.what());
        return 1;
    }
    return 1;
}
