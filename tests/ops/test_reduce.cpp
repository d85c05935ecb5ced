// Reductions: the optimized f32 kernels against the _ref kernels on edge layouts, op-level
// semantics PyTorch defines (first index of ties, NaN, tie-split gradients, empty inputs,
// permuted plans), and one EXPECT_THROW per check. Seed: Generator(7).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "cformer/runtime.h"
#include "ops/reduce.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

using ops::cpu::ArgReduceArgs;
using ops::cpu::NormArgs;
using ops::cpu::PointwiseBackwardArgs;
using ops::cpu::ReduceArgs;
using ops::cpu::VarArgs;
using ops::cpu::VarBackwardArgs;

// The message of a cformer error must start with "<op>: ".

struct Layout {
  int64_t outer, R, inner;
};
// Rows (inner == 1) of 1, 15, 16, 17, 33, 1000+ and 5000 elements; columns with inner not a
// multiple of 16; empty outer / inner.
const Layout kLayouts[] = {{1, 1, 1},    {3, 15, 1},   {2, 16, 1}, {4, 17, 1},  {2, 33, 1},
                           {3, 1000, 1}, {1, 5000, 1}, {3, 7, 5},  {2, 33, 17}, {2, 1, 40},
                           {1, 19, 33},  {0, 5, 3},    {3, 4, 0}};

Generator& gen() {
  static Generator g(7);
  return g;
}
Tensor randn_flat(int64_t n, double scale = 1.0) {
  return mul(randn(Shape{n}, gen()), scale);
}
float* fp(const Tensor& t) {
  return t.numel() ? t.data_ptr<float>() : nullptr;
}
std::string name(const Layout& l) {
  std::string s = "(";
  s += std::to_string(l.outer);
  s += ", ";
  s += std::to_string(l.R);
  s += ", ";
  s += std::to_string(l.inner);
  return s + ")";
}

TEST(Reduce, SumKernelMatchesRef) {
  for (const Layout& l : kLayouts) {
    SCOPED_TRACE(name(l));
    Tensor x = randn_flat(l.outer * l.R * l.inner);
    Tensor y = empty(Shape{l.outer * l.inner}), r = empty(Shape{l.outer * l.inner});
    ops::cpu::sum_forward<float>(ReduceArgs<float>{fp(x), fp(y), l.outer, l.R, l.inner});
    ops::cpu::sum_forward_ref<float>(ReduceArgs<float>{fp(x), fp(r), l.outer, l.R, l.inner});
    EXPECT_CLOSE(y, r, 1e-4, 1e-5);
  }
}

TEST(Reduce, SumDoesNotDependOnThreadCount) {
  Tensor x = randn(Shape{2, 50000}, gen());  // fewer rows than threads: split rows
  const int threads = get_num_threads();
  std::vector<std::vector<float>> rows, cols;
  for (int t : {1, 2, 3}) {
    set_num_threads(t);
    rows.push_back(sum(x, Dims{1}).to_vector<float>());
    cols.push_back(sum(x.reshape(Shape{1000, 100}), Dims{0}).to_vector<float>());
  }
  set_num_threads(threads);
  EXPECT_EQ(rows[0], rows[1]);
  EXPECT_EQ(rows[0], rows[2]);
  EXPECT_EQ(cols[0], cols[1]);
  EXPECT_EQ(cols[0], cols[2]);
}

TEST(Reduce, SumI64IsExact) {
  const int64_t big = int64_t(1) << 60;
  Tensor x = from_vector<int64_t>({big, 3, -big, 5, big + 1});
  EXPECT_EQ(sum(x).to_vector<int64_t>()[0], big + 9);
}

