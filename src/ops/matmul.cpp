#include "ops/matmul.h"

#include <algorithm>
#include <vector>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/cpu/gemm.h"
#include "ops/reduce.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

// How a (rows, cols) matrix with strides (rs, cs) is handed to GEMM, if it can be.
struct Layout {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};

Layout layout_of(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (rows <= 1 && cols <= 1) return {true, false, 1};
  if (cols == 1 && rs >= 1) return {true, false, rs};
  if (rows == 1 && cs >= 1) return {true, true, cs};
  if (cs == 1 && rs >= cols) return {true, false, rs};
  if (rs == 1 && cs >= rows) return {true, true, cs};
  return {};
}

void check_matmul_dtypes(const char* op, const Tensor& a, const Tensor& b) {
  CF_CHECK(a.defined() && b.defined(), ValueError, op, ": an operand is undefined");
  detail::check_cpu(a, op, "a");
  detail::check_cpu(b, op, "b");
  CF_CHECK(a.dtype() == b.dtype(), DTypeError, op, ": operands have different dtypes ",
           dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  CF_CHECK(a.dtype() == DType::f32 || a.dtype() == DType::f64, DTypeError, op,
           ": supports f32 and f64, got ", dtype_name(a.dtype()));
}

template <class T>
void run_gemm(const Tensor& a, const Tensor& b, const Tensor& out, const Shape& batch_shape) {
  const int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1);
  const int64_t batch = batch_shape.numel();
  Tensor A = a, B = b;
  Layout la = layout_of(n, k, a.stride(-2), a.stride(-1));
  if (!la.ok) {
    A = a.contiguous();
    la = layout_of(n, k, A.stride(-2), A.stride(-1));
  }
  Layout lb = layout_of(k, m, b.stride(-2), b.stride(-1));
  if (!lb.ok) {
    B = b.contiguous();
    lb = layout_of(k, m, B.stride(-2), B.stride(-1));
  }
  // Element offsets of each batch entry (broadcast batch dims have stride 0).
  auto offsets = [&batch_shape, batch](const Tensor& t) {
    std::vector<int64_t> off(batch);
    const int nb = batch_shape.size();
    const int lead = nb - (t.dim() - 2);
    for (int64_t i = 0; i < batch; ++i) {
      int64_t rem = i, o = t.storage_offset();
      for (int d = nb - 1; d >= 0; --d) {
        const int64_t idx = rem % batch_shape[d];
        rem /= batch_shape[d];
        const int td = d - lead;
        if (td >= 0 && t.shape()[td] != 1) o += idx * t.strides()[td];
      }
      off[i] = o;
    }
    return off;
  };
  std::vector<int64_t> a_off = offsets(A), b_off = offsets(B), c_off(batch);
  for (int64_t i = 0; i < batch; ++i) c_off[i] = i * n * m;
  T* abase = static_cast<T*>(A.impl()->storage->data);
  T* bbase = static_cast<T*>(B.impl()->storage->data);
  ops::cpu::BatchedGemmArgs<T> args{abase, bbase, out.data_ptr<T>(), a_off.data(), b_off.data(),
                                    c_off.data(), batch, n, m, k, la.ld, lb.ld, m,
                                    la.trans, lb.trans, T(1), T(0)};
  ops::cpu::batched_gemm<T>(args);
}

