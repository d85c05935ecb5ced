#include "ops/shape.h"

#include <vector>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;
using Maps = std::vector<std::vector<int64_t>>;

void check_input(const char* op, const Tensor& t, const char* arg = "input") {
  CF_CHECK(t.defined(), ValueError, op, ": ", arg, " is undefined");
  detail::check_cpu(t, op, arg);
}

int64_t prod(const Shape& s, int begin, int end) {
  int64_t p = 1;
  for (int d = begin; d < end; ++d) p *= s[d];
  return p;
}

// ----------------------------------------------------------------------------- cat and stack

// PyTorch skips 1-D empty tensors in cat whatever the other shapes (legacy behaviour).
bool skipped_in_cat(const Tensor& t) { return t.dim() == 1 && t.numel() == 0; }

// Concatenates validated tensors (no history) along dim into a new tensor of out_shape.
Tensor cat_data(const std::vector<Tensor>& xs, int dim, const Shape& out_shape, DType dtype) {
  Tensor out = empty(out_shape, dtype);
  if (out.numel() == 0) return out;
  const int64_t trail = prod(out_shape, dim + 1, out_shape.size());
  std::vector<Tensor> keep;
  std::vector<const void*> ptrs;
  std::vector<int64_t> inner;
  for (const Tensor& x : xs) {
    if (x.numel() == 0) continue;
    keep.push_back(x.detach().contiguous());
    ptrs.push_back(keep.back().raw_data_ptr());
    inner.push_back(x.shape()[dim] * trail);
  }
  ops::cpu::CatArgs a{static_cast<int>(ptrs.size()), ptrs.data(), inner.data(), out.raw_data_ptr(),
                      prod(out_shape, 0, dim), out_shape[dim] * trail, out.element_size()};
  ops::cpu::cat_forward(a);
  return out;
}

void check_tensor_list(const char* op, const std::vector<Tensor>& ts) {
  CF_CHECK(!ts.empty(), ValueError, op, ": expects a non-empty list of tensors");
  for (size_t i = 0; i < ts.size(); ++i) {
    CF_CHECK(ts[i].defined(), ValueError, op, ": tensor ", i, " is undefined");
    detail::check_cpu(ts[i], op, "tensors");
    CF_CHECK(ts[i].dtype() == ts[0].dtype(), DTypeError, op, ": tensor ", i, " has dtype ",
             dtype_name(ts[i].dtype()), ", expected ", dtype_name(ts[0].dtype()),
             " like tensor 0 (cformer does not promote)");
  }
}

// ---------------------------------------------------------------------------- split and chunk

std::vector<Tensor> split_impl(const char* op, const Tensor& x, const std::vector<int64_t>& sizes,
                               int dim) {
  const Tensor xd = x.detach();
  std::vector<Tensor> outs;
  int64_t off = 0;
  for (int64_t s : sizes) {
    outs.push_back(xd.narrow(dim, off, s));
    off += s;
  }
  if (autograd::needs_grad(x)) {
    std::vector<Tensor*> ptrs;
    for (Tensor& t : outs) ptrs.push_back(&t);
    const Shape in_shape = x.shape();
    const DType dt = x.dtype();
    autograd::record(op, {x}, ptrs, [in_shape, dt, sizes, dim](const TensorList& g, const Needs&) -> TensorList {
      std::vector<Tensor> parts;
      for (size_t k = 0; k < sizes.size(); ++k) {
        if (g[k].defined()) {
          parts.push_back(g[k]);
        } else {
          Shape s = in_shape;
          s[dim] = sizes[k];
          parts.push_back(zeros(s, dt));
        }
      }
      return {cat(parts, dim)};
    });
  }
  return outs;
}

int split_dim(const char* op, const Tensor& x, int dim) {
  check_input(op, x);
  CF_CHECK(x.dim() > 0, ShapeError, op, ": expects at least a 1-D tensor, got a 0-dim tensor");
  return detail::wrap_dim(dim, x.dim(), op);
}

// ------------------------------------------------------------------- remap: repeat, flip, pad

