// linear_attention (Performer's core) and FAVOR+: the f32 chunked kernels against the f64 direct
// sums (causal and not, sizes around the 64-position chunk, empty), the causal memory bound, the
// orthogonal projection, the approximation error to exact softmax attention shrinking with the
// number of features m (orthogonal no worse than iid on average), and the argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "cformer/memory.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

struct Sizes {
  int64_t BH, L, S, M, Ev;
  bool causal;
};

TEST(LinearAttention, F32KernelsMatchDoubleReference) {
  for (const Sizes& s : {Sizes{2, 1, 1, 4, 4, true}, Sizes{3, 15, 15, 17, 16, true},
                         Sizes{1, 17, 33, 16, 15, false}, Sizes{2, 64, 64, 32, 8, true},
                         Sizes{1, 65, 65, 33, 17, true}, Sizes{2, 130, 130, 16, 16, true},
                         Sizes{1, 1000, 1000, 64, 32, true}, Sizes{1, 1000, 700, 64, 32, false},
                         Sizes{2, 0, 5, 4, 3, false}, Sizes{1, 0, 0, 4, 3, true}}) {
    SCOPED_TRACE(::testing::Message() << "L " << s.L << " S " << s.S << " M " << s.M << " causal "
                                      << s.causal);
    Generator gen(s.L * 13 + s.M);
    Tensor q0 = rand(Shape{s.BH, s.L, s.M}, gen), k0 = rand(Shape{s.BH, s.S, s.M}, gen);
    Tensor v0 = randn(Shape{s.BH, s.S, s.Ev}, gen), gout = randn(Shape{s.BH, s.L, s.Ev}, gen);
    Tensor out[2];
    std::vector<Tensor> grads[2];
    for (int path = 0; path < 2; ++path) {
      const DType dt = path == 0 ? DType::f32 : DType::f64;
      Tensor q = q0.to(dt).detach().requires_grad_(), k = k0.to(dt).detach().requires_grad_(),
             v = v0.to(dt).detach().requires_grad_();
      out[path] = linear_attention(q, k, v, s.causal);
      out[path].backward(gout.to(dt));
      grads[path] = {q.grad().to(DType::f32), k.grad().to(DType::f32), v.grad().to(DType::f32)};
      out[path] = out[path].detach().to(DType::f32);
    }
    EXPECT_CLOSE(out[0], out[1], 1e-5, 1e-4);
    for (int i = 0; i < 3; ++i) EXPECT_CLOSE(grads[0][i], grads[1][i], 1e-5, 1e-3);
  }
}

TEST(LinearAttention, StridedInputs) {
  Generator gen(4);
  Tensor q = rand(Shape{6, 2, 5}, gen).transpose(0, 1), k = rand(Shape{6, 2, 5}, gen).transpose(0, 1);
  Tensor v = randn(Shape{3, 6, 2}, gen).permute(Dims{2, 1, 0});
  EXPECT_CLOSE(linear_attention(q, k, v, true),
               linear_attention(q.contiguous(), k.contiguous(), v.contiguous(), true), 0.0, 0.0);
}

// The causal forward + backward never holds an (L, M, Ev) prefix tensor: peak memory grows
// linearly in L and stays far below one such tensor.
TEST(LinearAttention, CausalMemoryIsLinear) {
  const int64_t M = 64, Ev = 32;
  size_t peak[2];
  const int64_t ns[2] = {4096, 8192};
  for (int t = 0; t < 2; ++t) {
    const int64_t L = ns[t];
    Generator gen(2);
    Tensor q = rand(Shape{1, L, M}, gen).requires_grad_(), k = rand(Shape{1, L, M}, gen).requires_grad_();
    Tensor v = randn(Shape{1, L, Ev}, gen).requires_grad_();
    const size_t base = memory_stats().bytes_in_use;
    empty_cache();  // a cached block up to 2x larger (left by earlier tests) would count whole
    reset_peak_memory_stats();
    Tensor out = linear_attention(q, k, v, true);
    sum(out).backward();
    peak[t] = memory_stats().peak_bytes_in_use - base;
    EXPECT_LT(peak[t], static_cast<size_t>(L * M * Ev * 4 / 4)) << "L " << L;
  }
  const double ratio = static_cast<double>(peak[1]) / static_cast<double>(peak[0]);
  EXPECT_LT(ratio, 2.5) << peak[0] << " -> " << peak[1];
}