TEST(Reduce, VarKernelsMatchRef) {
  for (const Layout& l : kLayouts) {
    for (bool take_sqrt : {false, true}) {
      SCOPED_TRACE(name(l) + (take_sqrt ? " std" : " var"));
      const int64_t n = l.outer * l.inner;
      Tensor x = add(randn_flat(l.outer * l.R * l.inner, 2.0), 5.0);
      Tensor m = empty(Shape{n}), y = empty(Shape{n}), mr = empty(Shape{n}), yr = empty(Shape{n});
      ops::cpu::var_forward<float>(
          VarArgs<float>{fp(x), fp(m), fp(y), l.outer, l.R, l.inner, 1, take_sqrt});
      ops::cpu::var_forward_ref<float>(
          VarArgs<float>{fp(x), fp(mr), fp(yr), l.outer, l.R, l.inner, 1, take_sqrt});
      EXPECT_CLOSE(m, mr, 1e-5, 1e-5);
      EXPECT_CLOSE(y, yr, 1e-5, 1e-4);
      Tensor g = randn_flat(n), dx = empty(x.shape()), dxr = empty(x.shape());
      ops::cpu::var_backward<float>(VarBackwardArgs<float>{fp(x), fp(mr), fp(yr), fp(g), fp(dx),
                                                           l.outer, l.R, l.inner, 1, take_sqrt});
      ops::cpu::var_backward_ref<float>(VarBackwardArgs<float>{
          fp(x), fp(mr), fp(yr), fp(g), fp(dxr), l.outer, l.R, l.inner, 1, take_sqrt});
      EXPECT_CLOSE(dx, dxr, 1e-5, 1e-4);
    }
  }
}

TEST(Reduce, ArgReduceKernelMatchesRefWithTiesAndNaN) {
  for (const Layout& l : kLayouts) {
    if (l.R == 0) continue;
    for (bool is_max : {true, false}) {
      SCOPED_TRACE(name(l) + (is_max ? " max" : " min"));
      const int64_t n = l.outer * l.inner;
      // Rounded values give many ties; a few NaNs must win.
      Tensor x = randn_flat(l.outer * l.R * l.inner, 2.0);
      std::vector<float> v = x.to_vector<float>();
      for (size_t i = 0; i < v.size(); ++i) v[i] = i % 37 == 5 ? NAN : std::round(v[i]);
      x = from_vector<float>(v, x.shape());
      Tensor val = empty(Shape{n}), valr = empty(Shape{n});
      Tensor idx = empty(Shape{n}, DType::i64), idxr = empty(Shape{n}, DType::i64);
      ops::cpu::arg_reduce<float>(
          ArgReduceArgs<float>{fp(x), fp(val), idx.numel() ? idx.data_ptr<int64_t>() : nullptr,
                               l.outer, l.R, l.inner, is_max});
      ops::cpu::arg_reduce_ref<float>(
          ArgReduceArgs<float>{fp(x), fp(valr), idxr.numel() ? idxr.data_ptr<int64_t>() : nullptr,
                               l.outer, l.R, l.inner, is_max});
      EXPECT_CLOSE(val, valr, 0.0, 0.0);
      EXPECT_EQ(idx.to_vector<int64_t>(), idxr.to_vector<int64_t>());
    }
  }
}

TEST(Reduce, LogsumexpKernelsMatchRef) {
  for (const Layout& l : kLayouts) {
    SCOPED_TRACE(name(l));
    const int64_t n = l.outer * l.inner;
    Tensor x = randn_flat(l.outer * l.R * l.inner, 10.0);
    Tensor y = empty(Shape{n}), yr = empty(Shape{n});
    ops::cpu::logsumexp_forward<float>(ReduceArgs<float>{fp(x), fp(y), l.outer, l.R, l.inner});
    ops::cpu::logsumexp_forward_ref<float>(ReduceArgs<float>{fp(x), fp(yr), l.outer, l.R, l.inner});
    EXPECT_CLOSE(y, yr, 1e-5, 1e-5);
    Tensor g = randn_flat(n), dx = empty(x.shape()), dxr = empty(x.shape());
    ops::cpu::logsumexp_backward<float>(
        PointwiseBackwardArgs<float>{fp(x), fp(yr), fp(g), fp(dx), l.outer, l.R, l.inner, 0.0});
    ops::cpu::logsumexp_backward_ref<float>(
        PointwiseBackwardArgs<float>{fp(x), fp(yr), fp(g), fp(dxr), l.outer, l.R, l.inner, 0.0});
    EXPECT_CLOSE(dx, dxr, 1e-6, 1e-4);
  }
}

