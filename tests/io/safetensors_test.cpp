// safetensors: round trip, one case per kind of bad file (each checks what
// the error says), atomic writes under injected and real failures, and the
// reference file that tests/io/read_safetensors.py checks independently.
#include "vkcnn/io/safetensors.h"

#include "vkcnn/core/error.h"

#include "support/files.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

using namespace vkcnn;
using namespace vkcnn::test;
using namespace vkcnn::io;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A hand-made file: the length field, `header` verbatim, `data_size` zero bytes.
std::string raw_file(const std::string& header, size_t data_size, uint64_t length_field = ~0ull) {
    const uint64_t n = length_field == ~0ull ? header.size() : length_field;
    std::string out;
    for (int i = 0; i < 8; ++i) out.push_back(char(uint8_t(n >> (8 * i))));
    return out + header + std::string(data_size, '\0');
}

// read_safetensors's error for a file made of `header` and `data_size` bytes.
std::string read_error(const TempDir& tmp, const std::string& header, size_t data_size) {
    write_text(tmp.file("bad.safetensors"), raw_file(header, data_size));
    return error_of([&] { read_safetensors(tmp.file("bad.safetensors")); });
}

// The files left in a directory (to prove no temporary survives).
std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

// The pattern tests/io/read_safetensors.py recomputes; keep the two in step.
std::vector<SafeTensor> reference_tensors() {
    std::vector<float> weight(60), bias(5), scalar{1.5f};
    for (int i = 0; i < 60; ++i) weight[size_t(i)] = float(i - 30) * 0.375f;
    for (int i = 0; i < 5; ++i) bias[size_t(i)] = 1.0f / float(i + 1);
    std::vector<int32_t> counts(6);
    for (int i = 0; i < 6; ++i) counts[size_t(i)] = i * 1000003 - 2000000000;
    std::vector<int64_t> steps(4);
    for (int i = 0; i < 4; ++i) steps[size_t(i)] = (i % 2 ? -1 : 1) * int64_t(i + 1) * 205891132094649ll; // 3^30
    std::vector<uint8_t> mask(8);
    for (int i = 0; i < 8; ++i) mask[size_t(i)] = uint8_t(i * 37 % 256);
    std::vector<double> wide(7);
    for (int i = 0; i < 7; ++i) wide[size_t(i)] = double(i * 3 - 10) / 16.0 + 1099511627776.0; // + 2^40
    return {SafeTensor::make<float>("conv1.weight", {3, 4, 5}, weight),
            SafeTensor::make<float>("conv1.bias", {5}, bias),
            SafeTensor::make<int32_t>("counts", {2, 3}, counts),
            SafeTensor::make<int64_t>("optim.step", {4}, steps),
            SafeTensor::make<uint8_t>("mask", {2, 2, 2}, mask),
            SafeTensor::make<double>("wide", {7}, wide),
            SafeTensor::make<float>("scalar", {}, scalar),
            SafeTensor::make<float>("empty", {0, 3}, std::span<const float>())};
}

const Metadata kReferenceMetadata{{"format", "pt"}, {"producer", "vkcnn test"}};

} // namespace

TEST_CASE("io/safetensors: round trip keeps dtypes, shapes, values, order and metadata") {
    TempDir tmp;
    const std::vector<SafeTensor> in = reference_tensors();
    write_safetensors(tmp.file("m.safetensors"), in, kReferenceMetadata);
    const SafeTensors out = read_safetensors(tmp.file("m.safetensors"));
    CHECK(out.metadata == kReferenceMetadata);
    REQUIRE(out.tensors.size() == in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        CAPTURE(in[i].name);
        CHECK(out.tensors[i].name == in[i].name);
        CHECK(out.tensors[i].dtype == in[i].dtype);
        CHECK(out.tensors[i].shape == in[i].shape);
        CHECK(out.tensors[i].data == in[i].data);
    }
    CHECK(out.at("conv1.bias").values<float>()[2] == 1.0f / 3.0f);
    CHECK(out.at("optim.step").values<int64_t>()[3] == -4 * 205891132094649ll);
    CHECK(out.at("scalar").numel() == 1);
    CHECK(out.find("nope") == nullptr);
    CHECK(contains(error_of([&] { (void)out.at("nope"); }), "no tensor \"nope\" (have: conv1.weight, conv1.bias"));
    CHECK(contains(error_of([&] { (void)out.at("counts").values<float>(); }), "tensor \"counts\" is I32, read as F32"));
    // The layout the format prescribes: header padded with spaces to 8 bytes.
    const std::string bytes = slurp(tmp.file("m.safetensors"));
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[size_t(i)])) << (8 * i);
    CHECK(n % 8 == 0);
    CHECK(bytes[8] == '{');
    CHECK(bytes.substr(8, size_t(n)).find_last_not_of(' ') + 1 <= size_t(n));
    CHECK(bytes.substr(8, 17) == "{\"__metadata__\":{");
    // Without metadata there is no __metadata__ entry, as the reference writer.
    write_safetensors(tmp.file("plain.safetensors"), std::span(in).first(1));
    CHECK(!contains(slurp(tmp.file("plain.safetensors")), "__metadata__"));
    CHECK(read_safetensors(tmp.file("plain.safetensors")).metadata.empty());
    // Every dtype name maps back to itself.
    for (int t = 0; t <= int(StDType::U64); ++t) CHECK(st_dtype_from_name(st_dtype_name(StDType(t))) == StDType(t));
}

