// sort / topk: the kernel against the O(n^2) rank-counting oracle (ties, NaN, k < n, inner > 1),
// sorted=false, the gradient, and every check.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/sort.h"
#include "support/expect_throw.h"

namespace cf {
namespace {


template <class T> void check_against_ref(const std::vector<T>& x, int64_t outer, int64_t n,
                                          int64_t inner, int64_t k, bool desc) {
  std::vector<T> v(outer * k * inner), v_ref(v.size());
  std::vector<int64_t> i(v.size(), -1), i_ref(v.size(), -2);
  ops::cpu::SortArgs<T> a{x.data(), v.data(), i.data(), outer, n, inner, k, desc};
  ops::cpu::sort_forward<T>(a);
  a.values = v_ref.data();
  a.indices = i_ref.data();
  ops::cpu::sort_forward_ref<T>(a);
  EXPECT_EQ(i, i_ref) << outer << "x" << n << "x" << inner << " k " << k << " desc " << desc;
  for (size_t q = 0; q < v.size(); ++q)
    EXPECT_TRUE(v[q] == v_ref[q] || (std::isnan(static_cast<double>(v[q])) && std::isnan(static_cast<double>(v_ref[q]))));
}

TEST(SortKernels, MatchRefWithTiesAndNaN) {
  std::mt19937 gen(3);
  for (const auto& [outer, n, inner] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 1, 1}, {3, 17, 1}, {2, 15, 3}, {1, 1000, 1}, {4, 33, 5}, {0, 4, 2}, {64, 40, 1}}) {
    std::vector<float> xf(outer * n * inner);
    std::vector<int64_t> xi(xf.size());
    for (size_t q = 0; q < xf.size(); ++q) {
      xf[q] = static_cast<float>(gen() % 7) - 3.0f;  // many ties
      if (gen() % 10 == 0) xf[q] = NAN;
      xi[q] = static_cast<int64_t>(gen() % 5);
    }
    for (int64_t k : {int64_t{0}, std::min<int64_t>(1, n), n / 2, n})
      for (bool desc : {false, true}) {
        check_against_ref<float>(xf, outer, n, inner, k, desc);
        check_against_ref<int64_t>(xi, outer, n, inner, k, desc);
      }
  }
}

TEST(SortOps, NaNOrderStableAndGradient) {
  Tensor x = from_vector<float>({2, NAN, 1, 2, -1});
  ValuesIndices s = sort(x);
  EXPECT_EQ(s.indices.to_vector<int64_t>(), (std::vector<int64_t>{4, 2, 0, 3, 1}));
  ValuesIndices d = sort(x, 0, true);
  EXPECT_EQ(d.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 3, 2, 4}));
  // sorted=false: the same k elements (cformer returns them sorted).
  Tensor y = from_vector<float>({0.5, 3, -2, 7, 1}).requires_grad_();
  ValuesIndices t = topk(y, 2, 0, true, false);
  EXPECT_EQ(t.indices.to_vector<int64_t>(), (std::vector<int64_t>{3, 1}));
  sum(mul(t.values, from_vector<float>({10, 20}))).backward();
  EXPECT_EQ(y.grad().to_vector<float>(), (std::vector<float>{0, 20, 0, 10, 0}));
  ValuesIndices k0 = topk(y, 0);
  EXPECT_EQ(k0.values.shape(), Shape({0}));
}

TEST(SortOps, Checks) {
  const Tensor x = zeros({3, 4});
  EXPECT_THROW_MSG(topk(x, 5), ValueError, "topk: k (5) is out of range for dim -1 of size 4");
  EXPECT_THROW_MSG(topk(x, -1), ValueError, "topk: k (-1)");
  EXPECT_THROW_MSG(topk(x, 1, 2), IndexError, "topk: dim 2");
  EXPECT_THROW_MSG(topk(zeros({3}, DType::b8), 1), DTypeError, "topk:");
  EXPECT_THROW_MSG(topk(Tensor(), 1), ValueError, "topk:");
  EXPECT_THROW_MSG(sort(x, -3), IndexError, "sort: dim -3");
  EXPECT_THROW_MSG(sort(zeros({3}, DType::u8)), DTypeError, "sort:");
}

}  // namespace
}  // namespace cf
