// Tensor: a strided view of reference-counted storage, with optional autograd history.
// Views (reshape, permute, narrow, expand, ...) share storage and its version counter; every
// in-place op bumps the counter so autograd can detect a saved tensor that was modified.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cformer/dtype.h"
#include "cformer/error.h"
#include "cformer/shape.h"

namespace cf {

namespace autograd {
class Node;
struct AutogradMeta;
}  // namespace autograd

/// A block of memory from the caching allocator (64-byte aligned), shared by all views.
struct StorageImpl {
  void* data = nullptr;
  size_t nbytes = 0;
  std::atomic<uint64_t> version{0};
  StorageImpl() = default;
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;
  ~StorageImpl();
};

struct TensorImpl {
  std::shared_ptr<StorageImpl> storage;
  int64_t offset = 0;  // in elements
  Shape sizes;
  Shape strides;       // in elements
  DType dtype = DType::f32;
  Device device = Device::cpu;
  std::unique_ptr<autograd::AutogradMeta> autograd;  // null until autograd touches the tensor
  TensorImpl();
  ~TensorImpl();
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // ---- metadata
  const Shape& shape() const { return impl_->sizes; }
  const Shape& strides() const { return impl_->strides; }
  int dim() const { return impl_->sizes.size(); }
  /// Size of dim d; negative d counts from the end. Throws IndexError when out of range.
  int64_t size(int d) const;
  int64_t stride(int d) const;
  int64_t numel() const { return impl_->sizes.numel(); }
  int64_t storage_offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->device; }
  size_t element_size() const { return cf::element_size(impl_->dtype); }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(impl_->dtype); }
  /// Storage version: bumped by every in-place op on this tensor or any view of it.
  uint64_t version() const { return impl_->storage->version.load(std::memory_order_relaxed); }
  void bump_version() const { impl_->storage->version.fetch_add(1, std::memory_order_relaxed); }
  /// Pointer to the first element; throws DTypeError when T does not match dtype().
  template <class T> T* data_ptr() const {
    check_dtype(DTypeOf<T>::value, "data_ptr");
    return static_cast<T*>(raw_data_ptr());
  }
  void* raw_data_ptr() const;
  /// "Tensor(shape=(2, 3), dtype=f32)"; with values=true the values follow (at most 64 shown).
  std::string str(bool values = false) const;

  // ---- values
  /// The value of a one-element tensor, as double.
  double item() const;
  template <class T> std::vector<T> to_vector() const;

  // ---- conversion and copies (differentiable)
  Tensor to(DType dtype) const;
  Tensor clone() const;
  /// This tensor when already contiguous, otherwise a contiguous copy.
  Tensor contiguous() const;

  // ---- views (differentiable, no copy)
  /// Same storage with a new shape; one size may be -1. Throws ShapeError when the strides
  /// do not allow a view (use reshape).
  Tensor view(const Shape& shape) const;
  /// A view when possible, otherwise a copy.
  Tensor reshape(const Shape& shape) const;
  Tensor flatten(int start_dim = 0, int end_dim = -1) const;
  Tensor permute(const Dims& dims) const;
  Tensor transpose(int d0, int d1) const;
  /// Transpose of a 2-D tensor.
  Tensor t() const;
  /// Swaps the last two dims (matrix transpose of a batch).
  Tensor mT() const;
  Tensor narrow(int d, int64_t start, int64_t length) const;
  /// Python-style slice [start:end:step] of dim d (step > 0; negative start/end count from the end).
  Tensor slice(int d, int64_t start, int64_t end, int64_t step = 1) const;
  /// Removes dim d by taking index i.
  Tensor select(int d, int64_t i) const;
  /// Broadcast view: size-1 dims grow to the target size with stride 0; -1 keeps a size.
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor squeeze() const;
  Tensor squeeze(int d) const;
  Tensor unsqueeze(int d) const;

  // ---- autograd
  bool requires_grad() const;
  /// Marks a leaf as needing a gradient. Throws AutogradError on a non-floating dtype.
  Tensor& requires_grad_(bool requires_grad = true);
  /// The accumulated gradient (undefined until a backward reaches this tensor).
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  bool is_leaf() const;
  std::shared_ptr<autograd::Node> grad_fn() const;
  /// Keep the gradient of this non-leaf tensor in grad() after backward.
  void retain_grad() const;
  /// Backpropagates from this tensor. gradient defaults to 1 for a one-element tensor.
  /// Without retain_graph the graph's saved tensors are freed.
  void backward(const Tensor& gradient = {}, bool retain_graph = false) const;
  /// Same storage, no history, requires_grad false.
  Tensor detach() const;

  // ---- in-place ops (bump the version; throw AutogradError on a tensor that requires grad
  //      while grad mode is enabled; see Note [in-place ops] in docs/notes/autograd.md)
  Tensor& fill_(double value);
  Tensor& zero_();
  /// Copies src (broadcast to this shape, converted to this dtype) into this tensor.
  Tensor& copy_(const Tensor& src);
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& add_(double value);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double value);
  Tensor& masked_fill_(const Tensor& mask, double value);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);

  void check_dtype(DType expected, const char* what) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- factories (dtype f32 unless given)
/// Uninitialized contents.
Tensor empty(const Shape& shape, DType dtype = DType::f32);
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
/// A 0-dim tensor holding value.
Tensor scalar_tensor(double value, DType dtype = DType::f32);
/// Copies values into a new tensor of the given shape; throws ShapeError when the counts differ.
template <class T> Tensor from_vector(const std::vector<T>& values, const Shape& shape);
/// A 1-D tensor from values.
template <class T> Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}
/// Builds a tensor over existing storage (no copy); the caller validates the layout.
Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset);

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace cf
