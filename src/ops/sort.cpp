#include "ops/sort.h"

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

// f64 runs the same kernel as f32: sorting is exact, and the O(n^2) oracle is only for tests.
template <class T> void run_sort(const Tensor& xc, const Tensor& values, const Tensor& indices,
                                 int64_t outer, int64_t n, int64_t inner, int64_t k, bool desc) {
  ops::cpu::SortArgs<T> a{xc.data_ptr<T>(), values.data_ptr<T>(), indices.data_ptr<int64_t>(),
                          outer, n, inner, k, desc};
  ops::cpu::sort_forward<T>(a);
}

ValuesIndices sort_impl(const char* op, const Tensor& x, int64_t k, int d, bool desc) {
  Shape out_shape = x.shape();
  if (x.dim() > 0) out_shape[d] = k;
  else if (k == 0) out_shape = Shape{0};
  ValuesIndices r{empty(out_shape, x.dtype()), empty(out_shape, DType::i64)};
  if (r.values.numel() > 0) {
    const Tensor xc = x.detach().contiguous();
    int64_t outer = 1, inner = 1;
    for (int q = 0; q < d && q < x.dim(); ++q) outer *= x.shape()[q];
    for (int q = d + 1; q < x.dim(); ++q) inner *= x.shape()[q];
    const int64_t n = x.dim() ? x.shape()[d] : 1;
    switch (x.dtype()) {
      case DType::f32: run_sort<float>(xc, r.values, r.indices, outer, n, inner, k, desc); break;
      case DType::f64: run_sort<double>(xc, r.values, r.indices, outer, n, inner, k, desc); break;
      case DType::i64: run_sort<int64_t>(xc, r.values, r.indices, outer, n, inner, k, desc); break;
      default: CF_THROW(DTypeError, op, ": unsupported dtype ", dtype_name(x.dtype()));
    }
  }
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record(op, {x}, r.values,
                     [in_shape, d, si = autograd::save(r.indices)](const TensorList& g, const Needs&) -> TensorList {
                       if (!g[0].defined()) return {Tensor()};
                       if (g[0].numel() == 0) return {zeros(in_shape, g[0].dtype())};
                       if (in_shape.size() == 0) return {g[0].reshape(in_shape)};
                       return {scatter_add(zeros(in_shape, g[0].dtype()), d, si.get(), g[0])};
                     });
  }
  return r;
}

}  // namespace

ValuesIndices topk(const Tensor& x, int64_t k, int dim, bool largest, bool sorted) {
  (void)sorted;  // the result is always sorted, which PyTorch allows for sorted=false
  ops::check_arithmetic("topk", x);
  const int d = detail::wrap_dim(dim, x.dim(), "topk");
  const int64_t n = x.dim() ? x.shape()[d] : 1;
  CF_CHECK(k >= 0 && k <= n, ValueError, "topk: k (", k, ") is out of range for dim ", dim,
           " of size ", n);
  return sort_impl("topk", x, k, d, largest);
}

ValuesIndices sort(const Tensor& x, int dim, bool descending) {
  ops::check_arithmetic("sort", x);
  const int d = detail::wrap_dim(dim, x.dim(), "sort");
  return sort_impl("sort", x, x.dim() ? x.shape()[d] : 1, d, descending);
}

}  // namespace cf
