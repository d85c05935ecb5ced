// Index ops: gather / scatter_add / index_select / index_add kernels against their _ref oracles
// (repeated indices, every dim position, sizes past the parallel threshold), and every check.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/index.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {


std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

std::vector<int64_t> random_indices(int64_t n, int64_t high, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<int64_t> v(n);
  for (int64_t& x : v) x = static_cast<int64_t>(gen() % high);
  return v;
}

void contiguous_strides(const std::vector<int64_t>& s, int64_t* st) {
  int64_t k = 1;
  for (int d = static_cast<int>(s.size()) - 1; d >= 0; --d) {
    st[d] = k;
    k *= s[d];
  }
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

struct GatherCase {
  std::vector<int64_t> x, index;  // shapes
  int dim;
};

const std::vector<GatherCase> kGatherCases = {
    {{5}, {17}, 0},          {{3, 4}, {6, 4}, 0},        {{3, 15}, {2, 33}, 1},
    {{4, 17, 3}, {4, 9, 3}, 1}, {{40, 1000}, {40, 1003}, 1}, {{1000, 40}, {1200, 33}, 0},
    {{2, 3, 4, 5}, {2, 3, 7, 5}, 2}, {{1, 1}, {1, 1}, 1}, {{3, 4}, {0, 4}, 0}};

TEST(IndexKernels, GatherMatchesRef) {
  uint32_t seed = 1;
  for (const GatherCase& c : kGatherCases) {
    std::vector<uint32_t> x(numel(c.x));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint32_t>(i * 2654435761u);
    const std::vector<int64_t> idx = random_indices(numel(c.index), c.x[c.dim], seed++);
    std::vector<uint32_t> got(idx.size(), 1), want(idx.size(), 2);
    ops::cpu::GatherArgs<uint32_t> a{};
    a.out = got.data();
    a.x = x.data();
    a.index = idx.data();
    a.ndim = static_cast<int>(c.x.size());
    a.dim = c.dim;
    a.dim_size = c.x[c.dim];
    for (int d = 0; d < a.ndim; ++d) a.index_shape[d] = c.index[d];
    contiguous_strides(c.x, a.x_strides);
    contiguous_strides(c.index, a.out_strides);
    EXPECT_TRUE(ops::cpu::gather_forward<uint32_t>(a));
    a.out = want.data();
    EXPECT_TRUE(ops::cpu::gather_forward_ref<uint32_t>(a));
    EXPECT_EQ(got, want);
    if (idx.empty()) continue;
    // A bad index (either sign) is reported, its position skipped, nothing read out of bounds.
    for (int64_t bad : {a.dim_size, int64_t{-1}, int64_t{1} << 40}) {
      std::vector<int64_t> idx_bad = idx;
      idx_bad[idx.size() / 2] = bad;
      a.index = idx_bad.data();
      a.out = got.data();
      EXPECT_FALSE(ops::cpu::gather_forward<uint32_t>(a));
      a.out = want.data();
      EXPECT_FALSE(ops::cpu::gather_forward_ref<uint32_t>(a));
    }
  }
}

TEST(IndexKernels, ScatterAddMatchesRef) {
  uint32_t seed = 10;
  for (const GatherCase& c : kGatherCases) {
    // scatter_add: out has x's shape, src (here: index's shape, larger by one along dim 0 when
    // that is not the scatter dim) is read at index positions.
    std::vector<int64_t> src_shape = c.index;
    if (c.dim != 0) src_shape[0] += 1;
    const std::vector<float> x = random_floats(numel(c.x), seed);
    const std::vector<float> src = random_floats(numel(src_shape), seed + 1);
    const std::vector<int64_t> idx = random_indices(numel(c.index), c.x[c.dim], seed + 2);
    seed += 3;
    std::vector<float> got = x, want = x;
    ops::cpu::GatherArgs<float> a{};
    a.out = got.data();
    a.x = src.data();
    a.index = idx.data();
    a.ndim = static_cast<int>(c.x.size());
    a.dim = c.dim;
    a.dim_size = c.x[c.dim];
    for (int d = 0; d < a.ndim; ++d) a.index_shape[d] = c.index[d];
    contiguous_strides(src_shape, a.x_strides);
    contiguous_strides(c.x, a.out_strides);
    EXPECT_TRUE(ops::cpu::scatter_add_forward<float>(a));
    a.out = want.data();
    EXPECT_TRUE(ops::cpu::scatter_add_forward_ref<float>(a));
    EXPECT_EQ(got, want);  // the same order of additions: bit-identical
    if (idx.empty()) continue;
    std::vector<int64_t> idx_bad = idx;
    idx_bad.back() = -3;
    a.index = idx_bad.data();
    EXPECT_FALSE(ops::cpu::scatter_add_forward<float>(a));
    EXPECT_FALSE(ops::cpu::scatter_add_forward_ref<float>(a));
  }
}

TEST(IndexKernels, IndexSelectAndIndexAddMatchRef) {
  for (const auto& [outer, n, m, inner] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
           {1, 5, 17, 1}, {3, 15, 33, 17}, {1, 1000, 2048, 33}, {20, 7, 3, 1000}, {4, 3, 0, 5},
           {2, 4, 5, 0}, {1, 50, 64, 1500}}) {
    const std::vector<float> x = random_floats(outer * n * inner, 5);
    const std::vector<int64_t> idx = random_indices(m, n, 6);  // repeats included
    std::vector<float> got(outer * m * inner, 1.0f), want(outer * m * inner, 2.0f);
    ops::cpu::IndexSelectArgs s{got.data(), x.data(), idx.data(), outer, n, m, inner, 4};
    ops::cpu::index_select_forward(s);
    s.out = want.data();
    ops::cpu::index_select_forward_ref(s);
    EXPECT_EQ(got, want);

    const std::vector<float> src = random_floats(outer * m * inner, 7);
    for (float alpha : {1.0f, -0.5f}) {
      std::vector<float> out = x, out_ref = x;
      ops::cpu::IndexAddArgs<float> a{out.data(), src.data(), idx.data(), outer, n, m, inner, alpha};
      ops::cpu::index_add_forward<float>(a);
      a.out = out_ref.data();
      ops::cpu::index_add_forward_ref<float>(a);
      EXPECT_EQ(out, out_ref) << outer << "x" << n << "x" << m << "x" << inner;
    }
  }
}

