// Internal helpers shared by tensor and op code.
#pragma once
#include <cstdint>

#include "cformer/tensor.h"
#include "util/check.h"

namespace cf::detail {

/// Wraps a possibly negative dim into [0, ndim); throws IndexError naming the op.
inline int wrap_dim(int64_t d, int ndim, const char* op) {
  const int64_t n = ndim == 0 ? 1 : ndim;  // a 0-dim tensor accepts dim 0 and -1
  CF_CHECK(d >= -n && d < n, IndexError, op, ": dim ", d, " is out of range for a ", ndim,
           "-D tensor");
  return static_cast<int>(d < 0 ? d + n : d);
}

inline Shape contiguous_strides(const Shape& sizes) {
  Shape s = Shape::filled(sizes.size(), 1);
  for (int i = sizes.size() - 2; i >= 0; --i) s[i] = s[i + 1] * std::max<int64_t>(sizes[i + 1], 1);
  return s;
}

/// Checked product of sizes times element size; throws ShapeError on negative sizes or overflow.
int64_t checked_nbytes(const Shape& sizes, DType dtype, const char* op);

/// Throws DeviceError unless t lives on the CPU (the only device built).
inline void check_cpu(const Tensor& t, const char* op, const char* arg) {
  CF_CHECK(t.device() == Device::cpu, DeviceError, op, ": ", arg,
           " is on cuda, but this cformer was built without CUDA");
}

}  // namespace cf::detail