TEST(Favor, OrthogonalProjection) {
  Generator g1(3), g2(3);
  const int64_t m = 40, d = 16;
  const Tensor w = favor_projection(m, d, g1, true, DType::f64);
  EXPECT_CLOSE(w, favor_projection(m, d, g2, true, DType::f64), 0.0, 0.0);
  ASSERT_EQ(w.shape(), (Shape{m, d}));
  const double* p = w.data_ptr<double>();
  for (int64_t a = 0; a < m; ++a)
    for (int64_t b = a + 1; b < m && b / d == a / d; ++b) {  // rows of one block are orthogonal
      double dot = 0.0;
      for (int64_t e = 0; e < d; ++e) dot += p[a * d + e] * p[b * d + e];
      EXPECT_NEAR(dot, 0.0, 1e-9) << a << "," << b;
    }
  // Row norms are chi(d): mean about sqrt(d - 1/2).
  double mean = 0.0;
  const Tensor big = favor_projection(4096, d, g1, true, DType::f64);
  for (int64_t r = 0; r < 4096; ++r) {
    double n2 = 0.0;
    for (int64_t e = 0; e < d; ++e) n2 += big.data_ptr<double>()[r * d + e] * big.data_ptr<double>()[r * d + e];
    mean += std::sqrt(n2) / 4096.0;
  }
  EXPECT_NEAR(mean, std::sqrt(d - 0.5), 0.05);
  EXPECT_EQ(favor_projection(7, 5, g1, false).shape(), (Shape{7, 5}));
}

double mean_abs_error(const Tensor& a, const Tensor& b) {
  return mean(abs(sub(a, b))).item();
}

// The FAVOR+ estimate converges to softmax attention: on fixed inputs the error averaged over
// seeds decreases as m goes 16, 64, 256, 1024, and orthogonal features do no worse than iid.
TEST(Favor, ApproximationErrorShrinksWithFeatures) {
  Generator gen(11);
  const int64_t B = 1, H = 2, L = 128, d = 16;
  const Tensor q = mul(randn(Shape{B, H, L, d}, gen), 0.6), k = mul(randn(Shape{B, H, L, d}, gen), 0.6);
  const Tensor v = randn(Shape{B, H, L, d}, gen);
  const int seeds = 16;
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "bidirectional");
    const Tensor exact = scaled_dot_product_attention(q, k, v, Tensor(), 0.0, causal);
    double prev = INFINITY, prev_iid = INFINITY, total[2] = {0.0, 0.0};
    for (int64_t m : {16, 64, 256, 1024}) {
      double err[2] = {0.0, 0.0};
      for (int orth = 0; orth < 2; ++orth)
        for (int s = 0; s < seeds; ++s) {
          Generator g(1000 * m + s);
          const Tensor w = favor_projection(m, d, g, orth == 1);
          err[orth] += mean_abs_error(performer_attention(q, k, v, w, causal), exact) / seeds;
        }
      std::printf("favor %s m %lld: mean |error| orthogonal %.5f iid %.5f\n",
                  causal ? "causal" : "bidirectional", static_cast<long long>(m), err[1], err[0]);
      EXPECT_LT(err[1], prev) << "m " << m;
      EXPECT_LT(err[0], prev_iid) << "m " << m;
      EXPECT_LE(err[1], err[0] * 1.1) << "m " << m;
      prev = err[1];
      prev_iid = err[0];
      total[0] += err[0];
      total[1] += err[1];
    }
    EXPECT_LE(total[1], total[0]);  // orthogonal no worse than iid, over all m and seeds
    EXPECT_LT(prev, 0.05);
  }
}

TEST(LinearAttention, ChecksArguments) {
  const char* op = "linear_attention";
  Tensor q = ones(Shape{2, 4, 3}), k = ones(Shape{2, 5, 3}), v = ones(Shape{2, 5, 2});
  EXPECT_THROW_OP(linear_attention(q.to(DType::i64), k, v), DTypeError, op);
  EXPECT_THROW_OP(linear_attention(q, k.to(DType::f64), v), DTypeError, op);
  EXPECT_THROW_OP(linear_attention(q, k, v.select(0, 0)), ShapeError, op);
  EXPECT_THROW_OP(linear_attention(q, ones(Shape{2, 5, 4}), v), ShapeError, op);
  EXPECT_THROW_OP(linear_attention(q, ones(Shape{3, 5, 3}), ones(Shape{3, 5, 2})), ShapeError, op);
  EXPECT_THROW_OP(linear_attention(q, k, ones(Shape{2, 4, 2})), ShapeError, op);
  EXPECT_THROW_OP(linear_attention(q, k, v, true), ShapeError, op);
  Generator gen(0);
  EXPECT_THROW_OP(favor_projection(0, 4, gen), ValueError, "favor_projection");
  EXPECT_THROW_OP(favor_projection(4, 4, gen, true, DType::i64), DTypeError, "favor_projection");
  EXPECT_THROW_OP(favor_features(q, ones(Shape{4, 2}), true), ShapeError, "favor_features");
  EXPECT_THROW_OP(favor_features(q, ones(Shape{4, 3}, DType::f64), true), DTypeError,
                  "favor_features");
  EXPECT_THROW_OP(favor_features(q.to(DType::i64), ones(Shape{4, 3}), true), DTypeError,
                  "favor_features");
  EXPECT_THROW_OP(performer_attention(q, ones(Shape{2, 5, 4}), v, ones(Shape{4, 3})), ShapeError,
                  "performer_attention");
  EXPECT_THROW_OP(performer_attention(q, k, v, ones(Shape{4, 3}), false, -1.0), ValueError,
                  "performer_attention");
}

}  // namespace
}  // namespace cf