// out = x[maps] with fill where a map is -1 (no history). x of any dtype; 0-dim runs as (1).
Tensor remap(const Tensor& x, const Shape& out_shape, const Maps& maps, double fill) {
  Tensor out = empty(out_shape, x.dtype());
  if (out.numel() == 0) return out;
  const Tensor xc = x.detach().contiguous();
  const Tensor f = full(Shape{}, fill, x.dtype());
  static const int64_t kIdentity0[1] = {0};
  ops::cpu::RemapArgs a{};
  a.x = xc.raw_data_ptr();
  a.out = out.raw_data_ptr();
  a.fill = f.raw_data_ptr();
  a.elem_size = x.element_size();
  a.ndim = std::max(1, out_shape.size());
  if (out_shape.size() == 0) {
    a.in_shape[0] = a.out_shape[0] = 1;
    a.map[0] = kIdentity0;
  }
  for (int d = 0; d < out_shape.size(); ++d) {
    a.in_shape[d] = x.shape()[d];
    a.out_shape[d] = out_shape[d];
    a.map[d] = maps[d].data();
  }
  ops::cpu::remap_forward(a);
  return out;
}

// The gradient of remap: dx[map(o)] += g[o].
Tensor remap_backward(const Tensor& g, const Shape& in_shape, const Maps& maps) {
  Tensor dx = zeros(in_shape, g.dtype());
  if (g.numel() == 0 || dx.numel() == 0) return dx;
  const Tensor gc = g.contiguous();
  static const int64_t kIdentity0[1] = {0};
  ops::cpu::RemapArgs a{};
  a.x = gc.raw_data_ptr();
  a.elem_size = g.element_size();
  a.ndim = std::max(1, in_shape.size());
  if (in_shape.size() == 0) {
    a.in_shape[0] = a.out_shape[0] = 1;
    a.map[0] = kIdentity0;
  }
  for (int d = 0; d < in_shape.size(); ++d) {
    a.in_shape[d] = in_shape[d];
    a.out_shape[d] = g.shape()[d];
    a.map[d] = maps[d].data();
  }
  switch (g.dtype()) {
    case DType::f32: ops::cpu::remap_backward<float>(a, dx.data_ptr<float>()); break;
    case DType::f64: ops::cpu::remap_backward_ref<double>(a, dx.data_ptr<double>()); break;
    default: CF_THROW(DTypeError, "remap backward: unsupported dtype ", dtype_name(g.dtype()));
  }
  return dx;
}

// Records a remap op's node; `view_shape` is the shape x was viewed as (repeat adds dims).
void record_remap(const char* op, const Tensor& x, Tensor& out, const Shape& view_shape, Maps maps) {
  if (!autograd::needs_grad(x)) return;
  const Shape in_shape = x.shape();
  autograd::record(op, {x}, out, [in_shape, view_shape, maps = std::move(maps)](const TensorList& g, const Needs&) -> TensorList {
    return {remap_backward(g[0], view_shape, maps).reshape(in_shape)};
  });
}

std::vector<int64_t> identity_map(int64_t n) {
  std::vector<int64_t> m(n);
  for (int64_t i = 0; i < n; ++i) m[i] = i;
  return m;
}

void tri_data(const Tensor& x, const Tensor& out, int64_t diagonal, bool upper) {
  if (x.numel() == 0) return;
  const Tensor xc = x.detach().contiguous();
  const int nd = x.dim();
  ops::cpu::TriArgs a{xc.raw_data_ptr(), out.raw_data_ptr(), prod(x.shape(), 0, nd - 2),
                      x.shape()[nd - 2], x.shape()[nd - 1], diagonal, upper, x.element_size()};
  ops::cpu::tri_forward(a);
}

Tensor tri(const char* op, const Tensor& x, int64_t diagonal, bool upper) {
  check_input(op, x);
  CF_CHECK(x.dim() >= 2, ShapeError, op, ": expects a tensor with at least 2 dims, got shape ",
           x.shape());
  Tensor out = empty(x.shape(), x.dtype());
  tri_data(x, out, diagonal, upper);
  if (autograd::needs_grad(x)) {
    autograd::record(op, {x}, out, [diagonal, upper](const TensorList& g, const Needs&) -> TensorList {
      return {upper ? triu(g[0], diagonal) : tril(g[0], diagonal)};
    });
  }
  return out;
}

