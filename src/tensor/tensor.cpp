// Tensor: storage, factories, metadata, conversion and copies.
#include "cformer/tensor.h"

#include <cmath>
#include <cstring>
#include <ostream>
#include <sstream>

#include "autograd/node.h"
#include "ops/copy.h"
#include "ops/inplace.h"
#include "tensor/allocator.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {

StorageImpl::~StorageImpl() { detail::cpu_free(data, nbytes); }
TensorImpl::TensorImpl() = default;
TensorImpl::~TensorImpl() = default;

namespace detail {

int64_t checked_nbytes(const Shape& sizes, DType dtype, const char* op) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    CF_CHECK(s >= 0, ShapeError, op, ": negative size in shape ", sizes);
    if (s != 0 && n > (int64_t{1} << 50) / s)
      CF_THROW(ShapeError, op, ": shape ", sizes, " has too many elements");
    n *= s;
  }
  return n * static_cast<int64_t>(element_size(dtype));
}

}  // namespace detail

// ---------------------------------------------------------------- factories

Tensor empty(const Shape& shape, DType dtype) {
  const int64_t nbytes = detail::checked_nbytes(shape, dtype, "empty");
  auto storage = std::make_shared<StorageImpl>();
  size_t block = 0;
  storage->data = detail::cpu_alloc(static_cast<size_t>(nbytes), &block);
  storage->nbytes = block;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->sizes = shape;
  impl->strides = detail::contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  ops::fill_into(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.numel() > 0) std::memset(t.raw_data_ptr(), 0, t.numel() * t.element_size());
  return t;
}
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.dtype()); }
Tensor scalar_tensor(double value, DType dtype) { return full(Shape{}, value, dtype); }

template <class T> Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  CF_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), ShapeError, "from_vector: ",
           values.size(), " values do not fill shape ", shape);
  Tensor t = empty(shape, DTypeOf<T>::value);
  T* p = t.data_ptr<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}
template Tensor from_vector(const std::vector<float>&, const Shape&);
template Tensor from_vector(const std::vector<double>&, const Shape&);
template Tensor from_vector(const std::vector<int64_t>&, const Shape&);
template Tensor from_vector(const std::vector<uint8_t>&, const Shape&);
template Tensor from_vector(const std::vector<bool>&, const Shape&);

Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->offset = offset;
  impl->sizes = sizes;
  impl->strides = strides;
  impl->dtype = base.dtype();
  impl->device = base.device();
  return Tensor(std::move(impl));
}

// ---------------------------------------------------------------- metadata

int64_t Tensor::size(int d) const {
  return impl_->sizes[detail::wrap_dim(d, dim(), "size")];
}
int64_t Tensor::stride(int d) const {
  return impl_->strides[detail::wrap_dim(d, dim(), "stride")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int d = dim() - 1; d >= 0; --d) {
    const int64_t s = impl_->sizes[d];
    if (s == 1) continue;
    if (s == 0) return true;
    if (impl_->strides[d] != expected) return false;
    expected *= s;
  }
  return true;
}

void* Tensor::raw_data_ptr() const {
  CF_CHECK(defined(), ValueError, "data_ptr: the tensor is undefined");
  char* base = static_cast<char*>(impl_->storage->data);
  if (base == nullptr) return nullptr;
  return base + impl_->offset * static_cast<int64_t>(element_size());
}

void Tensor::check_dtype(DType expected, const char* what) const {
  CF_CHECK(defined(), ValueError, what, ": the tensor is undefined");
  CF_CHECK(dtype() == expected, DTypeError, what, ": expected dtype ", dtype_name(expected),
           ", got ", dtype_name(dtype()));
}

double Tensor::item() const {
  CF_CHECK(defined(), ValueError, "item: the tensor is undefined");
  CF_CHECK(numel() == 1, ShapeError, "item: expected a tensor with one element, got shape ",
           shape());
  Tensor c = empty(Shape{}, DType::f64);
  ops::copy_into(c, make_view(*this, Shape{}, Shape{}, impl_->offset));
  return *c.data_ptr<double>();
}

