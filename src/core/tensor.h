// Shapes and element types of tensors (NCHW float32 at the API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace vkcnn {

enum class DType : uint8_t { F32, I32 };

inline size_t dtype_size(DType) { return 4; }
inline const char* dtype_name(DType t) { return t == DType::F32 ? "f32" : "i32"; }

struct Shape {
    std::vector<int64_t> dims;

    Shape() = default;
    Shape(std::initializer_list<int64_t> d) : dims(d) {}
    explicit Shape(std::vector<int64_t> d) : dims(std::move(d)) {}

    size_t rank() const { return dims.size(); }
    int64_t operator[](size_t i) const { return dims[i]; }
    int64_t elements() const {
        int64_t n = 1;
        for (int64_t d : dims) n *= d;
        return n;
    }
    bool operator==(const Shape&) const = default;
    // "(64, 1, 28, 28)"
    std::string str() const {
        std::string s = "(";
        for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
        return s + (dims.size() == 1 ? ",)" : ")");
    }
};

} // namespace vkcnn