TEST_CASE("io/safetensors: file shorter than 8 bytes") {
    TempDir tmp;
    write_text(tmp.file("bad.safetensors"), "12345");
    CHECK(contains(error_of([&] { read_safetensors(tmp.file("bad.safetensors")); }),
                   tmp.file("bad.safetensors") + ": 5 bytes, shorter than the 8-byte header length"));
    CHECK(contains(error_of([&] { read_safetensors(tmp.file("missing.safetensors")); }),
                   tmp.file("missing.safetensors") + ": cannot open: No such file"));
}

TEST_CASE("io/safetensors: header length beyond the file") {
    TempDir tmp;
    write_text(tmp.file("bad.safetensors"), raw_file("{}", 10, 1000));
    CHECK(contains(error_of([&] { read_safetensors(tmp.file("bad.safetensors")); }),
                   tmp.file("bad.safetensors") + ": header length 1000 goes beyond the file (12 bytes after the length field)"));
}

TEST_CASE("io/safetensors: bad JSON header") {
    TempDir tmp;
    std::string msg = read_error(tmp, "{\"w\": {\"dtype\": ", 0);
    CHECK(contains(msg, tmp.file("bad.safetensors") + ": bad JSON header: "));
    CHECK(contains(msg, "parse_error"));
    CHECK(contains(read_error(tmp, "[1, 2]  ", 0), "bad JSON header: expected an object, found array"));
    CHECK(contains(read_error(tmp, "{\"w\": 3}", 0), "tensor \"w\": expected an object, found 3"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4), "tensor \"w\": missing \"data_offsets\""));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4),
                   "tensor \"w\": shape entry must be a non-negative integer, found -1"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4),
                   "data_offsets must be [begin, end], found [0]"));
    CHECK(contains(read_error(tmp, "{\"__metadata__\": {\"epoch\": 3}}", 0), "__metadata__ \"epoch\" must be a string, found 3"));
}

TEST_CASE("io/safetensors: unknown dtype") {
    TempDir tmp;
    CHECK(contains(read_error(tmp, R"({"w": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}})", 4),
                   tmp.file("bad.safetensors") + ": tensor \"w\": unknown dtype \"F33\" (known: BOOL, U8, I8"));
}

TEST_CASE("io/safetensors: shape and data_offsets sizes must agree") {
    TempDir tmp;
    CHECK(contains(read_error(tmp, R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 20),
                   "tensor \"w\": shape (2, 3) of F32 needs 24 bytes, data_offsets [0, 20] hold 20"));
    CHECK(contains(read_error(tmp, R"({"w": {"dtype": "I64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", 8),
                   "needs more than 2^64 bytes"));
}

TEST_CASE("io/safetensors: data_offsets out of range") {
    TempDir tmp;
    CHECK(contains(read_error(tmp, R"({"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}})", 20),
                   "tensor \"w\": data_offsets [0, 24] out of range: the data section has 20 bytes"));
    CHECK(contains(read_error(tmp, R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", 8),
                   "data_offsets [8, 4] has begin after end"));
}

