// embedding / one_hot: the kernels against their _ref oracles (GPT-sized table, repeated
// indices, padding_idx), and every check.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/embedding.h"
#include "support/expect_throw.h"

namespace cf {
namespace {


TEST(EmbeddingKernels, MatchRef) {
  std::mt19937 gen(5);
  std::normal_distribution<float> dist;
  for (const auto& [N, V, D] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 1, 1}, {17, 5, 15}, {33, 1000, 17}, {2048, 50257, 384}, {0, 4, 3}, {5, 3, 0},
           {100, 7, 130}}) {
    std::vector<float> w(V * D), g(N * D);
    for (float& v : w) v = dist(gen);
    for (float& v : g) v = dist(gen);
    std::vector<int64_t> idx(N);
    for (int64_t& i : idx) i = V > 1 && gen() % 3 == 0 ? 1 : static_cast<int64_t>(gen() % V);
    std::vector<float> out(N * D, -1.0f), out_ref(N * D, -2.0f);
    ops::cpu::EmbeddingArgs<float> a{idx.data(), w.data(), out.data(), N, V, D};
    ops::cpu::embedding_forward<float>(a);
    a.out = out_ref.data();
    ops::cpu::embedding_forward_ref<float>(a);
    EXPECT_EQ(out, out_ref);
    for (int64_t pad : {int64_t{-1}, int64_t{1}}) {
      std::vector<float> dw(V * D, 9.0f), dw_ref(V * D, 8.0f);
      ops::cpu::EmbeddingBackwardArgs<float> b{idx.data(), g.data(), dw.data(), N, V, D, pad};
      ops::cpu::embedding_backward<float>(b);
      b.dweight = dw_ref.data();
      ops::cpu::embedding_backward_ref<float>(b);
      EXPECT_EQ(dw, dw_ref) << N << "x" << V << "x" << D << " padding " << pad;
    }
  }
}

TEST(EmbeddingOps, PaddingRowGetsNoGradient) {
  Tensor w = ones({4, 2}).requires_grad_();
  Tensor idx = from_vector<int64_t>({3, 0, 3, 1}, {2, 2});
  Tensor out = embedding(idx, w, -1);
  EXPECT_EQ(out.shape(), Shape({2, 2, 2}));
  sum(out).backward();
  // (GCC 12.2 with AVX-512 miscompiles a literal {1, 1, 1, 1, 0, 0, 0, 0} into all ones, so
  // the rows are checked one by one.)
  const std::vector<float> got = w.grad().to_vector<float>();
  const float want[4] = {1, 1, 0, 0};  // rows 0 and 1 used once, row 2 unused, row 3 padding
  for (int v = 0; v < 4; ++v)
    for (int j = 0; j < 2; ++j) EXPECT_EQ(got[v * 2 + j], want[v]) << "row " << v;
}

TEST(EmbeddingOps, OneHot) {
  EXPECT_EQ(one_hot(from_vector<int64_t>({2, 0})).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(one_hot(zeros({0}, DType::i64), 3).shape(), Shape({0, 3}));
}

TEST(EmbeddingOps, Checks) {
  const Tensor w = zeros({5, 3});
  const Tensor idx = from_vector<int64_t>({0, 4});
  EXPECT_THROW_MSG(embedding(Tensor(), w), ValueError, "embedding: indices is undefined");
  EXPECT_THROW_MSG(embedding(idx.to(DType::f32), w), DTypeError, "embedding: indices must be i64, got f32");
  EXPECT_THROW_MSG(embedding(idx, zeros({5, 3}, DType::i64)), DTypeError, "embedding: weight must be f32 or f64");
  EXPECT_THROW_MSG(embedding(idx, zeros({15})), ShapeError, "embedding: weight must be 2-D (num_embeddings, dim), got shape (15)");
  EXPECT_THROW_MSG(embedding(idx, w, 5), ValueError, "embedding: padding_idx 5 is out of range for num_embeddings 5");
  EXPECT_THROW_MSG(embedding(idx, w, -6), ValueError, "embedding: padding_idx -6");
  EXPECT_THROW_MSG(embedding(from_vector<int64_t>({0, 7}), w), IndexError,
                   "embedding: index 7 is out of range for num_embeddings 5 (valid range [0, 5))");
  EXPECT_THROW_MSG(embedding(from_vector<int64_t>({-1}), w), IndexError, "embedding: index -1");
  EXPECT_THROW_MSG(embedding(zeros({1, 1, 1, 1, 1, 1, 1, 1}, DType::i64), w), ShapeError, "embedding: indices of shape");
  EXPECT_THROW_MSG(one_hot(Tensor()), ValueError, "one_hot: indices is undefined");
  EXPECT_THROW_MSG(one_hot(idx.to(DType::f32)), DTypeError, "one_hot: indices must be i64");
  EXPECT_THROW_MSG(one_hot(idx, -2), ValueError, "one_hot: num_classes must be -1 or non-negative, got -2");
  EXPECT_THROW_MSG(one_hot(zeros({0}, DType::i64)), ValueError, "one_hot: cannot infer num_classes");
  EXPECT_THROW_MSG(one_hot(idx, 4), IndexError, "one_hot: index 4 is out of range for num_classes 4 (valid range [0, 4))");
  EXPECT_THROW_MSG(one_hot(from_vector<int64_t>({-1, 2})), IndexError, "one_hot: index -1");
  EXPECT_THROW_MSG(one_hot(zeros({1, 1, 1, 1, 1, 1, 1, 1}, DType::i64)), ShapeError, "one_hot: indices of shape");
}

}  // namespace
}  // namespace cf
