// arange and linspace (torch.arange, torch.linspace).
//   arange:   out[i] = start + i * step, i < ceil((end - start) / step), computed in double
//             (int64 for i64) and rounded once, as PyTorch on CPU
//   linspace: step = (end - start) / (steps - 1) in the output type; out[i] = start + i * step
//             for i < steps / 2, end - (steps - 1 - i) * step after, so both endpoints are exact
// No inputs, no gradient. Kernels overwrite (=).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T> void arange_forward(T* out, int64_t n, double start, double step);  // out (n)
/// i64: start and step are integral; the arithmetic is exact int64.
void arange_forward_i64(int64_t* out, int64_t n, int64_t start, int64_t step);         // out (n)
template <class T> void linspace_forward(T* out, int64_t steps, double start, double end);  // out (steps)

}  // namespace cf::ops::cpu
