#include "ops/index.h"

#include <algorithm>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace ops {

void check_index_range(const char* op, const Tensor& index, int64_t size, const char* what) {
  if (index.numel() == 0) return;
  const Tensor ic = index.contiguous();
  const int64_t* p = ic.data_ptr<int64_t>();
  const int64_t n = ic.numel();
  int64_t lo = p[0], hi = p[0];
  for (int64_t k = 0; k < n; ++k) {  // a branch-free pass; the bad value is looked up after
    lo = std::min(lo, p[k]);
    hi = std::max(hi, p[k]);
  }
  if (lo >= 0 && hi < size) return;
  for (int64_t k = 0; k < n; ++k)
    CF_CHECK(p[k] >= 0 && p[k] < size, IndexError, op, ": index ", p[k], " is out of range for ",
             what, " (valid range [0, ", size, "))");
}

}  // namespace ops

namespace {

using autograd::Needs;
using autograd::TensorList;

void check_index_tensor(const char* op, const Tensor& index) {
  CF_CHECK(index.defined(), ValueError, op, ": index is undefined");
  detail::check_cpu(index, op, "index");
  CF_CHECK(index.dtype() == DType::i64, DTypeError, op, ": index must be i64, got ",
           dtype_name(index.dtype()));
}

std::string dim_desc(int d, int64_t size) {
  return detail::str_cat("dim ", d, " of size ", size);
}

// Shapes and contiguous strides of a tensor seen with at least one dim (0-dim acts as (1)).
void fill_shape(const Shape& s, int64_t* shape, int64_t* strides) {
  if (s.size() == 0) {
    shape[0] = 1;
    strides[0] = 1;
    return;
  }
  const Shape st = detail::contiguous_strides(s);
  for (int d = 0; d < s.size(); ++d) {
    shape[d] = s[d];
    strides[d] = st[d];
  }
}

template <class T> bool run_gather(const Tensor& out, const Tensor& xc, const Tensor& ic, int d) {
  ops::cpu::GatherArgs<T> a{};
  a.out = static_cast<T*>(out.raw_data_ptr());
  a.x = static_cast<const T*>(xc.raw_data_ptr());
  a.index = ic.data_ptr<int64_t>();
  a.ndim = std::max(1, ic.dim());
  a.dim = d;
  int64_t unused[kMaxDims];
  a.dim_size = xc.dim() ? xc.shape()[d] : 1;
  fill_shape(xc.shape(), unused, a.x_strides);
  fill_shape(ic.shape(), a.index_shape, a.out_strides);
  if (xc.dtype() == DType::f64) return ops::cpu::gather_forward_ref<T>(a);
  return ops::cpu::gather_forward<T>(a);
}

template <class T> bool run_scatter_add(const Tensor& out, const Tensor& sc, const Tensor& ic, int d) {
  ops::cpu::GatherArgs<T> a{};
  a.out = out.data_ptr<T>();
  a.x = sc.data_ptr<T>();
  a.index = ic.data_ptr<int64_t>();
  a.ndim = std::max(1, ic.dim());
  a.dim = d;
  int64_t unused[kMaxDims];
  fill_shape(sc.shape(), unused, a.x_strides);
  fill_shape(out.shape(), unused, a.out_strides);
  fill_shape(ic.shape(), a.index_shape, unused);
  a.dim_size = out.dim() ? out.shape()[d] : 1;
  if constexpr (std::is_same_v<T, double>) return ops::cpu::scatter_add_forward_ref<T>(a);
  else return ops::cpu::scatter_add_forward<T>(a);
}

template <class T> void run_index_add(const Tensor& out, const Tensor& sc, const Tensor& ic, int d,
                                      double alpha) {
  const Shape& s = out.shape();
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < d; ++k) outer *= s[k];
  for (int k = d + 1; k < s.size(); ++k) inner *= s[k];
  ops::cpu::IndexAddArgs<T> a{out.data_ptr<T>(), sc.data_ptr<T>(), ic.data_ptr<int64_t>(),
                              outer, s[d], ic.numel(), inner, static_cast<T>(alpha)};
  if constexpr (std::is_same_v<T, double>) ops::cpu::index_add_forward_ref<T>(a);
  else ops::cpu::index_add_forward<T>(a);
}

