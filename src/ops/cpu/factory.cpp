// Fill kernels of arange and linspace.
#include "ops/factory.h"

#include <type_traits>

#include "ops/cpu/parallel.h"

namespace cf::ops::cpu {

template <class T> void arange_forward(T* out, int64_t n, double start, double step) {
  parallel_for(0, n, kGrainSize, [out, start, step](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
}

void arange_forward_i64(int64_t* out, int64_t n, int64_t start, int64_t step) {
  parallel_for(0, n, kGrainSize, [out, start, step](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = start + i * step;
  });
}

template <class T> void linspace_forward(T* out, int64_t steps, double start, double end) {
  if (steps == 1) {
    out[0] = static_cast<T>(start);
    return;
  }
  // Integral outputs step in double, floating ones in their own type (as PyTorch).
  using S = std::conditional_t<std::is_integral_v<T>, double, T>;
  const S s = static_cast<S>(static_cast<T>(start)), e = static_cast<S>(static_cast<T>(end));
  const S step = (e - s) / static_cast<S>(steps - 1);
  const int64_t half = steps / 2;
  parallel_for(0, steps, kGrainSize, [out, s, e, step, half, steps](int64_t b, int64_t en) {
    for (int64_t i = b; i < en; ++i)
      out[i] = static_cast<T>(i < half ? s + step * static_cast<S>(i)
                                       : e - step * static_cast<S>(steps - 1 - i));
  });
}

template void arange_forward<float>(float*, int64_t, double, double);
template void arange_forward<double>(double*, int64_t, double, double);
template void linspace_forward<float>(float*, int64_t, double, double);
template void linspace_forward<double>(double*, int64_t, double, double);
template void linspace_forward<int64_t>(int64_t*, int64_t, double, double);

}  // namespace cf::ops::cpu