TEST_CASE("io/safetensors: overlapping or non-contiguous data_offsets") {
    TempDir tmp;
    CHECK(contains(read_error(tmp,
                              R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                              12),
                   "tensor \"b\" data_offsets [4, 12] overlap \"a\" [0, 8]"));
    CHECK(contains(read_error(tmp,
                              R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                  "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                              12),
                   "tensors are not contiguous: 4 unused bytes before \"b\" at data offset 4"));
    CHECK(contains(read_error(tmp, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8),
                   "4 unused bytes before \"a\" at data offset 0"));
    CHECK(contains(read_error(tmp, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 8),
                   "4 bytes after the last tensor: the tensors cover 4 of the 8 data bytes"));
    // Listed out of data order is fine: the format orders by offset.
    write_text(tmp.file("ok.safetensors"),
               raw_file(R"({"b": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]},
                           "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}})",
                        2));
    const SafeTensors ok = read_safetensors(tmp.file("ok.safetensors"));
    REQUIRE(ok.tensors.size() == 2);
    CHECK(ok.tensors[0].name == "a");
}

TEST_CASE("io/safetensors: duplicate names") {
    TempDir tmp;
    CHECK(contains(read_error(tmp,
                              R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                                  "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                              2),
                   tmp.file("bad.safetensors") + ": duplicate tensor name \"w\""));
    CHECK(contains(read_error(tmp, R"({"w": {"dtype": "U8", "dtype": "I8", "shape": [1], "data_offsets": [0, 1]}})", 1),
                   "duplicate key \"dtype\" in \"w\""));
    const std::vector<float> one{1.0f};
    const std::vector<SafeTensor> dup{SafeTensor::make<float>("x", {1}, one), SafeTensor::make<float>("x", {1}, one)};
    CHECK(contains(error_of([&] { serialize_safetensors(dup); }), "duplicate tensor name \"x\""));
}

TEST_CASE("io/safetensors: writer rejects tensors it cannot store") {
    TempDir tmp;
    const std::vector<float> v{1, 2, 3};
    SafeTensor wrong = SafeTensor::make<float>("w", {3}, v);
    wrong.shape = {2, 2};
    CHECK(contains(error_of([&] { write_safetensors(tmp.file("x.safetensors"), std::span(&wrong, 1)); }),
                   "tensor \"w\" of shape (2, 2) and dtype F32 needs 16 bytes, has 12"));
    const SafeTensor meta = SafeTensor::make<float>("__metadata__", {3}, v);
    CHECK(contains(error_of([&] { write_safetensors(tmp.file("x.safetensors"), std::span(&meta, 1)); }),
                   "\"__metadata__\" cannot name a tensor"));
    const SafeTensor bad_utf8 = SafeTensor::make<float>("w\xff", {3}, v);
    CHECK(contains(error_of([&] { serialize_safetensors(std::span(&bad_utf8, 1)); }), "cannot encode the header"));
    CHECK(listing(tmp.path).empty()); // nothing was created
}

TEST_CASE("io/safetensors: a failed write leaves the old file intact") {
    TempDir tmp;
    const std::string path = tmp.file("ckpt.safetensors");
    const std::vector<float> v1{1, 2, 3}, v2{4, 5, 6, 7};
    const std::vector<SafeTensor> old_t{SafeTensor::make<float>("w", {3}, v1)};
    const std::vector<SafeTensor> new_t{SafeTensor::make<float>("w", {4}, v2)};
    write_safetensors(path, old_t);
    const std::string old_bytes = slurp(path);
    // Every step up to the rename, failing: the old file stays, no temporary remains.
    for (const char* failing : {"open", "write", "flush", "fsync", "close", "rename"}) {
        CAPTURE(failing);
        const std::string msg = error_of([&] {
            write_safetensors(path, new_t, {}, [&](std::string_view step) {
                if (step == failing) throw Error(std::string("simulated failure at ") + failing);
            });
        });
        CHECK(msg == std::string("simulated failure at ") + failing);
        CHECK(slurp(path) == old_bytes);
        CHECK(listing(tmp.path) == std::vector<std::string>{"ckpt.safetensors"});
    }
    // After the rename the new file is in place even if the directory sync fails.
    CHECK_THROWS_AS(write_safetensors(path, new_t, {},
                                      [](std::string_view step) {
                                          if (step == "fsync_dir") throw Error("simulated");
                                      }),
                    Error);
    CHECK(read_safetensors(path).at("w").values<float>() == v2);
    write_safetensors(path, old_t);

    // Real failures. The temporary's name is taken by a directory: creating it fails.
    const std::string tmp_name = path + ".tmp." + std::to_string(::getpid());
    fs::create_directory(tmp_name);
    std::string msg = error_of([&] { write_safetensors(path, new_t); });
    CHECK(contains(msg, path + ": cannot write safetensors: cannot create " + tmp_name));
    CHECK(slurp(path) == old_bytes);
    CHECK(fs::is_directory(tmp_name)); // not ours: left alone
    fs::remove(tmp_name);
    // The target is a non-empty directory: the rename fails, the temporary goes.
    fs::create_directories(tmp.path / "dir.safetensors" / "x");
    msg = error_of([&] { write_safetensors(tmp.file("dir.safetensors"), new_t); });
    CHECK(contains(msg, "rename of " + tmp.file("dir.safetensors") + ".tmp."));
    CHECK(listing(tmp.path) == std::vector<std::string>{"ckpt.safetensors", "dir.safetensors"});
    // A directory that does not exist.
    msg = error_of([&] { write_safetensors(tmp.file("no/such/dir.safetensors"), new_t); });
    CHECK(contains(msg, "cannot create"));
    CHECK(contains(msg, "No such file or directory"));
    // A read-only directory (root ignores permissions, so only as a user).
    if (::geteuid() != 0) {
        fs::permissions(tmp.path, fs::perms::owner_read | fs::perms::owner_exec);
        msg = error_of([&] { write_safetensors(path, new_t); });
        CHECK(contains(msg, "Permission denied"));
        fs::permissions(tmp.path, fs::perms::owner_all);
        CHECK(slurp(path) == old_bytes);
    } else {
        MESSAGE("running as root: the read-only directory case is skipped");
    }
}

// Writes the reference file that tests/io/read_safetensors.py reads (ctest
// io/safetensors_python_reader sets VKCNN_SAFETENSORS_REFERENCE to a path in
// the build tree); without it, a temporary file, read back here.
TEST_CASE("io/safetensors: reference file for the Python reader") {
    TempDir tmp;
    const char* env = std::getenv("VKCNN_SAFETENSORS_REFERENCE");
    const std::string path = env ? env : tmp.file("reference.safetensors");
    write_safetensors(path, reference_tensors(), kReferenceMetadata);
    const SafeTensors back = read_safetensors(path);
    CHECK(back.tensors.size() == reference_tensors().size());
    CHECK(back.metadata == kReferenceMetadata);
}

namespace {

// `depth` nested arrays around `inner`: [[[...inner...]]].
std::string nested(size_t depth, const std::string& inner = "0") {
    return std::string(depth, '[') + inner + std::string(depth, ']');
}

} // namespace

TEST_CASE("io/safetensors: JSON nested 100000 deep is parsed and destroyed without recursion") {
    // nlohmann's parser keeps its own stack and its destructor is iterative:
    // depth alone must not overflow ours (dump() would: it recurses).
    CHECK(nlohmann::json::parse(nested(100000)).is_array());
    std::string objects;
    for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
    objects += "0" + std::string(100000, '}');
    CHECK(nlohmann::json::parse(objects).is_object());
}

TEST_CASE("io/safetensors: values nested 100000 deep are described, never dumped") {
    TempDir tmp;
    const std::string deep = nested(100000);
    const std::string file = tmp.file("bad.safetensors");
    CHECK(contains(read_error(tmp, "{\"w\": " + deep + "}", 0),
                   file + ": tensor \"w\": expected an object, found an array of 1 element"));
    CHECK(contains(read_error(tmp, "{\"__metadata__\": " + deep + "}", 0),
                   file + ": __metadata__ must be an object, found an array of 1 element"));
    CHECK(contains(read_error(tmp, "{\"__metadata__\": {\"k\": " + deep + "}}", 0),
                   file + ": __metadata__ \"k\" must be a string, found an array of 1 element"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": " + deep + ", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4),
                   file + ": tensor \"w\": dtype must be a string, found an array of 1 element"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": " + nested(100000, "") +
                                       ", \"data_offsets\": [0, 4]}}", 4),
                   file + ": tensor \"w\": shape entry must be a non-negative integer, found an array of 1 element"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": {\"a\": " + deep +
                                       "}, \"data_offsets\": [0, 4]}}", 4),
                   file + ": tensor \"w\": shape must be an array, found an object of 1 key"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": " + deep + "}}", 4),
                   file + ": tensor \"w\": data_offsets must be [begin, end], found an array of 1 element"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [" + deep +
                                       ", 4]}}", 4),
                   file + ": tensor \"w\": data_offsets begin must be a non-negative integer, found an array of 1 element"));
    // Unknown keys are ignored, however deep (and freed without recursion).
    write_text(file, raw_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1], \"x\": " + deep + "}}", 1));
    CHECK(read_safetensors(file).at("w").data.size() == 1);
}