TEST(Reduce, NormKernelsMatchRef) {
  const double inf = INFINITY;
  for (double p : {2.0, 1.0, 3.0, 1.5, 0.5, 0.0, inf, -inf}) {
    for (const Layout& l : kLayouts) {
      if (std::isinf(p) && l.R == 0) continue;
      SCOPED_TRACE(name(l) + " p=" + std::to_string(p));
      const int64_t n = l.outer * l.inner;
      Tensor x = randn_flat(l.outer * l.R * l.inner);
      Tensor y = empty(Shape{n}), yr = empty(Shape{n});
      ops::cpu::norm_forward<float>(NormArgs<float>{fp(x), fp(y), l.outer, l.R, l.inner, p});
      ops::cpu::norm_forward_ref<float>(NormArgs<float>{fp(x), fp(yr), l.outer, l.R, l.inner, p});
      EXPECT_CLOSE(y, yr, 1e-5, 1e-4);
      Tensor g = randn_flat(n), dx = empty(x.shape()), dxr = empty(x.shape());
      ops::cpu::norm_backward<float>(
          PointwiseBackwardArgs<float>{fp(x), fp(yr), fp(g), fp(dx), l.outer, l.R, l.inner, p});
      ops::cpu::norm_backward_ref<float>(
          PointwiseBackwardArgs<float>{fp(x), fp(yr), fp(g), fp(dxr), l.outer, l.R, l.inner, p});
      EXPECT_CLOSE(dx, dxr, 1e-5, 1e-4);
    }
  }
}

TEST(Reduce, PermutedPlanRoundTrips) {
  // dims {0, 2} of a 4-D tensor are not one block: the plan permutes; unplan must invert it.
  Tensor x = randn(Shape{2, 3, 4, 5}, gen());
  ops::ReducePlan p = ops::plan_reduction(x, Dims{0, 2}, false, "test");
  EXPECT_FALSE(p.perm.empty());
  EXPECT_EQ(p.outer, 15);
  EXPECT_EQ(p.R, 8);
  EXPECT_EQ(p.inner, 1);
  EXPECT_CLOSE(ops::unplan(p.x, p, x.shape()), x, 0.0, 0.0);
  ops::ReducePlan q = ops::plan_reduction(x, Dims{-3, 2}, true, "test");
  EXPECT_TRUE(q.perm.empty());
  EXPECT_EQ(q.out_shape, (Shape{2, 1, 1, 5}));
  EXPECT_CLOSE(ops::unplan(q.x, q, x.shape()), x, 0.0, 0.0);
}

TEST(Reduce, NonContiguousInputsMatchContiguous) {
  Tensor x = randn(Shape{6, 5, 7}, gen());
  Tensor t = x.transpose(0, 2).contiguous().transpose(0, 2);  // same values, other strides
  ASSERT_FALSE(t.is_contiguous());
  EXPECT_CLOSE(var(t, Dims{1}), var(x, Dims{1}), 1e-6, 1e-6);
  EXPECT_CLOSE(std_dev(t, Dims{0, 2}, 0, true), std_dev(x, Dims{0, 2}, 0, true), 1e-6, 1e-6);
  EXPECT_CLOSE(logsumexp(t, Dims{-1}), logsumexp(x, Dims{-1}), 1e-6, 1e-6);
  EXPECT_CLOSE(norm(t, 3.0, Dims{0}), norm(x, 3.0, Dims{0}), 1e-6, 1e-5);
  EXPECT_CLOSE(max(t, 1).values, max(x, 1).values, 0.0, 0.0);
  EXPECT_EQ(argmin(t, 2).to_vector<int64_t>(), argmin(x, 2).to_vector<int64_t>());
}

TEST(Reduce, MaxPicksFirstTieAndNaN) {
  Tensor x = from_vector<float>({1, 4, 4, -1, NAN, 2, NAN, 0}, Shape{2, 4});
  ValuesIndices r = max(x, 1);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(std::isnan(r.values.to_vector<float>()[1]));
  EXPECT_EQ(argmin(from_vector<float>({3, 1, 1, 2})).to_vector<int64_t>()[0], 1);
  EXPECT_EQ(argmax(from_vector<float>({1, INFINITY, 2, INFINITY})).to_vector<int64_t>()[0], 1);
  EXPECT_EQ(argmin(from_vector<float>({1, -INFINITY, -INFINITY})).to_vector<int64_t>()[0], 1);
  EXPECT_EQ(min(from_vector<float>({4, 2, 2, 9, 2}), 0).indices.item(), 1.0);
  EXPECT_EQ(argmax(x, std::nullopt, true).shape(), (Shape{1, 1}));
  EXPECT_TRUE(std::isnan(max(x).item()));
}

