// StridedLoop construction from tensors (the kernels' side is ops/cpu/loops.h).
#pragma once
#include <array>
#include <cstdint>

#include "cformer/tensor.h"

namespace cf::ops {

template <int N> struct StridedLoop {
  int ndim = 0;
  std::array<int64_t, kMaxDims> sizes{};
  std::array<std::array<int64_t, kMaxDims>, N> strides{};  // bytes
  std::array<char*, N> base{};

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= sizes[d];
    return n;
  }
};

/// Operand 0 is `out`; the others are broadcast to out's shape (stride 0 where they broadcast).
/// The caller has checked that each operand broadcasts to out.shape().
template <int N> StridedLoop<N> make_loop(const Tensor& out, const std::array<const Tensor*, N - 1>& ins) {
  StridedLoop<N> L;
  const Shape& shape = out.shape();
  L.ndim = shape.size();
  for (int d = 0; d < L.ndim; ++d) L.sizes[d] = shape[d];
  auto fill = [&](int k, const Tensor& t) {
    const int off = L.ndim - t.dim();
    const int64_t es = static_cast<int64_t>(t.element_size());
    for (int d = 0; d < L.ndim; ++d) {
      const int td = d - off;
      L.strides[k][d] = (td < 0 || t.shape()[td] == 1) ? 0 : t.strides()[td] * es;
    }
    L.base[k] = static_cast<char*>(t.raw_data_ptr());
  };
  fill(0, out);
  for (int k = 1; k < N; ++k) fill(k, *ins[k - 1]);
  return L;
}

}  // namespace cf::ops
