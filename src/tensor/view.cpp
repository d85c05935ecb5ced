// Views: new sizes/strides/offset over the same storage, no copy. Each records an autograd node
// whose backward maps the gradient back to the input's shape.
#include <numeric>
#include <optional>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/reduce.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

Shape infer_size(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      CF_CHECK(infer < 0, ShapeError, op, ": only one dimension can be -1, got ", shape);
      infer = i;
    } else {
      CF_CHECK(out[i] >= 0, ShapeError, op, ": invalid size in shape ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    CF_CHECK(known != 0 && numel % known == 0, ShapeError, op, ": shape ", shape,
             " is invalid for a tensor of ", numel, " elements");
    out[infer] = numel / known;
  }
  CF_CHECK(out.numel() == numel, ShapeError, op, ": shape ", shape, " is invalid for a tensor of ",
           numel, " elements");
  return out;
}

// Strides for viewing (old_sizes, old_strides) as new_sizes, or nullopt when impossible.
std::optional<Shape> view_strides(const Shape& old_sizes, const Shape& old_strides,
                                  const Shape& new_sizes) {
  Shape os = old_sizes, ost = old_strides;
  if (os.empty()) {
    os = Shape{1};
    ost = Shape{1};
  }
  Shape ns = Shape::filled(new_sizes.size(), 0);
  if (os.numel() == 0) return detail::contiguous_strides(new_sizes);
  int view_d = new_sizes.size() - 1;
  int64_t chunk_base = ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int td = os.size() - 1; td >= 0; --td) {
    tensor_numel *= os[td];
    if (td == 0 || (os[td - 1] != 1 && ost[td - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        ns[view_d] = view_numel * chunk_base;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (td > 0) {
        chunk_base = ost[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return ns;
}

// Records a view node whose backward reshapes the gradient back to the input's shape.
void record_reshape_back(const char* name, const Tensor& in, Tensor& out) {
  if (!autograd::needs_grad(in)) return;
  const Shape in_shape = in.shape();
  autograd::record(name, {in}, out, [in_shape](const TensorList& g, const Needs&) -> TensorList {
    return {g[0].reshape(in_shape)};
  });
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  const Shape sizes = infer_size(shape, numel(), "view");
  auto st = view_strides(this->shape(), strides(), sizes);
  CF_CHECK(st.has_value(), ShapeError, "view: shape ", sizes, " is incompatible with the strides ",
           strides(), " of a tensor of shape ", this->shape(), "; use reshape");
  Tensor out = make_view(*this, sizes, *st, storage_offset());
  record_reshape_back("view", *this, out);
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
  const Shape sizes = infer_size(shape, numel(), "reshape");
  if (sizes == this->shape()) return *this;
  auto st = view_strides(this->shape(), strides(), sizes);
  if (st.has_value()) {
    Tensor out = make_view(*this, sizes, *st, storage_offset());
    record_reshape_back("reshape", *this, out);
    return out;
  }
  return contiguous().view(sizes);
}

Tensor Tensor::flatten(int start_dim, int end_dim) const {
  if (dim() == 0) return reshape(Shape{1});
  const int s = detail::wrap_dim(start_dim, dim(), "flatten");
  const int e = detail::wrap_dim(end_dim, dim(), "flatten");
  CF_CHECK(s <= e, IndexError, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape ns;
  for (int i = 0; i < s; ++i) ns.push_back(shape()[i]);
  int64_t p = 1;
  for (int i = s; i <= e; ++i) p *= shape()[i];
  ns.push_back(p);
  for (int i = e + 1; i < dim(); ++i) ns.push_back(shape()[i]);
  return reshape(ns);
}

Tensor Tensor::permute(const Dims& dims) const {
  CF_CHECK(dims.size() == dim(), ShapeError, "permute: expected ", dim(), " dims, got ", dims);
  Shape ns, nst;
  bool seen[kMaxDims] = {};
  Dims wrapped;
  for (int i = 0; i < dims.size(); ++i) {
    const int d = detail::wrap_dim(dims[i], dim(), "permute");
    CF_CHECK(!seen[d], ShapeError, "permute: dim ", dims[i], " repeats in ", dims);
    seen[d] = true;
    wrapped.push_back(d);
    ns.push_back(shape()[d]);
    nst.push_back(strides()[d]);
  }
  Tensor out = make_view(*this, ns, nst, storage_offset());
  if (autograd::needs_grad(*this)) {
    Dims inverse = Dims::filled(dim(), 0);
    for (int i = 0; i < dim(); ++i) inverse[static_cast<int>(wrapped[i])] = i;
    autograd::record("permute", {*this}, out, [inverse](const TensorList& g, const Needs&) -> TensorList {
      return {g[0].permute(inverse)};
    });
  }
  return out;
}

Tensor Tensor::transpose(int d0, int d1) const {
  if (dim() == 0) return *this;
  const int a = detail::wrap_dim(d0, dim(), "transpose");
  const int b = detail::wrap_dim(d1, dim(), "transpose");
  Dims p;
  for (int i = 0; i < dim(); ++i) p.push_back(i);
  std::swap(p[a], p[b]);
  return permute(p);
}

Tensor Tensor::t() const {
  CF_CHECK(dim() <= 2, ShapeError, "t: expects a tensor with at most 2 dims, got shape ", shape());
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::mT() const {
  CF_CHECK(dim() >= 2, ShapeError, "mT: expects at least 2 dims, got shape ", shape());
  return transpose(-2, -1);
}

Tensor Tensor::slice(int d, int64_t start, int64_t end, int64_t step) const {
  const int dd = detail::wrap_dim(d, dim(), "slice");
  CF_CHECK(step > 0, ValueError, "slice: step must be positive, got ", step);
  const int64_t n = shape()[dd];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape ns = shape(), nst = strides();
  ns[dd] = (end - start + step - 1) / step;
  nst[dd] = strides()[dd] * step;
  Tensor out = make_view(*this, ns, nst, storage_offset() + start * strides()[dd]);
  if (autograd::needs_grad(*this)) {
    const Shape in_shape = shape();
    const DType dt = dtype();
    autograd::record("slice", {*this}, out,
                     [in_shape, dt, dd, start, end, step](const TensorList& g, const Needs&) -> TensorList {
                       Tensor gi = zeros(in_shape, dt);
                       gi.slice(dd, start, end, step).copy_(g[0]);
                       return {gi};
                     });
  }
  return out;
}

Tensor Tensor::narrow(int d, int64_t start, int64_t length) const {
  const int dd = detail::wrap_dim(d, dim(), "narrow");
  const int64_t n = shape()[dd];
  if (start < 0) start += n;
  CF_CHECK(start >= 0 && length >= 0 && start + length <= n, IndexError, "narrow: start ", start,
           " and length ", length, " exceed size ", n, " of dim ", d);
  return slice(dd, start, start + length);
}

Tensor Tensor::select(int d, int64_t i) const {
  const int dd = detail::wrap_dim(d, dim(), "select");
  CF_CHECK(dim() > 0, IndexError, "select: cannot select from a 0-dim tensor");
  const int64_t n = shape()[dd];
  CF_CHECK(i >= -n && i < n, IndexError, "select: index ", i, " is out of range for dim ", d,
           " of size ", n);
  if (i < 0) i += n;
  Shape ns = shape(), nst = strides();
  ns.erase(dd);
  nst.erase(dd);
  Tensor out = make_view(*this, ns, nst, storage_offset() + i * strides()[dd]);
  if (autograd::needs_grad(*this)) {
    const Shape in_shape = shape();
    const DType dt = dtype();
    autograd::record("select", {*this}, out, [in_shape, dt, dd, i](const TensorList& g, const Needs&) -> TensorList {
      Tensor gi = zeros(in_shape, dt);
      gi.select(dd, i).copy_(g[0]);
      return {gi};
    });
  }
  return out;
}

Tensor Tensor::expand(const Shape& shape) const {
  CF_CHECK(shape.size() >= dim(), ShapeError, "expand: cannot expand shape ", this->shape(),
           " to ", shape, " (fewer dims)");
  const int off = shape.size() - dim();
  Shape ns, nst;
  for (int i = 0; i < shape.size(); ++i) {
    const int j = i - off;
    int64_t s = shape[i];
    if (j < 0) {
      CF_CHECK(s >= 0, ShapeError, "expand: -1 is not allowed for a new leading dim in ", shape);
      ns.push_back(s);
      nst.push_back(0);
      continue;
    }
    const int64_t cur = this->shape()[j];
    if (s == -1) s = cur;
    CF_CHECK(cur == s || cur == 1, ShapeError, "expand: cannot expand shape ", this->shape(),
             " to ", shape);
    ns.push_back(s);
    nst.push_back(cur == s ? strides()[j] : 0);
  }
  if (ns == this->shape()) return *this;
  Tensor out = make_view(*this, ns, nst, storage_offset());
  if (autograd::needs_grad(*this)) {
    const Shape in_shape = this->shape();
    autograd::record("expand", {*this}, out, [in_shape](const TensorList& g, const Needs&) -> TensorList {
      return {ops::sum_to_shape(g[0], in_shape)};
    });
  }
  return out;
}

Tensor Tensor::squeeze() const {
  Shape ns;
  for (int64_t s : shape())
    if (s != 1) ns.push_back(s);
  return ns == shape() ? *this : reshape(ns);
}

Tensor Tensor::squeeze(int d) const {
  if (dim() == 0) return *this;
  const int dd = detail::wrap_dim(d, dim(), "squeeze");
  if (shape()[dd] != 1) return *this;
  Shape ns = shape(), nst = strides();
  ns.erase(dd);
  nst.erase(dd);
  Tensor out = make_view(*this, ns, nst, storage_offset());
  record_reshape_back("squeeze", *this, out);
  return out;
}

Tensor Tensor::unsqueeze(int d) const {
  const int dd = detail::wrap_dim(d, dim() + 1, "unsqueeze");
  Shape ns = shape(), nst = strides();
  const int64_t st = dd < dim() ? strides()[dd] * shape()[dd] : 1;
  ns.insert(dd, 1);
  nst.insert(dd, st);
  Tensor out = make_view(*this, ns, nst, storage_offset());
  record_reshape_back("unsqueeze", *this, out);
  return out;
}

}  // namespace cf