TEST_CASE("io/safetensors: long values, names and parse errors are cut in messages") {
    TempDir tmp;
    const std::string long_dtype(100000, 'F');
    std::string msg = read_error(tmp, "{\"w\": {\"dtype\": \"" + long_dtype + "\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4);
    CHECK(contains(msg, "unknown dtype \"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF... (100000 bytes)\" (known: BOOL"));
    CHECK(msg.size() < 400);
    const std::string long_name(1'000'000, 'n');
    msg = read_error(tmp, "{\"" + long_name + "\": 5}", 0);
    CHECK(contains(msg, "... (1000000 bytes)\": expected an object, found 5"));
    CHECK(msg.size() < 500);
    // A name with control characters cannot rewrite the terminal.
    msg = read_error(tmp, "{\"a\\u001b[2Jb\": 5}", 0);
    CHECK(contains(msg, "tensor \"a\\x1B[2Jb\": expected an object"));
    // An unterminated string of 1 MB: nlohmann's message quotes all it read.
    msg = read_error(tmp, "{\"w\": \"" + std::string(1'000'000, 'x'), 0);
    CHECK(contains(msg, tmp.file("bad.safetensors") + ": bad JSON header: [json.exception.parse_error"));
    CHECK(msg.size() < 600);
    // Numbers: one beyond a double is a parse error, a fraction is shown.
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1e400], \"data_offsets\": [0, 4]}}", 4),
                   "bad JSON header: [json.exception.out_of_range.406] number overflow parsing '1e400'"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": [0.5], \"data_offsets\": [0, 4]}}", 4),
                   "shape entry must be a non-negative integer, found 0.5"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": true, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4),
                   "dtype must be a string, found true"));
    CHECK(contains(read_error(tmp, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8, 12, 16]}}", 4),
                   "data_offsets must be [begin, end], found an array of 5 elements"));
}