// a (..., n, k) @ b (..., k, m), both at least 2-D.
Tensor matmul_nd(const Tensor& a, const Tensor& b, const char* op) {
  const int64_t n = a.size(-2), k = a.size(-1), k2 = b.size(-2), m = b.size(-1);
  CF_CHECK(k == k2, ShapeError, op, ": shapes ", a.shape(), " and ", b.shape(),
           " cannot be multiplied (", k, " != ", k2, ")");
  Shape ba, bb;
  for (int i = 0; i < a.dim() - 2; ++i) ba.push_back(a.shape()[i]);
  for (int i = 0; i < b.dim() - 2; ++i) bb.push_back(b.shape()[i]);
  const Shape batch = broadcast_shapes(ba, bb, op);
  Shape out_shape = batch;
  out_shape.push_back(n);
  out_shape.push_back(m);
  Tensor out = empty(out_shape, a.dtype());
  if (out.numel() > 0) {
    // Fold the batch into the rows when b is one matrix and a's rows are evenly spaced.
    const bool fold = b.dim() == 2 && a.dim() > 2 && a.is_contiguous();
    if (fold) {
      Tensor a2 = a.reshape(Shape{-1, k});
      Tensor o2 = out.view(Shape{-1, m});
      if (a.dtype() == DType::f32) run_gemm<float>(a2, b, o2, Shape{});
      else run_gemm<double>(a2, b, o2, Shape{});
    } else if (a.dtype() == DType::f32) {
      run_gemm<float>(a, b, out, batch);
    } else {
      run_gemm<double>(a, b, out, batch);
    }
  }
  if (autograd::needs_grad(a, b)) {
    autograd::record(op, {a, b}, out,
                     [sa = autograd::save(a), sb = autograd::save(b)](const TensorList& g,
                                                                      const Needs& needs) -> TensorList {
                       const Tensor& a = sa.get();
                       const Tensor& b = sb.get();
                       Tensor ga, gb;
                       if (needs[0]) ga = ops::sum_to_shape(matmul(g[0], b.mT()), a.shape());
                       if (needs[1]) {
                         if (b.dim() == 2 && a.dim() > 2) {
                           const int64_t k = a.size(-1), m = g[0].size(-1);
                           gb = matmul(a.reshape(Shape{-1, k}).t(), g[0].reshape(Shape{-1, m}));
                         } else {
                           gb = ops::sum_to_shape(matmul(a.mT(), g[0]), b.shape());
                         }
                       }
                       return {ga, gb};
                     });
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul_dtypes("matmul", a, b);
  CF_CHECK(a.dim() >= 1 && b.dim() >= 1, ShapeError, "matmul: both operands need at least 1 dim, ",
           "got shapes ", a.shape(), " and ", b.shape());
  if (a.dim() == 1 && b.dim() == 1) {
    CF_CHECK(a.size(0) == b.size(0), ShapeError, "matmul: shapes ", a.shape(), " and ", b.shape(),
             " cannot be multiplied");
    return matmul_nd(a.unsqueeze(0), b.unsqueeze(1), "matmul").reshape(Shape{});
  }
  if (a.dim() == 1) return matmul_nd(a.unsqueeze(0), b, "matmul").squeeze(-2);
  if (b.dim() == 1) return matmul_nd(a, b.unsqueeze(1), "matmul").squeeze(-1);
  return matmul_nd(a, b, "matmul");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_matmul_dtypes("bmm", a, b);
  CF_CHECK(a.dim() == 3 && b.dim() == 3, ShapeError, "bmm: expects two 3-D tensors, got shapes ",
           a.shape(), " and ", b.shape());
  CF_CHECK(a.size(0) == b.size(0), ShapeError, "bmm: batch sizes differ: ", a.shape(), " and ",
           b.shape());
  return matmul_nd(a, b, "bmm");
}

namespace {

// The weight (N, K) as GEMM sees it: row-major (the usual nn.Linear layout) or column-major
// (the transpose of a contiguous (K, N) matrix, as HF GPT-2's Conv1D stores it).
struct WeightLayout {
  Tensor base;       // contiguous storage holder
  bool col_major;    // base is (K, N) and weight = base^T
};

WeightLayout weight_layout(const Tensor& w) {
  const Tensor d = w.detach();
  if (d.stride(0) == 1 && d.stride(1) == d.size(0) && d.size(0) > 1) return {d.t(), true};
  return {d.contiguous(), false};
}

template <class T>
void linear_forward(const Tensor& x2, const WeightLayout& w, const Tensor& bias, const Tensor& out) {
  const int64_t M = x2.size(0), K = x2.size(1), N = out.size(1);
  T* o = out.data_ptr<T>();
  T beta = T(0);
  if (bias.defined()) {
    Tensor bc = bias.contiguous();
    const T* bp = bc.data_ptr<T>();
    for (int64_t i = 0; i < M; ++i) std::copy(bp, bp + N, o + i * N);
    beta = T(1);
  }
  // out = x2 . w^T; w^T is base (K, N) itself when column-major.
  ops::cpu::gemm(false, !w.col_major, M, N, K, T(1), x2.data_ptr<T>(), K, w.base.data_ptr<T>(),
                 w.col_major ? N : K, beta, o, N);
}

template <class T>
TensorList linear_backward(const Tensor& g2, const Tensor& x2, const WeightLayout& w,
                           const Needs& needs, bool has_bias) {
  const int64_t M = x2.size(0), K = x2.size(1), N = g2.size(1);
  Tensor gx, gw, gb;
  if (needs[0]) {  // gx = g2 (M, N) . w (N, K)
    gx = empty(Shape{M, K}, g2.dtype());
    ops::cpu::gemm(false, w.col_major, M, K, N, T(1), g2.data_ptr<T>(), N, w.base.data_ptr<T>(),
                   w.col_major ? N : K, T(0), gx.data_ptr<T>(), K);
  }
  if (needs[1]) {
    if (w.col_major) {  // the gradient in the weight's own layout: (K, N) = x2^T g2, viewed as (N, K)
      Tensor gt = empty(Shape{K, N}, g2.dtype());
      ops::cpu::gemm(true, false, K, N, M, T(1), x2.data_ptr<T>(), K, g2.data_ptr<T>(), N, T(0),
                     gt.data_ptr<T>(), N);
      gw = gt.t();
    } else {  // (N, K) = g2^T x2
      gw = empty(Shape{N, K}, g2.dtype());
      ops::cpu::gemm(true, false, N, K, M, T(1), g2.data_ptr<T>(), N, x2.data_ptr<T>(), K, T(0),
                     gw.data_ptr<T>(), K);
    }
  }
  if (has_bias && needs[2]) gb = sum(g2, Dims{0});
  return {gx, gw, gb};
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_matmul_dtypes("linear", x, weight);
  CF_CHECK(weight.dim() == 2, ShapeError, "linear: weight must be 2-D (out, in), got shape ",
           weight.shape());
  CF_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), ShapeError, "linear: input shape ",
           x.shape(), " does not end in in_features ", weight.size(1), " of weight ", weight.shape());
  if (bias.defined()) {
    CF_CHECK(bias.dtype() == x.dtype(), DTypeError, "linear: bias dtype ", dtype_name(bias.dtype()),
             " differs from input dtype ", dtype_name(x.dtype()));
    CF_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), ShapeError,
             "linear: bias must have shape (", weight.size(0), "), got ", bias.shape());
  }
  const int64_t K = weight.size(1), N = weight.size(0);
  Tensor x2 = x.detach().contiguous().reshape(Shape{-1, K});
  const WeightLayout w = weight_layout(weight);
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = N;
  Tensor out2 = empty(Shape{x2.size(0), N}, x.dtype());
  if (x.dtype() == DType::f32) linear_forward<float>(x2, w, bias, out2);
  else linear_forward<double>(x2, w, bias, out2);
  Tensor out = out2.view(out_shape);
  if (autograd::needs_grad(x, weight, bias)) {
    const Shape x_shape = x.shape();
    const bool has_bias = bias.defined(), col_major = w.col_major;
    autograd::record("linear", {x, weight, bias}, out,
                     [sx = autograd::save(x2), sw = autograd::save(w.base), col_major, x_shape,
                      has_bias](const TensorList& g, const Needs& needs) -> TensorList {
                       const Tensor& x2 = sx.get();
                       const WeightLayout w{sw.get(), col_major};
                       Tensor g2 = g[0].contiguous().reshape(Shape{-1, g[0].size(-1)});
                       TensorList r = g2.dtype() == DType::f32
                                          ? linear_backward<float>(g2, x2, w, needs, has_bias)
                                          : linear_backward<double>(g2, x2, w, needs, has_bias);
                       if (r[0].defined()) r[0] = r[0].view(x_shape);
                       return r;
                     });
  }
  return out;
}

}  // namespace cf