template <class T> void run_cumsum(const Tensor& xc, const Tensor& y, int64_t outer, int64_t n,
                                   int64_t inner) {
  ops::cpu::CumsumArgs<T> a{xc.data_ptr<T>(), y.data_ptr<T>(), outer, n, inner};
  if constexpr (std::is_same_v<T, double>) ops::cpu::cumsum_forward_ref<T>(a);
  else ops::cpu::cumsum_forward<T>(a);
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int dim) {
  check_tensor_list("cat", tensors);
  int ref = -1;
  for (size_t i = 0; i < tensors.size(); ++i) {
    CF_CHECK(tensors[i].dim() > 0, ShapeError, "cat: tensor ", i,
             " is 0-dim and cannot be concatenated");
    if (ref < 0 && !skipped_in_cat(tensors[i])) ref = static_cast<int>(i);
  }
  if (ref < 0) {  // only 1-D empty tensors: PyTorch returns an empty (0)
    detail::wrap_dim(dim, 1, "cat");
    return empty(Shape{0}, tensors[0].dtype());
  }
  const Shape& rs = tensors[ref].shape();
  const int d = detail::wrap_dim(dim, rs.size(), "cat");
  Shape out_shape = rs;
  out_shape[d] = 0;
  std::vector<int64_t> sizes(tensors.size(), -1);  // -1: skipped
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped_in_cat(t)) continue;
    bool match = t.dim() == rs.size();
    for (int k = 0; match && k < rs.size(); ++k) match = k == d || t.shape()[k] == rs[k];
    CF_CHECK(match, ShapeError, "cat: tensor ", i, " has shape ", t.shape(),
             ", which does not match shape ", rs, " of tensor ", ref, " outside dim ", d);
    sizes[i] = t.shape()[d];
    out_shape[d] += t.shape()[d];
  }
  Tensor out = cat_data(tensors, d, out_shape, tensors[0].dtype());
  if (autograd::needs_grad(tensors)) {
    autograd::record("cat", tensors, out, [sizes, d](const TensorList& g, const Needs& needs) -> TensorList {
      TensorList grads(sizes.size());
      int64_t off = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (sizes[i] < 0) {  // a skipped 1-D empty tensor
          if (needs[i]) grads[i] = zeros(Shape{0}, g[0].dtype());
          continue;
        }
        if (needs[i]) grads[i] = g[0].narrow(d, off, sizes[i]);
        off += sizes[i];
      }
      return grads;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int dim) {
  check_tensor_list("stack", tensors);
  const Shape& s0 = tensors[0].shape();
  for (size_t i = 1; i < tensors.size(); ++i)
    CF_CHECK(tensors[i].shape() == s0, ShapeError, "stack: tensor ", i, " has shape ",
             tensors[i].shape(), ", expected ", s0, " like tensor 0");
  const int d = detail::wrap_dim(dim, s0.size() + 1, "stack");
  CF_CHECK(s0.size() < kMaxDims, ShapeError, "stack: the result would have more than ", kMaxDims,
           " dims");
  std::vector<Tensor> views;
  for (const Tensor& t : tensors) views.push_back(t.detach().unsqueeze(d));
  Shape out_shape = views[0].shape();
  out_shape[d] = static_cast<int64_t>(tensors.size());
  Tensor out = cat_data(views, d, out_shape, tensors[0].dtype());
  if (autograd::needs_grad(tensors)) {
    const size_t n = tensors.size();
    autograd::record("stack", tensors, out, [n, d](const TensorList& g, const Needs& needs) -> TensorList {
      TensorList grads(n);
      for (size_t i = 0; i < n; ++i)
        if (needs[i]) grads[i] = g[0].select(d, static_cast<int64_t>(i));
      return grads;
    });
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int dim) {
  const int d = split_dim("split", x, dim);
  const int64_t n = x.shape()[d];
  CF_CHECK(split_size >= 0, ValueError, "split: split_size must be non-negative, got ", split_size);
  CF_CHECK(split_size > 0 || n == 0, ValueError,
           "split: split_size can be 0 only when the dim is empty, but dim ", dim, " has size ", n);
  std::vector<int64_t> sizes;
  if (n == 0) sizes.push_back(0);
  for (int64_t off = 0; off < n; off += split_size) sizes.push_back(std::min(split_size, n - off));
  return split_impl("split", x, sizes, d);
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, int dim) {
  const int d = split_dim("split_with_sizes", x, dim);
  int64_t total = 0;
  for (int64_t s : sizes) {
    CF_CHECK(s >= 0, ValueError, "split_with_sizes: sizes must be non-negative, got ", sizes);
    total += s;
  }
  CF_CHECK(total == x.shape()[d], ShapeError, "split_with_sizes: sizes ", sizes, " sum to ", total,
           ", but dim ", dim, " of shape ", x.shape(), " has size ", x.shape()[d]);
  return split_impl("split_with_sizes", x, std::vector<int64_t>(sizes.begin(), sizes.end()), d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int dim) {
  const int d = split_dim("chunk", x, dim);
  CF_CHECK(chunks > 0, ValueError, "chunk: chunks must be positive, got ", chunks);
  const int64_t n = x.shape()[d];
  std::vector<int64_t> sizes;
  if (n == 0) {
    sizes.assign(chunks, 0);  // PyTorch: `chunks` empty pieces
  } else {
    const int64_t size = (n + chunks - 1) / chunks;
    for (int64_t off = 0; off < n; off += size) sizes.push_back(std::min(size, n - off));
  }
  return split_impl("chunk", x, sizes, d);
}

Tensor repeat(const Tensor& x, const Shape& repeats) {
  check_input("repeat", x);
  CF_CHECK(repeats.size() >= x.dim(), ShapeError, "repeat: the number of repeats ", repeats,
           " must be at least the number of dims of the input, ", x.dim());
  const int lead = repeats.size() - x.dim();
  Shape view_shape, out_shape;
  Maps maps;
  for (int d = 0; d < repeats.size(); ++d) {
    CF_CHECK(repeats[d] >= 0, ValueError, "repeat: repeats must be non-negative, got ", repeats);
    const int64_t n = d < lead ? 1 : x.shape()[d - lead];
    view_shape.push_back(n);
    out_shape.push_back(n * repeats[d]);
    std::vector<int64_t> m(n * repeats[d]);
    for (int64_t o = 0; o < n * repeats[d]; ++o) m[o] = o % n;
    maps.push_back(std::move(m));
  }
  Tensor out = remap(x.detach().reshape(view_shape), out_shape, maps, 0.0);
  record_remap("repeat", x, out, view_shape, std::move(maps));
  return out;
}

Tensor tril(const Tensor& x, int64_t diagonal) { return tri("tril", x, diagonal, false); }
Tensor triu(const Tensor& x, int64_t diagonal) { return tri("triu", x, diagonal, true); }

Tensor flip(const Tensor& x, const Dims& dims) {
  check_input("flip", x);
  bool flipped[kMaxDims] = {};
  for (int64_t d : dims) {
    const int w = detail::wrap_dim(d, x.dim(), "flip");
    CF_CHECK(!flipped[w], ValueError, "flip: dim ", d, " appears twice in dims ", dims);
    flipped[w] = true;
  }
  Maps maps;
  for (int d = 0; d < x.dim(); ++d) {
    const int64_t n = x.shape()[d];
    std::vector<int64_t> m = identity_map(n);
    if (flipped[d])
      for (int64_t o = 0; o < n; ++o) m[o] = n - 1 - o;
    maps.push_back(std::move(m));
  }
  Tensor out = remap(x, x.shape(), maps, 0.0);
  if (autograd::needs_grad(x)) {
    autograd::record("flip", {x}, out, [dims](const TensorList& g, const Needs&) -> TensorList {
      return {flip(g[0], dims)};
    });
  }
  return out;
}

Tensor pad(const Tensor& x, const Shape& pad, PadMode mode, double value) {
  check_input("pad", x);
  CF_CHECK(pad.size() % 2 == 0, ValueError, "pad: pad must have an even number of entries, got ",
           pad);
  const int np = pad.size() / 2;
  CF_CHECK(np <= x.dim(), ShapeError, "pad: pad ", pad, " pads ", np,
           " dims, but the input has shape ", x.shape());
  const char* mode_name = mode == PadMode::constant ? "constant" : mode == PadMode::reflect ? "reflect"
                          : mode == PadMode::replicate ? "replicate" : "circular";
  Shape out_shape = x.shape();
  Maps maps;
  for (int d = 0; d < x.dim(); ++d) {
    const int k = x.dim() - 1 - d;  // pad pair index: 0 is the last dim
    const int64_t n = x.shape()[d];
    const int64_t l = k < np ? pad[2 * k] : 0, r = k < np ? pad[2 * k + 1] : 0;
    const int64_t size = n + l + r;
    CF_CHECK(size >= 0, ShapeError, "pad: dim ", d, " of size ", n, " padded by (", l, ", ", r,
             ") gives a negative size ", size);
    if (mode != PadMode::constant && (l != 0 || r != 0)) {
      // Negative pads crop first; PyTorch 1.13's circular mode then wraps the cropped output,
      // which is no padding rule at all, so cformer rejects it.
      CF_CHECK(mode != PadMode::circular || (l >= 0 && r >= 0), ValueError,
               "pad: negative padding (", l, ", ", r, ") is not supported in ", mode_name, " mode");
      if (mode == PadMode::reflect)
        CF_CHECK(l < n && r < n, ValueError, "pad: reflect padding (", l, ", ", r,
                 ") must be less than the size ", n, " of dim ", d);
      if (mode == PadMode::replicate)
        CF_CHECK(n > 0, ValueError, "pad: replicate padding of dim ", d, " needs a non-empty dim");
      if (mode == PadMode::circular)
        CF_CHECK(l <= n && r <= n, ValueError, "pad: circular padding (", l, ", ", r,
                 ") must not exceed the size ", n, " of dim ", d);
    }
    out_shape[d] = size;
    std::vector<int64_t> m(size);
    for (int64_t o = 0; o < size; ++o) {
      int64_t i = o - l;
      if (i < 0 || i >= n) {
        switch (mode) {
          case PadMode::constant: i = -1; break;
          case PadMode::reflect: i = i < 0 ? -i : 2 * (n - 1) - i; break;
          case PadMode::replicate: i = i < 0 ? 0 : n - 1; break;
          case PadMode::circular: i = ((i % n) + n) % n; break;
        }
      }
      m[o] = i;
    }
    maps.push_back(std::move(m));
  }
  Tensor out = remap(x, out_shape, maps, value);
  record_remap("pad", x, out, x.shape(), std::move(maps));
  return out;
}

Tensor cumsum(const Tensor& x, int dim) {
  ops::check_arithmetic("cumsum", x);
  const int d = detail::wrap_dim(dim, x.dim(), "cumsum");
  Tensor y = empty(x.shape(), x.dtype());
  if (x.numel() > 0) {
    const Tensor xc = x.detach().contiguous();
    const int nd = x.dim();
    const int64_t outer = nd ? prod(x.shape(), 0, d) : 1, n = nd ? x.shape()[d] : 1;
    const int64_t inner = nd ? prod(x.shape(), d + 1, nd) : 1;
    switch (x.dtype()) {
      case DType::f32: run_cumsum<float>(xc, y, outer, n, inner); break;
      case DType::f64: run_cumsum<double>(xc, y, outer, n, inner); break;
      case DType::i64: run_cumsum<int64_t>(xc, y, outer, n, inner); break;
      default: CF_THROW(DTypeError, "cumsum: unsupported dtype ", dtype_name(x.dtype()));
    }
  }
  if (autograd::needs_grad(x)) {
    const bool scalar = x.dim() == 0;
    autograd::record("cumsum", {x}, y, [d, scalar](const TensorList& g, const Needs&) -> TensorList {
      if (scalar) return {g[0]};
      return {flip(cumsum(flip(g[0], Dims{d}), d), Dims{d})};
    });
  }
  return y;
}

}  // namespace cf