template <class T> std::vector<T> Tensor::to_vector() const {
  check_dtype(DTypeOf<T>::value, "to_vector");
  Tensor c = contiguous();
  const T* p = c.data_ptr<T>();
  return std::vector<T>(p, p + numel());
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;
template std::vector<uint8_t> Tensor::to_vector() const;
template <> std::vector<bool> Tensor::to_vector() const {
  check_dtype(DType::b8, "to_vector");
  Tensor c = contiguous();
  const bool* p = c.data_ptr<bool>();
  return std::vector<bool>(p, p + numel());
}

std::string Tensor::str(bool values) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(shape=" << shape() << ", dtype=" << dtype_name(dtype());
  if (requires_grad()) os << ", requires_grad";
  if (values) {
    Tensor c = to(DType::f64).contiguous();
    const double* p = c.data_ptr<double>();
    os << ", values=[";
    const int64_t n = std::min<int64_t>(numel(), 64);
    for (int64_t i = 0; i < n; ++i) os << (i ? ", " : "") << p[i];
    if (numel() > n) os << ", ...";
    os << "]";
  }
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(true); }

// ---------------------------------------------------------------- conversion and copies

Tensor Tensor::clone() const {
  CF_CHECK(defined(), ValueError, "clone: the tensor is undefined");
  Tensor out = empty(shape(), dtype());
  ops::copy_into(out, *this);
  if (autograd::needs_grad(*this)) {
    autograd::record("clone", {*this}, out,
                     [](const autograd::TensorList& g, const autograd::Needs&) -> autograd::TensorList {
                       return {g[0]};
                     });
  }
  return out;
}

Tensor Tensor::contiguous() const {
  CF_CHECK(defined(), ValueError, "contiguous: the tensor is undefined");
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::to(DType target) const {
  CF_CHECK(defined(), ValueError, "to: the tensor is undefined");
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target);
  ops::copy_into(out, *this);
  if (is_floating(target) && is_floating(dtype()) && autograd::needs_grad(*this)) {
    const DType source = dtype();
    autograd::record("to", {*this}, out,
                     [source](const autograd::TensorList& g, const autograd::Needs&) -> autograd::TensorList {
                       return {g[0].to(source)};
                     });
  }
  return out;
}

// ---------------------------------------------------------------- in-place ops

Tensor& Tensor::fill_(double value) {
  autograd::check_inplace("fill_", *this, {});
  ops::fill_into(*this, value);
  bump_version();
  return *this;
}

Tensor& Tensor::zero_() {
  autograd::check_inplace("zero_", *this, {});
  if (is_contiguous() && numel() > 0) {
    std::memset(raw_data_ptr(), 0, numel() * element_size());
  } else {
    ops::fill_into(*this, 0.0);
  }
  bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  autograd::check_inplace("copy_", *this, {&src});
  CF_CHECK(src.defined(), ValueError, "copy_: the source tensor is undefined");
  Tensor s = src;
  if (src.shape() != shape()) s = src.expand(shape());  // throws ShapeError when not broadcastable
  if (s.impl()->storage == impl_->storage) s = s.detach().clone();  // overlapping: stage the source
  ops::copy_into(*this, s);
  bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  autograd::check_inplace("add_", *this, {&other});
  ops::add_into(*this, *this, other, alpha);
  bump_version();
  return *this;
}
Tensor& Tensor::add_(double value) {
  autograd::check_inplace("add_", *this, {});
  ops::add_scalar_into(*this, *this, value);
  bump_version();
  return *this;
}
Tensor& Tensor::mul_(const Tensor& other) {
  autograd::check_inplace("mul_", *this, {&other});
  ops::mul_into(*this, *this, other);
  bump_version();
  return *this;
}
Tensor& Tensor::mul_(double value) {
  autograd::check_inplace("mul_", *this, {});
  ops::mul_scalar_into(*this, *this, value);
  bump_version();
  return *this;
}
Tensor& Tensor::masked_fill_(const Tensor& mask, double value) {
  autograd::check_inplace("masked_fill_", *this, {});
  ops::masked_fill_into(*this, *this, mask, value);
  bump_version();
  return *this;
}
Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  autograd::check_inplace("clamp_", *this, {});
  ops::clamp_into(*this, *this, min, max);
  bump_version();
  return *this;
}

}  // namespace cf
