// A plain arange the core needs before the shape family lands; the shape family replaces this file.
#include <cmath>

#include "cformer/ops.h"

namespace cf {

Tensor arange(double start, double end, double step, std::optional<DType> dtype) {
  const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end - start) / step)));
  Tensor t = empty(Shape{n}, dtype.value_or(DType::i64));
  int64_t* p = n ? t.data_ptr<int64_t>() : nullptr;
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(start + i * step);
  return t;
}

}  // namespace cf