// Checks shared by gather and scatter_add: same rank, index within x outside dim. The index
// values are checked by the kernels (fused); report_bad_index names the first bad one.
int check_gather_like(const char* op, const Tensor& x, int dim, const Tensor& index) {
  CF_CHECK(x.defined(), ValueError, op, ": input is undefined");
  detail::check_cpu(x, op, "input");
  check_index_tensor(op, index);
  const int d = detail::wrap_dim(dim, x.dim(), op);
  CF_CHECK(index.dim() == x.dim(), ShapeError, op, ": index must have as many dims as the input (",
           x.dim(), "), got index of shape ", index.shape());
  for (int k = 0; k < x.dim(); ++k)
    CF_CHECK(k == d || index.shape()[k] <= x.shape()[k], ShapeError, op, ": index of shape ",
             index.shape(), " is larger than the input of shape ", x.shape(), " at dim ", k);
  return d;
}

// Called when a kernel found an index out of range: throws IndexError naming it.
[[noreturn]] void report_bad_index(const char* op, const Tensor& x, int d, const Tensor& index) {
  const int64_t size = x.dim() ? x.shape()[d] : 1;
  ops::check_index_range(op, index, size, dim_desc(d, size).c_str());
  CF_ASSERT(false, op, ": the kernel reported a bad index that the check did not find");
}

// Checks shared by index_select and index_add; returns the wrapped dim.
int check_index_1d(const char* op, const Tensor& x, int dim, const Tensor& index) {
  CF_CHECK(x.defined(), ValueError, op, ": input is undefined");
  detail::check_cpu(x, op, "input");
  check_index_tensor(op, index);
  CF_CHECK(x.dim() >= 1, ShapeError, op, ": expects an input with at least 1 dim, got a 0-dim tensor");
  const int d = detail::wrap_dim(dim, x.dim(), op);
  CF_CHECK(index.dim() <= 1, ShapeError, op, ": index must be 0-D or 1-D, got shape ", index.shape());
  ops::check_index_range(op, index, x.shape()[d], dim_desc(d, x.shape()[d]).c_str());
  return d;
}

Tensor scatter_add_impl(const Tensor& x, int d, const Tensor& index, const Tensor& src) {
  Tensor out = x.detach().clone();
  if (index.numel() == 0) return out;
  const Tensor ic = index.contiguous(), sc = src.detach().contiguous();
  bool ok = true;
  switch (x.dtype()) {
    case DType::f32: ok = run_scatter_add<float>(out, sc, ic, d); break;
    case DType::f64: ok = run_scatter_add<double>(out, sc, ic, d); break;
    case DType::i64: ok = run_scatter_add<int64_t>(out, sc, ic, d); break;
    default: CF_THROW(DTypeError, "scatter_add: unsupported dtype ", dtype_name(x.dtype()));
  }
  if (!ok) report_bad_index("scatter_add", x, d, index);
  return out;
}

Tensor index_add_impl(const Tensor& x, int d, const Tensor& index, const Tensor& src, double alpha) {
  Tensor out = x.detach().clone();
  if (src.numel() == 0) return out;
  const Tensor ic = index.contiguous(), sc = src.detach().contiguous();
  switch (x.dtype()) {
    case DType::f32: run_index_add<float>(out, sc, ic, d, alpha); break;
    case DType::f64: run_index_add<double>(out, sc, ic, d, alpha); break;
    case DType::i64: run_index_add<int64_t>(out, sc, ic, d, alpha); break;
    default: CF_THROW(DTypeError, "index_add: unsupported dtype ", dtype_name(x.dtype()));
  }
  return out;
}

}  // namespace

Tensor gather(const Tensor& x, int dim, const Tensor& index) {
  const int d = check_gather_like("gather", x, dim, index);
  Tensor out = empty(index.shape(), x.dtype());
  if (out.numel() > 0) {
    const Tensor xc = x.detach().contiguous(), ic = index.contiguous();
    bool ok = true;
    switch (x.element_size()) {
      case 1: ok = run_gather<uint8_t>(out, xc, ic, d); break;
      case 2: ok = run_gather<uint16_t>(out, xc, ic, d); break;
      case 4: ok = run_gather<uint32_t>(out, xc, ic, d); break;
      case 8: ok = run_gather<uint64_t>(out, xc, ic, d); break;
      default: CF_THROW(DTypeError, "gather: unsupported dtype ", dtype_name(x.dtype()));
    }
    if (!ok) report_bad_index("gather", x, d, index);
  }
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record("gather", {x}, out, [in_shape, d, si = autograd::save(index)](const TensorList& g, const Needs&) -> TensorList {
      return {scatter_add(zeros(in_shape, g[0].dtype()), d, si.get(), g[0])};
    });
  }
  return out;
}