TEST(IndexOps, RepeatedIndicesAccumulate) {
  Tensor x = zeros({3});
  Tensor idx = from_vector<int64_t>({2, 0, 2, 2});
  Tensor src = from_vector<float>({1, 2, 3, 4});
  EXPECT_EQ(index_add(x, 0, idx, src, 2.0).to_vector<float>(), (std::vector<float>{4, 0, 16}));
  EXPECT_EQ(scatter_add(x, 0, idx, src).to_vector<float>(), (std::vector<float>{2, 0, 8}));
  // i64 data works too; gather of bool is a byte copy.
  EXPECT_EQ(index_add(zeros({2}, DType::i64), 0, from_vector<int64_t>({1, 1}),
                      from_vector<int64_t>({3, 4})).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 7}));
  Tensor b = from_vector<float>({1, 0, 1}).to(DType::b8);
  EXPECT_EQ(gather(b, 0, from_vector<int64_t>({1, 2})).to_vector<bool>(), (std::vector<bool>{false, true}));
}

TEST(IndexOps, ScatterAddGradientOfLargerSrc) {
  // PyTorch cannot differentiate src when index is smaller; cformer gives zeros outside it.
  Tensor x = zeros({3, 3});
  Tensor src = ones({3, 4}).requires_grad_();
  Tensor idx = from_vector<int64_t>({0, 2, 1, 1}, {2, 2});
  sum(mul(scatter_add(x, 0, idx, src), 3.0)).backward();
  EXPECT_EQ(src.grad().to_vector<float>(),
            (std::vector<float>{3, 3, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0}));
}

