// Checkpoints: a trainer's whole state round-trips through a safetensors
// file (identical predictions after reloading into a fresh trainer), a
// checkpoint that does not fit the model is refused naming the file and the
// tensor, and an independent numpy reader sees the same values
// (tests/nn/read_checkpoint.py, run by ctest on the file written here).
#include "vkcnn/nn/checkpoint.h"
#include "vkcnn/nn/models.h"

#include "support/training.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unistd.h>

using namespace vkcnn;
using vkcnn::test::Training;

namespace {

std::filesystem::path temp_dir() {
    const auto dir = std::filesystem::temp_directory_path() / ("vkcnn_checkpoint_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

// A LeNet-5 trainer on the CPU after two SGD steps (so momentum buffers are not zero).
struct Trained {
    cpu::ThreadPool pool{1};
    nn::Sequential net = nn::lenet5();
    Training trainer{net, {.seed = 5}, {.batch = 4}, nullptr, pool};
    std::vector<float> images = std::vector<float>(4 * 784);
    Trained() {
        for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
        for (int s = 0; s < 2; ++s) trainer.step(images, std::vector<int32_t>{1, 2, 3, 4});
    }
};

} // namespace

TEST_CASE("nn/checkpoint: the state round-trips and a reloaded model predicts the same") {
    Trained t;
    const auto path = (temp_dir() / "lenet5.safetensors").string();
    nn::save_checkpoint(path, t.trainer, {{"model", "lenet5"}, {"epoch", "1"}});
    Training fresh(t.net, {.seed = 77}, {.batch = 4}, nullptr, t.pool);
    const nn::Checkpoint c = nn::read_checkpoint(path, fresh);
    CHECK(c.metadata.at("model") == "lenet5");
    CHECK(c.metadata.at("step") == "2");
    CHECK(c.state == t.trainer.state());
    CHECK(c.state.contains("3.weight.momentum_buffer"));
    fresh.load_state(c.state, 2);
    CHECK(fresh.predict(t.images, 4) == t.trainer.predict(t.images, 4));

    // For the independent reader: the checkpoint and its values as text.
    if (const char* out = std::getenv("VKCNN_CHECKPOINT_REFERENCE")) {
        nn::save_checkpoint(std::string(out) + ".safetensors", t.trainer, {{"model", "lenet5"}});
        std::ofstream text(std::string(out) + ".txt");
        for (const nn::StateSpec& spec : t.trainer.state_layout()) {
            text << spec.name;
            for (int64_t d : spec.shape.dims) text << ' ' << d;
            text << " :";
            for (float v : c.state.at(spec.name)) {
                uint32_t bits;
                std::memcpy(&bits, &v, 4);
                text << ' ' << bits;
            }
            text << '\n';
        }
    }
}

TEST_CASE("nn/checkpoint: a checkpoint that does not fit the model is refused, naming the file and the tensor") {
    Trained t;
    const auto dir = temp_dir();
    const auto write = [&](const std::string& name, std::vector<io::SafeTensor> tensors) {
        const auto path = (dir / name).string();
        io::write_safetensors(path, tensors);
        return path;
    };
    std::vector<io::SafeTensor> good;
    const nn::StateDict state = t.trainer.state();
    for (const nn::StateSpec& s : t.trainer.parameters())
        good.push_back(io::SafeTensor::make<float>(s.name, s.shape.dims, state.at(s.name)));

    // Weights only (no optimizer state): accepted.
    CHECK_NOTHROW(nn::read_checkpoint(write("weights.safetensors", good), t.trainer));

    auto missing = good;
    missing.erase(missing.begin());
    CHECK_THROWS_WITH(nn::read_checkpoint(write("missing.safetensors", missing), t.trainer),
                      doctest::Contains("missing.safetensors: tensor '0.weight' (6, 1, 5, 5) is missing"));

    auto reshaped = good;
    reshaped[0].shape = {6, 25};
    CHECK_THROWS_WITH(nn::read_checkpoint(write("shape.safetensors", reshaped), t.trainer),
                      doctest::Contains("tensor '0.weight' has shape (6, 25), the model has (6, 1, 5, 5)"));

    auto extra = good;
    extra.push_back(io::SafeTensor::make<float>("fc.extra", {1}, std::vector<float>{1.0f}));
    CHECK_THROWS_WITH(nn::read_checkpoint(write("extra.safetensors", extra), t.trainer),
                      doctest::Contains("tensor 'fc.extra' is not part of this model"));

    auto doubles = good;
    const std::vector<double> bias(6, 0.5);
    doubles[1] = io::SafeTensor::make<double>("0.bias", {6}, bias);
    CHECK_THROWS_WITH(nn::read_checkpoint(write("f64.safetensors", doubles), t.trainer), doctest::Contains("0.bias"));

    const auto truncated = (dir / "truncated.safetensors").string();
    std::ofstream(truncated, std::ios::binary) << "\x10\x00\x00";
    CHECK_THROWS_WITH(nn::read_checkpoint(truncated, t.trainer), doctest::Contains("truncated.safetensors"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("nn/checkpoint: evaluation reads the weights whichever optimizer trained them") {
    cpu::ThreadPool pool(1);
    const nn::Sequential net = nn::lenet5();
    Training adam(net, {.seed = 1}, {.batch = 2, .optimizer = ops::AdamAttrs{}}, nullptr, pool);
    const auto path = (temp_dir() / "adam.safetensors").string();
    nn::save_checkpoint(path, adam, {});
    Training sgd(net, {}, {.batch = 2}, nullptr, pool);
    CHECK_THROWS_WITH(nn::read_checkpoint(path, sgd), doctest::Contains("tensor '0.weight.exp_avg' is not part of this model"));
    const nn::Checkpoint weights = nn::read_checkpoint(path, sgd, false);
    CHECK(weights.state.size() == sgd.parameters().size());
    CHECK(weights.state.at("7.weight") == adam.state().at("7.weight"));
}

TEST_CASE("nn/checkpoint: metadata is read strictly, errors name the file, the key and the value") {
    nn::Checkpoint c{{}, {}, "run.safetensors"};
    const auto u64 = [&](const std::string& value) {
        c.metadata["k"] = value;
        return nn::metadata_u64(c, "k");
    };
    CHECK(u64("0") == 0);
    CHECK(u64("0042") == 42);
    CHECK(u64("18446744073709551615") == UINT64_MAX);
    for (const char* bad : {"-1", "abc", "", " 7", "7 ", "+7", "1e3", "0x10", "3.0"}) {
        CAPTURE(bad);
        const std::string want = std::string("run.safetensors: metadata 'k' is '") + bad + "', not a non-negative integer";
        CHECK_THROWS_WITH(u64(bad), doctest::Contains(want.c_str()));
    }
    CHECK_THROWS_WITH(u64("18446744073709551616"),
                      doctest::Contains("metadata 'k' is '18446744073709551616', more than 2^64 - 1"));
    CHECK_THROWS_WITH(u64(std::string(1000, '7')),
                      doctest::Contains("is '7777777777777777777777777777777777777777...' (1000 characters), more than"));
    CHECK_THROWS_WITH(u64("1\n\x1b[2J"), doctest::Contains("is '1??[2J', not")); // no terminal escapes
    CHECK_THROWS_WITH(nn::metadata_text(c, "epoch"),
                      doctest::Contains("run.safetensors: metadata 'epoch' is missing: not a vkcnn training checkpoint"));
    CHECK(nn::metadata_text(c, "k") == "1\n\x1b[2J");
}

TEST_CASE("nn/checkpoint: NaN and infinity in the weights are found, by tensor") {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    CHECK(nn::nonfinite_tensors({{"a", {1, 2}}, {"b", {}}}).empty());
    CHECK(nn::nonfinite_tensors({{"b", {nan, 1, -inf}}, {"a", {0}}, {"c", {inf}}}) ==
          std::vector<std::string>{"'b' (2 of 3 values)", "'c' (1 of 1 values)"});
}

// kill -9 during a write leaves "<path>.tmp.<pid>"; the next save removes
// it (io/temporary_file_test.cpp has the rules: stale means unlocked).
TEST_CASE("nn/checkpoint: saving removes the temporary files of writers that were killed") {
#if defined(__EMSCRIPTEN__)
    MESSAGE("WebAssembly has no other processes (io/temporary_file.cpp keeps every temporary there): skipped");
    return;
#endif
    Trained t;
    const auto dir = temp_dir() / "stale";
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "model.safetensors").string();
    const auto touch = [&](const std::string& name) {
        std::ofstream(dir / name) << "partial";
        return dir / name;
    };
    // pid 1 runs, but it holds no lock: a dead writer whose pid was reused.
    const auto reused = touch("model.safetensors.tmp.1");
    const auto mine = touch(cat("model.safetensors.tmp.", getpid()));
    const auto other = touch("other.safetensors.tmp.1");
    nn::save_checkpoint(path, t.trainer, {});
    CHECK_FALSE(std::filesystem::exists(reused));
    CHECK_FALSE(std::filesystem::exists(mine)); // became the checkpoint
    CHECK(std::filesystem::exists(other));
    CHECK(nn::read_checkpoint(path, t.trainer).state == t.trainer.state());
    std::filesystem::remove_all(dir);
}
