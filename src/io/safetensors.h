// The safetensors format (huggingface/safetensors), vkcnn's checkpoint file:
// an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [...],
//    "data_offsets": [begin, end]}, ...}
// (padded with spaces to a multiple of 8), then the raw little-endian tensor
// data, contiguous, offsets relative to the data start. PyTorch, numpy and the
// browser read the same files. Writes are atomic; reads validate everything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace vkcnn::io {

// The safetensors dtypes (names as in the format: "F32", "I64", ...).
enum class StDType : uint8_t { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

size_t st_dtype_size(StDType t);              // bytes per element
const char* st_dtype_name(StDType t);         // "F32"
std::optional<StDType> st_dtype_from_name(std::string_view name);

template <typename T>
constexpr StDType st_dtype_of() {
    if constexpr (std::is_same_v<T, float>) return StDType::F32;
    else if constexpr (std::is_same_v<T, double>) return StDType::F64;
    else if constexpr (std::is_same_v<T, int32_t>) return StDType::I32;
    else if constexpr (std::is_same_v<T, int64_t>) return StDType::I64;
    else if constexpr (std::is_same_v<T, uint8_t>) return StDType::U8;
    else if constexpr (std::is_same_v<T, int8_t>) return StDType::I8;
    else if constexpr (std::is_same_v<T, int16_t>) return StDType::I16;
    else if constexpr (std::is_same_v<T, uint16_t>) return StDType::U16;
    else if constexpr (std::is_same_v<T, uint32_t>) return StDType::U32;
    else if constexpr (std::is_same_v<T, uint64_t>) return StDType::U64;
    else static_assert(sizeof(T) == 0, "no safetensors dtype for this type");
}

// One named tensor: dtype, shape and its bytes as stored (little-endian,
// row-major). Built from typed values with make(), read back with values().
struct SafeTensor {
    std::string name;
    StDType dtype = StDType::F32;
    std::vector<int64_t> shape;  // () for a scalar
    std::vector<std::byte> data; // numel(shape) * st_dtype_size(dtype) bytes

    int64_t numel() const;

    template <typename T>
    static SafeTensor make(std::string name, std::vector<int64_t> shape, std::span<const T> values) {
        SafeTensor t{std::move(name), st_dtype_of<T>(), std::move(shape), {}};
        t.data.resize(values.size_bytes());
        if (!values.empty()) std::memcpy(t.data.data(), values.data(), values.size_bytes());
        t.check_size();
        return t;
    }
    // The values as T; throws when dtype is not T's.
    template <typename T>
    std::vector<T> values() const {
        check_dtype(st_dtype_of<T>());
        std::vector<T> out(data.size() / sizeof(T));
        if (!out.empty()) std::memcpy(out.data(), data.data(), data.size());
        return out;
    }

    void check_size() const;              // throws when data.size() does not fit dtype and shape
    void check_dtype(StDType want) const; // throws naming the tensor and both dtypes
};

using Metadata = std::map<std::string, std::string>;

struct SafeTensors {
    std::vector<SafeTensor> tensors; // in file (data offset) order
    Metadata metadata;               // "__metadata__", empty when absent

    const SafeTensor* find(std::string_view name) const; // nullptr when absent
    const SafeTensor& at(std::string_view name) const;   // throws naming the missing tensor
};

// The whole file as bytes, tensors in the given order. Throws for duplicate
// names, "__metadata__" as a tensor name, data that does not match its dtype
// and shape, and names or metadata that are not valid UTF-8.
std::vector<std::byte> serialize_safetensors(std::span<const SafeTensor> tensors, const Metadata& metadata = {});

// Parses and validates a whole file's bytes; `source` names it in errors.
SafeTensors parse_safetensors(std::span<const std::byte> bytes, const std::string& source);

// Test hook for write_safetensors: called before each step ("open", "write",
// "flush", "fsync", "close", "rename", "fsync_dir"); throwing from it
// simulates that step failing.
using WriteFaultHook = std::function<void(std::string_view step)>;

// Atomic replace: removes the temporaries of earlier writers that died
// (io::remove_stale_temporaries), writes "<path>.tmp.<pid>" (locked while it
// is written: temporary_file.h), flushes and fsyncs it, renames it
// over `path` and fsyncs the directory. On any failure the old file at `path`
// is untouched, the temporary file is removed and the error names the step.
void write_safetensors(const std::string& path, std::span<const SafeTensor> tensors, const Metadata& metadata = {},
                       const WriteFaultHook& fault_hook = {});

SafeTensors read_safetensors(const std::string& path);

} // namespace vkcnn::io