TEST(Reduce, MaxAllSplitsGradientAmongTies) {
  Tensor x = from_vector<float>({1, 3, 3, 2}).requires_grad_(true);
  max(x).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 0.5f, 0.5f, 0}));
  Tensor y = from_vector<float>({1, 3, 3, 2}).requires_grad_(true);
  max(y, 0).values.backward();  // over a dim: the first index only
  EXPECT_EQ(y.grad().to_vector<float>(), (std::vector<float>{0, 1, 0, 0}));
}

TEST(Reduce, EdgeValues) {
  EXPECT_EQ(logsumexp(full(Shape{2, 3}, -INFINITY), Dims{1}).to_vector<float>()[0], -INFINITY);
  EXPECT_EQ(logsumexp(zeros(Shape{2, 0}), Dims{1}).to_vector<float>()[1], -INFINITY);
  EXPECT_TRUE(std::isnan(var(ones(Shape{1}), Dims{0}).item()));
  EXPECT_TRUE(std::isinf(var(from_vector<float>({1, 2}), Dims{0}, 2).item()));
  EXPECT_EQ(sum(zeros(Shape{0, 3}), Dims{0}).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(norm(zeros(Shape{4})).item(), 0.0);
  Tensor z = zeros(Shape{4}).requires_grad_(true);
  norm(z).backward();  // 0 at the zero vector, as PyTorch
  EXPECT_EQ(z.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  Tensor s = ones(Shape{3}).requires_grad_(true);
  std_dev(s).backward();  // std 0: gradient 0, as PyTorch
  EXPECT_EQ(s.grad().to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(max(scalar_tensor(2.0), 0).indices.item(), 0.0);
}

TEST(Reduce, ChecksThrow) {
  Tensor x = randn(Shape{3, 4}, gen());
  Tensor xi = zeros(Shape{3, 4}, DType::i64), xb = zeros(Shape{3, 4}, DType::b8);
  Tensor empty_rows = zeros(Shape{3, 0});
  EXPECT_THROW_OP(sum(xb), DTypeError, "sum");
  EXPECT_THROW_OP(sum(x, Dims{2}), IndexError, "sum");
  EXPECT_THROW_OP(sum(x, Dims{1, -1}), ShapeError, "sum");
  EXPECT_THROW_OP(sum(Tensor()), ValueError, "sum");
  EXPECT_THROW_OP(mean(xi), DTypeError, "mean");
  EXPECT_THROW_OP(var(xi), DTypeError, "var");
  EXPECT_THROW_OP(var(x, Dims{-3}), IndexError, "var");
  EXPECT_THROW_OP(std_dev(xi), DTypeError, "std");
  EXPECT_THROW_OP(max(xb, 0), DTypeError, "max");
  EXPECT_THROW_OP(max(x, 2), IndexError, "max");
  EXPECT_THROW_OP(max(empty_rows, 1), IndexError, "max");
  EXPECT_THROW_OP(max(empty_rows), ShapeError, "max");
  EXPECT_THROW_OP(min(empty_rows, 1), IndexError, "min");
  EXPECT_THROW_OP(min(empty_rows), ShapeError, "min");
  EXPECT_THROW_OP(argmax(xb), DTypeError, "argmax");
  EXPECT_THROW_OP(argmax(empty_rows), ShapeError, "argmax");
  EXPECT_THROW_OP(argmax(empty_rows, 1), IndexError, "argmax");
  EXPECT_THROW_OP(argmin(empty_rows), ShapeError, "argmin");
  EXPECT_THROW_OP(argmin(x, 5), IndexError, "argmin");
  EXPECT_THROW_OP(logsumexp(xi, Dims{0}), DTypeError, "logsumexp");
  EXPECT_THROW_OP(norm(xi), DTypeError, "norm");
  EXPECT_THROW_OP(norm(x, NAN), ValueError, "norm");
  EXPECT_THROW_OP(norm(empty_rows, INFINITY, Dims{1}), ShapeError, "norm");
}

}  // namespace
}  // namespace cf