Tensor scatter_add(const Tensor& x, int dim, const Tensor& index, const Tensor& src) {
  const int d = check_gather_like("scatter_add", x, dim, index);
  ops::check_arithmetic("scatter_add", x);
  CF_CHECK(src.defined(), ValueError, "scatter_add: src is undefined");
  detail::check_cpu(src, "scatter_add", "src");
  CF_CHECK(src.dtype() == x.dtype(), DTypeError, "scatter_add: src has dtype ",
           dtype_name(src.dtype()), ", expected ", dtype_name(x.dtype()), " like the input");
  CF_CHECK(src.dim() == x.dim(), ShapeError, "scatter_add: src must have as many dims as the input (",
           x.dim(), "), got src of shape ", src.shape());
  for (int k = 0; k < x.dim(); ++k)
    CF_CHECK(index.shape()[k] <= src.shape()[k], ShapeError, "scatter_add: index of shape ",
             index.shape(), " is larger than src of shape ", src.shape(), " at dim ", k);
  Tensor out = scatter_add_impl(x, d, index, src);
  if (autograd::needs_grad(x, src)) {
    const Shape src_shape = src.shape();
    autograd::record("scatter_add", {x, Tensor(), src}, out,
                     [d, src_shape, si = autograd::save(index)](const TensorList& g, const Needs& needs) -> TensorList {
                       Tensor gx, gs;
                       if (needs[0]) gx = g[0];
                       if (needs[2]) {
                         const Tensor& idx = si.get();
                         gs = gather(g[0], d, idx);
                         if (idx.shape() != src_shape) {
                           Tensor full_gs = zeros(src_shape, g[0].dtype());
                           Tensor region = full_gs;
                           for (int k = 0; k < idx.dim(); ++k) region = region.narrow(k, 0, idx.shape()[k]);
                           region.copy_(gs);
                           gs = full_gs;
                         }
                       }
                       return {gx, Tensor(), gs};
                     });
  }
  return out;
}

Tensor index_select(const Tensor& x, int dim, const Tensor& index) {
  const int d = check_index_1d("index_select", x, dim, index);
  Shape out_shape = x.shape();
  out_shape[d] = index.numel();
  Tensor out = empty(out_shape, x.dtype());
  if (out.numel() > 0) {
    const Tensor xc = x.detach().contiguous(), ic = index.contiguous();
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < d; ++k) outer *= x.shape()[k];
    for (int k = d + 1; k < x.dim(); ++k) inner *= x.shape()[k];
    ops::cpu::IndexSelectArgs a{out.raw_data_ptr(), xc.raw_data_ptr(), ic.data_ptr<int64_t>(),
                                outer, x.shape()[d], ic.numel(), inner, x.element_size()};
    if (x.dtype() == DType::f64) ops::cpu::index_select_forward_ref(a);
    else ops::cpu::index_select_forward(a);
  }
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record("index_select", {x}, out, [in_shape, d, si = autograd::save(index)](const TensorList& g, const Needs&) -> TensorList {
      return {index_add(zeros(in_shape, g[0].dtype()), d, si.get(), g[0])};
    });
  }
  return out;
}

Tensor index_add(const Tensor& x, int dim, const Tensor& index, const Tensor& src, double alpha) {
  const int d = check_index_1d("index_add", x, dim, index);
  ops::check_arithmetic("index_add", x);
  CF_CHECK(src.defined(), ValueError, "index_add: src is undefined");
  detail::check_cpu(src, "index_add", "src");
  CF_CHECK(src.dtype() == x.dtype(), DTypeError, "index_add: src has dtype ",
           dtype_name(src.dtype()), ", expected ", dtype_name(x.dtype()), " like the input");
  Shape want = x.shape();
  want[d] = index.numel();
  CF_CHECK(src.shape() == want, ShapeError, "index_add: src must have shape ", want,
           " (the input's with dim ", d, " of the index's length), got ", src.shape());
  Tensor out = index_add_impl(x, d, index, src, alpha);
  if (autograd::needs_grad(x, src)) {
    autograd::record("index_add", {x, Tensor(), src}, out,
                     [d, alpha, si = autograd::save(index)](const TensorList& g, const Needs& needs) -> TensorList {
                       Tensor gx, gs;
                       if (needs[0]) gx = g[0];
                       if (needs[2]) {
                         gs = index_select(g[0], d, si.get());
                         if (alpha != 1.0) gs = mul(gs, alpha);
                       }
                       return {gx, Tensor(), gs};
                     });
  }
  return out;
}

}  // namespace cf