TEST_CASE("io/safetensors: header lengths of 0, 2^63 and 2^64 - 1") {
    TempDir tmp;
    const std::string file = tmp.file("bad.safetensors");
    write_text(file, raw_file("{}", 0, 0));
    CHECK(contains(error_of([&] { read_safetensors(file); }), file + ": bad JSON header: "));
    write_text(file, raw_file("{}", 10, uint64_t{1} << 63));
    CHECK(contains(error_of([&] { read_safetensors(file); }),
                   file + ": header length 9223372036854775808 goes beyond the file (12 bytes after the length field)"));
    write_text(file, std::string(8, '\xFF') + "{}");
    CHECK(contains(error_of([&] { read_safetensors(file); }), file + ": header length 18446744073709551615 goes beyond"));
    // Within the file but over the reference implementation's 100 MB limit.
    std::vector<std::byte> big(8 + 100'000'008);
    const uint64_t n = 100'000'001;
    for (int i = 0; i < 8; ++i) big[size_t(i)] = std::byte(uint8_t(n >> (8 * i)));
    CHECK(contains(error_of([&] { parse_safetensors(big, "big"); }), "big: header length 100000001 exceeds the 100000000 limit"));
}

TEST_CASE("io/safetensors: data_offsets at the edges of uint64") {
    TempDir tmp;
    CHECK(contains(read_error(tmp, R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [18446744073709551615, 18446744073709551615]}})", 0),
                   "data_offsets [18446744073709551615, 18446744073709551615] out of range: the data section has 0 bytes"));
    CHECK(contains(read_error(tmp, R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 18446744073709551616]}})", 1),
                   "data_offsets end must be a non-negative integer, found 1.8446744073709552e+19"));
    // Dims whose product overflows before a zero dim: zero elements, no overflow.
    write_text(tmp.file("zero.safetensors"),
               raw_file(R"({"w": {"dtype": "U8", "shape": [4611686018427387904, 4, 0], "data_offsets": [0, 0]}})", 0));
    const SafeTensors zero = read_safetensors(tmp.file("zero.safetensors"));
    CHECK(zero.at("w").numel() == 0);
    CHECK(zero.at("w").data.empty());
}

TEST_CASE("io/safetensors: a directory or a device is not a checkpoint") {
    TempDir tmp;
    CHECK(contains(error_of([&] { read_safetensors(tmp.path.string()); }),
                   tmp.path.string() + ": is a directory, not a safetensors file"));
    CHECK(contains(error_of([&] { read_safetensors("/dev/zero"); }), "/dev/zero: not a regular file"));
}
