// Shape: a small inline vector of int64 used for sizes, strides and lists of dims.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>

#include "cformer/error.h"

namespace cf {

inline constexpr int kMaxDims = 8;

/// Up to kMaxDims int64 values stored inline (no heap allocation). Printed as "(2, 3)".
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> v) : Shape(std::span<const int64_t>(v.begin(), v.size())) {}
  explicit Shape(std::span<const int64_t> v) {
    if (v.size() > kMaxDims) throw ShapeError("shape: at most 8 dimensions are supported, got " +
                                              std::to_string(v.size()));
    n_ = static_cast<int>(v.size());
    for (int i = 0; i < n_; ++i) d_[i] = v[i];
  }
  /// n copies of value.
  static Shape filled(int n, int64_t value) {
    Shape s;
    for (int i = 0; i < n; ++i) s.push_back(value);
    return s;
  }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  int64_t back() const { return d_[n_ - 1]; }
  const int64_t* begin() const { return d_.data(); }
  const int64_t* end() const { return d_.data() + n_; }
  int64_t* begin() { return d_.data(); }
  int64_t* end() { return d_.data() + n_; }
  const int64_t* data() const { return d_.data(); }
  void push_back(int64_t v) {
    if (n_ == kMaxDims) throw ShapeError("shape: at most 8 dimensions are supported");
    d_[n_++] = v;
  }
  void pop_back() { --n_; }
  void insert(int pos, int64_t v) {
    if (n_ == kMaxDims) throw ShapeError("shape: at most 8 dimensions are supported");
    for (int i = n_; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = v;
    ++n_;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
    --n_;
  }
  /// Product of the values (1 for an empty shape).
  int64_t numel() const {
    int64_t p = 1;
    for (int i = 0; i < n_; ++i) p *= d_[i];
    return p;
  }
  bool operator==(const Shape& o) const {
    if (n_ != o.n_) return false;
    for (int i = 0; i < n_; ++i)
      if (d_[i] != o.d_[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const {
    std::string s = "(";
    for (int i = 0; i < n_; ++i) {
      if (i) s += ", ";
      s += std::to_string(d_[i]);
    }
    return s + ")";
  }

 private:
  std::array<int64_t, kMaxDims> d_{};
  int n_ = 0;
};

/// A list of dimensions (possibly negative) for reductions and permutations.
using Dims = Shape;

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

}  // namespace cf