TEST(IndexOps, Checks) {
  const Tensor x = zeros({3, 4});
  const Tensor i2 = zeros({2, 4}, DType::i64);
  EXPECT_THROW_MSG(gather(Tensor(), 0, i2), ValueError, "gather: input is undefined");
  EXPECT_THROW_MSG(gather(x, 0, Tensor()), ValueError, "gather: index is undefined");
  EXPECT_THROW_MSG(gather(x, 0, zeros({2, 4})), DTypeError, "gather: index must be i64, got f32");
  EXPECT_THROW_MSG(gather(x, 2, i2), IndexError, "gather: dim 2");
  EXPECT_THROW_MSG(gather(x, 0, zeros({8}, DType::i64)), ShapeError, "gather: index must have as many dims");
  EXPECT_THROW_MSG(gather(x, 0, zeros({2, 5}, DType::i64)), ShapeError,
                   "gather: index of shape (2, 5) is larger than the input of shape (3, 4) at dim 1");
  EXPECT_THROW_MSG(gather(x, 0, full({2, 4}, 3, DType::i64)), IndexError,
                   "gather: index 3 is out of range for dim 0 of size 3 (valid range [0, 3))");
  EXPECT_THROW_MSG(gather(x, 1, full({2, 4}, -1, DType::i64)), IndexError, "gather: index -1");
  const Tensor src = zeros({2, 4});
  EXPECT_THROW_MSG(scatter_add(x, 0, full({2, 4}, 5, DType::i64), src), IndexError,
                   "scatter_add: index 5 is out of range");
  EXPECT_THROW_MSG(scatter_add(zeros({3, 4}, DType::b8), 0, i2, src), DTypeError, "scatter_add:");
  EXPECT_THROW_MSG(scatter_add(x, 0, i2, Tensor()), ValueError, "scatter_add: src is undefined");
  EXPECT_THROW_MSG(scatter_add(x, 0, i2, src.to(DType::f64)), DTypeError, "scatter_add: src has dtype f64");
  EXPECT_THROW_MSG(scatter_add(x, 0, i2, zeros({8})), ShapeError, "scatter_add: src must have as many dims");
  EXPECT_THROW_MSG(scatter_add(x, 0, i2, zeros({2, 3})), ShapeError,
                   "scatter_add: index of shape (2, 4) is larger than src of shape (2, 3)");
  const Tensor i1 = from_vector<int64_t>({0, 2});
  EXPECT_THROW_MSG(index_select(Tensor(), 0, i1), ValueError, "index_select: input is undefined");
  EXPECT_THROW_MSG(index_select(x, 0, i2), ShapeError, "index_select: index must be 0-D or 1-D");
  EXPECT_THROW_MSG(index_select(scalar_tensor(1.0), 0, i1), ShapeError, "index_select: expects an input with at least 1 dim");
  EXPECT_THROW_MSG(index_select(x, 0, from_vector<int64_t>({0, 3})), IndexError,
                   "index_select: index 3 is out of range for dim 0 of size 3 (valid range [0, 3))");
  EXPECT_THROW_MSG(index_select(x, -3, i1), IndexError, "index_select: dim -3");
  EXPECT_THROW_MSG(index_select(x, 0, i1.to(DType::f32)), DTypeError, "index_select: index must be i64");
  EXPECT_THROW_MSG(index_add(x, 0, i1, zeros({3, 4})), ShapeError, "index_add: src must have shape (2, 4)");
  EXPECT_THROW_MSG(index_add(x, 0, i1, zeros({2, 4}, DType::f64)), DTypeError, "index_add: src has dtype f64");
  EXPECT_THROW_MSG(index_add(x, 0, i1, Tensor()), ValueError, "index_add: src is undefined");
  EXPECT_THROW_MSG(index_add(zeros({3, 4}, DType::b8), 0, i1, zeros({2, 4}, DType::b8)), DTypeError, "index_add:");
  EXPECT_THROW_MSG(index_add(x, 1, from_vector<int64_t>({4}), zeros({3, 1})), IndexError,
                   "index_add: index 4 is out of range for dim 1 of size 4");
}

}  // namespace
}  // namespace cf
