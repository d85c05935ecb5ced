// Reductions over any set of dims. Every reduction is planned as (outer, R, inner): the reduced
// dims are R, the kept dims before them outer, after them inner. A contiguous input whose reduced
// dims form one block is used in place; otherwise it is permuted to (kept..., reduced...) and
// made contiguous (inner = 1).
//   sum:  y = sum_r x            grad: g broadcast back over the reduced dims
//   mean: y = sum_r x / R        grad: g / R broadcast back
#pragma once
#include <cstdint>

#include "cformer/tensor.h"

namespace cf::ops {

struct ReducePlan {
  Tensor x;             // (outer, R, inner) contiguous data, no history
  int64_t outer = 1, R = 1, inner = 1;
  Shape keep_shape;     // output shape with reduced dims kept as 1
  Shape out_shape;      // the op's output shape (keepdim applied)
  bool reduced[kMaxDims] = {};
};
/// Normalizes dims (empty = all) and lays the input out for an (outer, R, inner) kernel.
ReducePlan plan_reduction(const Tensor& x, const Dims& dims, bool keepdim, const char* op);

/// Sums g over the dims that broadcasting added or expanded, giving a tensor of `shape`
/// (the gradient of an expand). Differentiable.
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

/// g (reduced output) viewed with the reduced dims kept and expanded to the input's shape.
Tensor expand_reduced(const Tensor& g, const ReducePlan& plan, const Shape& in_shape);

namespace cpu {
template <class T> struct ReduceArgs {
  const T* x;  // (outer, R, inner)
  T* y;        // (outer, inner)
  int64_t outer, R, inner;
};
/// y = sum over R (=); f32 optimized, deterministic for any thread count.
template <class T> void sum_forward(const ReduceArgs<T>& a);
/// Reference: double accumulation, plain loops.
template <class T> void sum_forward_ref(const ReduceArgs<T>& a);
}  // namespace cpu

}  // namespace cf::ops
