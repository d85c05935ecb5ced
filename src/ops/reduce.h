// Reductions over any set of dims. Every reduction is planned as (outer, R, inner): the reduced
// dims are R, the kept dims before them outer, after them inner. A contiguous input whose reduced
// dims form one block is used in place; otherwise it is permuted to (kept..., reduced...) and
// made contiguous (inner = 1). Backward kernels write dx in the same layout (see unplan).
//   sum / mean:   y = sum_r x (/ R)              dx = g (/ R)
//   var / std:    y = sum_r (x - m)^2 / (R - c)  dx = g 2 (x - m) / (R - c); std: g (x - m) / ((R -
//   c) y) max / min:    first extremum and its index   dx = g at the index (dim); split among ties
//   (all) logsumexp:    y = m + log sum_r exp(x - m)   dx = g exp(x - y) norm (p):     y = (sum_r
//   |x|^p)^(1/p)        dx as torch.linalg.vector_norm's backward
// Kernels overwrite (=). NaN counts as the extremum in max / min / argmax / argmin, as in PyTorch.
#pragma once
#include <cstdint>

#include "cformer/tensor.h"

namespace cf::ops {

struct ReducePlan {
  Tensor x;  // (outer, R, inner) contiguous data, no history
  int64_t outer = 1, R = 1, inner = 1;
  Shape keep_shape;  // output shape with reduced dims kept as 1
  Shape out_shape;   // the op's output shape (keepdim applied)
  bool reduced[kMaxDims] = {};
  Dims perm;  // the permutation x was laid out with; empty when used in place
};
/// Normalizes dims (empty = all) and lays the input out for an (outer, R, inner) kernel.
ReducePlan plan_reduction(const Tensor& x, const Dims& dims, bool keepdim, const char* op);

/// A contiguous tensor in the plan's (outer, R, inner) layout, viewed with the input's shape.
Tensor unplan(const Tensor& t, const ReducePlan& plan, const Shape& in_shape);

/// Sums g over the dims that broadcasting added or expanded, giving a tensor of `shape`
/// (the gradient of an expand). Differentiable.
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

/// g (reduced output) viewed with the reduced dims kept and expanded to the input's shape.
Tensor expand_reduced(const Tensor& g, const ReducePlan& plan, const Shape& in_shape);

namespace cpu {
template <class T>
struct ReduceArgs {
  const T* x;  // (outer, R, inner)
  T* y;        // (outer, inner)
  int64_t outer, R, inner;
};
/// y = sum over R (=); f32 optimized, deterministic for any thread count.
template <class T>
void sum_forward(const ReduceArgs<T>& a);
/// Reference: double accumulation (exact int64 accumulation for i64), plain loops.
template <class T>
void sum_forward_ref(const ReduceArgs<T>& a);

template <class T>
struct VarArgs {
  const T* x;  // (outer, R, inner)
  T* mean;     // (outer, inner)
  T* y;        // (outer, inner): the variance, or the standard deviation when take_sqrt
  int64_t outer, R, inner;
  int64_t correction;
  bool take_sqrt;
};
/// Two-pass (mean, then squared deviations); divides by max(R - correction, 0) as PyTorch.
template <class T>
void var_forward(const VarArgs<T>& a);
template <class T>
void var_forward_ref(const VarArgs<T>& a);

template <class T>
struct VarBackwardArgs {
  const T* x;     // (outer, R, inner)
  const T* mean;  // (outer, inner)
  const T* y;     // (outer, inner): forward result (var or std)
  const T* g;     // (outer, inner)
  T* dx;          // (outer, R, inner)
  int64_t outer, R, inner;
  int64_t correction;
  bool is_std;  // std: gradient 0 where y == 0, as PyTorch
};
template <class T>
void var_backward(const VarBackwardArgs<T>& a);
template <class T>
void var_backward_ref(const VarBackwardArgs<T>& a);

template <class T>
struct ArgReduceArgs {
  const T* x;        // (outer, R, inner), R >= 1
  T* values;         // (outer, inner) or null
  int64_t* indices;  // (outer, inner) or null
  int64_t outer, R, inner;
  bool is_max;
};
/// Extremum along R and the index of its first occurrence (a NaN wins).
template <class T>
void arg_reduce(const ArgReduceArgs<T>& a);
template <class T>
void arg_reduce_ref(const ArgReduceArgs<T>& a);

template <class T>
struct IndexBackwardArgs {
  const T* g;              // (outer, inner)
  const int64_t* indices;  // (outer, inner)
  T* dx;                   // (outer, R, inner): g at the index, 0 elsewhere
  int64_t outer, R, inner;
};
template <class T>
void index_backward(const IndexBackwardArgs<T>& a);

template <class T>
struct TieBackwardArgs {
  const T* x;  // (n)
  T value;     // the extremum
  T g;         // upstream gradient
  T* dx;       // (n): g / ties where x == value (or both NaN), 0 elsewhere
  int64_t n;
};
template <class T>
void tie_backward(const TieBackwardArgs<T>& a);

/// logsumexp: y (outer, inner); an infinite maximum is replaced by 0 before shifting (PyTorch).
template <class T>
void logsumexp_forward(const ReduceArgs<T>& a);
template <class T>
void logsumexp_forward_ref(const ReduceArgs<T>& a);

template <class T>
struct PointwiseBackwardArgs {
  const T* x;  // (outer, R, inner)
  const T* y;  // (outer, inner): forward result
  const T* g;  // (outer, inner)
  T* dx;       // (outer, R, inner)
  int64_t outer, R, inner;
  double p;  // norm only
};
/// dx = g exp(x - y)
template <class T>
void logsumexp_backward(const PointwiseBackwardArgs<T>& a);
template <class T>
void logsumexp_backward_ref(const PointwiseBackwardArgs<T>& a);

template <class T>
struct NormArgs {
  const T* x;  // (outer, R, inner)
  T* y;        // (outer, inner)
  int64_t outer, R, inner;
  double p;  // 0, +-inf, or any other value
};
template <class T>
void norm_forward(const NormArgs<T>& a);
template <class T>
void norm_forward_ref(const NormArgs<T>& a);
/// torch 1.13 norm_backward: p = 0 gives 0; p = 1 sgn(x) g; p = 2 x g / y (0 where y = 0);
/// p = +-inf sgn(x) g / ties on the elements with |x| == y; other p with their masks.
template <class T>
void norm_backward(const PointwiseBackwardArgs<T>& a);
template <class T>
void norm_backward_ref(const PointwiseBackwardArgs<T>& a);
}  // namespace cpu

}  // namespace cf::ops
