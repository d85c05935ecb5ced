// softmax and log_softmax over one dim (torch.softmax / torch.log_softmax), numerically stable.
//   softmax:      y = exp(x - m) / sum_r exp(x - m), m = max_r x     dx = y (g - sum_r g y)
//   log_softmax:  y = x - m - log sum_r exp(x - m)                   dx = g - exp(y) sum_r g
// The dim is R of the contiguous (outer, R, inner) layout; rows (inner == 1, the last dim) are
// the fast path: max, exp-and-sum, scale, each pass over a row that stays in L1. Backward saves
// only y. Kernels overwrite (=); an all -inf row gives NaN, as in PyTorch.
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct SoftmaxArgs {
  const T* x;  // (outer, R, inner)
  T* y;        // (outer, R, inner)
  int64_t outer, R, inner;
  bool log;  // log_softmax
};
template <class T>
struct SoftmaxBackwardArgs {
  const T* y;  // (outer, R, inner): the forward output
  const T* g;  // (outer, R, inner)
  T* dx;       // (outer, R, inner)
  int64_t outer, R, inner;
  bool log;
};

void softmax_forward(const SoftmaxArgs<float>& a);
template <class T>
void softmax_forward_ref(const SoftmaxArgs<T>& a);
void softmax_backward(const SoftmaxBackwardArgs<float>& a);
template <class T>
void softmax_backward_ref(const SoftmaxBackwardArgs<T>& a);

}  // namespace cf::ops::cpu
