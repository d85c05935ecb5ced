#include "ops/embedding.h"

#include <algorithm>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "ops/index.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

void check_indices(const char* op, const Tensor& indices) {
  CF_CHECK(indices.defined(), ValueError, op, ": indices is undefined");
  detail::check_cpu(indices, op, "indices");
  CF_CHECK(indices.dtype() == DType::i64, DTypeError, op, ": indices must be i64, got ",
           dtype_name(indices.dtype()));
}

template <class T> void run_forward(const Tensor& ic, const Tensor& wc, const Tensor& out) {
  ops::cpu::EmbeddingArgs<T> a{ic.data_ptr<int64_t>(), wc.data_ptr<T>(), out.data_ptr<T>(),
                               ic.numel(), wc.shape()[0], wc.shape()[1]};
  if constexpr (std::is_same_v<T, float>) ops::cpu::embedding_forward<T>(a);
  else ops::cpu::embedding_forward_ref<T>(a);
}

template <class T> void run_backward(const Tensor& ic, const Tensor& gc, const Tensor& dw,
                                     int64_t padding_idx) {
  ops::cpu::EmbeddingBackwardArgs<T> a{ic.data_ptr<int64_t>(), gc.data_ptr<T>(), dw.data_ptr<T>(),
                                       ic.numel(), dw.shape()[0], dw.shape()[1], padding_idx};
  if constexpr (std::is_same_v<T, float>) ops::cpu::embedding_backward<T>(a);
  else ops::cpu::embedding_backward_ref<T>(a);
}

}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  check_indices("embedding", indices);
  ops::check_floating("embedding", weight, "weight");
  CF_CHECK(weight.dim() == 2, ShapeError,
           "embedding: weight must be 2-D (num_embeddings, dim), got shape ", weight.shape());
  const int64_t V = weight.shape()[0], D = weight.shape()[1];
  int64_t pad = -1;
  if (padding_idx) {
    CF_CHECK(*padding_idx >= -V && *padding_idx < V, ValueError, "embedding: padding_idx ",
             *padding_idx, " is out of range for num_embeddings ", V);
    pad = *padding_idx < 0 ? *padding_idx + V : *padding_idx;
  }
  CF_CHECK(indices.dim() < kMaxDims, ShapeError, "embedding: indices of shape ", indices.shape(),
           " would give more than ", kMaxDims, " dims");
  ops::check_index_range("embedding", indices, V, detail::str_cat("num_embeddings ", V).c_str());
  Shape out_shape = indices.shape();
  out_shape.push_back(D);
  Tensor out = empty(out_shape, weight.dtype());
  const Tensor ic = indices.contiguous();
  if (out.numel() > 0) {
    const Tensor wc = weight.detach().contiguous();
    if (weight.dtype() == DType::f32) run_forward<float>(ic, wc, out);
    else run_forward<double>(ic, wc, out);
  }
  if (autograd::needs_grad(weight)) {
    const Shape w_shape = weight.shape();
    autograd::record("embedding", {Tensor(), weight}, out,
                     [w_shape, pad, si = autograd::save(ic)](const TensorList& g, const Needs&) -> TensorList {
                       Tensor dw = empty(w_shape, g[0].dtype());
                       const Tensor gc = g[0].contiguous();
                       if (g[0].dtype() == DType::f32) run_backward<float>(si.get(), gc, dw, pad);
                       else run_backward<double>(si.get(), gc, dw, pad);
                       return {Tensor(), dw};
                     });
  }
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  check_indices("one_hot", indices);
  CF_CHECK(num_classes >= -1, ValueError, "one_hot: num_classes must be -1 or non-negative, got ",
           num_classes);
  CF_CHECK(indices.dim() < kMaxDims, ShapeError, "one_hot: indices of shape ", indices.shape(),
           " would give more than ", kMaxDims, " dims");
  const Tensor ic = indices.contiguous();
  const int64_t N = ic.numel();
  if (num_classes == -1) {
    CF_CHECK(N > 0, ValueError,
             "one_hot: cannot infer num_classes (-1) from an empty indices tensor");
    const int64_t* p = ic.data_ptr<int64_t>();
    num_classes = *std::max_element(p, p + N) + 1;
  }
  ops::check_index_range("one_hot", ic, num_classes,
                         detail::str_cat("num_classes ", num_classes).c_str());
  Shape out_shape = indices.shape();
  out_shape.push_back(num_classes);
  Tensor out = empty(out_shape, DType::i64);
  if (out.numel() > 0) ops::cpu::one_hot_forward(ic.data_ptr<int64_t>(), N, num_classes, out.data_ptr<int64_t>());
  return out;
}

}  // namespace cf
