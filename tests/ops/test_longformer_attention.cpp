// longformer_attention: the banded f32 kernels against the rule-by-rule reference (the f64
// path), forward and every gradient; the dense limit (window >= N, no globals) equals
// memory_efficient_attention; empty rows; the argument checks; linear peak memory in N.
#include <gtest/gtest.h>

#include <cmath>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "cformer/memory.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

struct Case {
  int64_t B, NH, N, E, Ev, w, d;
  double global_p, pad_p;
};

Tensor bernoulli_mask(int64_t B, int64_t N, double p, Generator& gen) {
  return lt(rand(Shape{B, N}, gen), p);
}

// f32 (banded kernels) against f64 (the reference), outputs and the six gradients.
TEST(LongformerAttention, KernelMatchesReference) {
  for (const Case& c : {Case{1, 1, 1, 1, 1, 0, 1, 0.0, 0.0}, Case{2, 2, 17, 16, 16, 3, 2, 0.15, 0.2},
                        Case{1, 2, 100, 20, 17, 7, 1, 0.05, 0.1}, Case{2, 1, 257, 9, 33, 16, 3, 0.02, 0.0},
                        Case{1, 1, 40, 8, 8, 50, 1, 0.0, 0.3}, Case{1, 1, 33, 5, 3, 2, 1, 1.0, 0.0}}) {
    SCOPED_TRACE(::testing::Message() << "B " << c.B << " NH " << c.NH << " N " << c.N << " w "
                                      << c.w << " d " << c.d << " global " << c.global_p
                                      << " pad " << c.pad_p);
    Generator gen(c.N * 13 + c.w);
    std::vector<Tensor> base;
    for (int i = 0; i < 6; ++i)
      base.push_back(randn(Shape{c.B, c.NH, c.N, i % 3 == 2 ? c.Ev : c.E}, gen));
    Tensor glob = bernoulli_mask(c.B, c.N, c.global_p, gen);
    Tensor kpm = bernoulli_mask(c.B, c.N, c.pad_p, gen);
    Tensor go = randn(Shape{c.B, c.NH, c.N, c.Ev}, gen);
    Tensor out[2];
    std::vector<Tensor> grads[2];
    for (int path = 0; path < 2; ++path) {
      const DType dt = path == 0 ? DType::f32 : DType::f64;
      std::vector<Tensor> in;
      for (const Tensor& t : base) in.push_back(t.to(dt).clone().requires_grad_());
      out[path] = longformer_attention(in[0], in[1], in[2], in[3], in[4], in[5], glob, c.w, c.d,
                                       kpm, 0.4);
      out[path].backward(go.to(dt));
      for (const Tensor& t : in) grads[path].push_back(t.grad().to(DType::f32));
    }
    EXPECT_CLOSE(out[0], out[1].to(DType::f32), 1e-5, 1e-4);
    for (int i = 0; i < 6; ++i) {
      SCOPED_TRACE("grad " + std::to_string(i));
      EXPECT_CLOSE(grads[0][i], grads[1][i], 1e-4, 1e-3);
    }
  }
}

// window >= N and no global token: ordinary dense attention with key padding.
TEST(LongformerAttention, FullWindowIsDenseAttention) {
  Generator gen(4);
  Tensor q = randn(Shape{2, 2, 30, 8}, gen), k = randn(Shape{2, 2, 30, 8}, gen);
  Tensor v = randn(Shape{2, 2, 30, 5}, gen);
  Tensor kpm = bernoulli_mask(2, 30, 0.2, gen);
  kpm.select(1, 0).fill_(0.0);
  Tensor glob = zeros(Shape{2, 30}, DType::b8);
  Tensor out = longformer_attention(q, k, v, q, k, v, glob, 30, 1, kpm);
  EXPECT_CLOSE(out, memory_efficient_attention(q, k, v, kpm), 1e-5, 1e-4);
}

// Every key padded: output and gradients 0 (PyTorch's dense twin gives NaN).
TEST(LongformerAttention, EmptyRowsGiveZero) {
  Generator gen(5);
  std::vector<Tensor> in;
  for (int i = 0; i < 6; ++i) in.push_back(randn(Shape{1, 1, 7, 4}, gen).requires_grad_());
  Tensor glob = zeros(Shape{1, 7}, DType::b8);
  glob.select(1, 3).fill_(1.0);
  Tensor kpm = ones(Shape{1, 7}, DType::b8);
  Tensor out = longformer_attention(in[0], in[1], in[2], in[3], in[4], in[5], glob, 2, 1, kpm);
  out.backward(ones_like(out));
  EXPECT_CLOSE(out, zeros(out.shape()), 0.0, 0.0);
  for (const Tensor& t : in) EXPECT_CLOSE(t.grad(), zeros(t.shape()), 0.0, 0.0);
  Tensor e = zeros(Shape{1, 2, 0, 4});
  EXPECT_EQ(longformer_attention(e, e, e, e, e, e, Tensor(), 3).shape(), Shape({1, 2, 0, 4}));
}

TEST(LongformerAttention, Errors) {
  const char* op = "longformer_attention";
  Tensor x = zeros(Shape{2, 2, 6, 4}), y = zeros(Shape{2, 2, 6, 3}), gm = zeros(Shape{2, 6}, DType::b8);
  Tensor i64 = zeros(Shape{2, 2, 6, 4}, DType::i64);
  EXPECT_THROW_OP(longformer_attention(i64, x, y, x, x, y, gm, 1), DTypeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, x, x.to(DType::f64), y, gm, 1), DTypeError, op);
  EXPECT_THROW_OP(longformer_attention(zeros(Shape{2, 6, 4}), x, y, x, x, y, gm, 1), ShapeError, op);
  EXPECT_THROW_OP(longformer_attention(x, zeros(Shape{2, 2, 5, 4}), y, x, x, y, gm, 1), ShapeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, zeros(Shape{2, 2, 5, 3}), x, x, y, gm, 1), ShapeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, zeros(Shape{2, 2, 6, 3}), x, y, gm, 1), ShapeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, x, zeros(Shape{2, 2, 6, 3}), y, gm, 1), ShapeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, x, x, zeros(Shape{2, 2, 6, 4}), gm, 1), ShapeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, x, x, y, zeros(Shape{2, 6}), 1), DTypeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, x, x, y, zeros(Shape{2, 5}, DType::b8), 1), ShapeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, x, x, y, gm, 1, 1, zeros(Shape{2, 6})), DTypeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, x, x, y, gm, 1, 1, zeros(Shape{1, 6}, DType::b8)), ShapeError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, x, x, y, gm, -1), ValueError, op);
  EXPECT_THROW_OP(longformer_attention(x, x, y, x, x, y, gm, 1, 0), ValueError, op);
}

// Peak tensor memory of forward + backward grows linearly with N (window 32, two globals).
TEST(LongformerAttention, PeakMemoryIsLinear) {
  size_t peak[2];
  for (int r = 0; r < 2; ++r) {
    const int64_t N = 4096 << r;
    Generator gen(N);
    std::vector<Tensor> in;
    for (int i = 0; i < 6; ++i) in.push_back(randn(Shape{1, 1, N, 16}, gen).requires_grad_());
    Tensor glob = zeros(Shape{1, N}, DType::b8);
    glob.select(1, 0).fill_(1.0);
    glob.select(1, N / 2).fill_(1.0);
    Tensor go = randn(Shape{1, 1, N, 16}, gen);
    const size_t base = memory_stats().bytes_in_use;
    empty_cache();  // a cached block up to 2x larger (left by earlier tests) would count whole
    reset_peak_memory_stats();
    longformer_attention(in[0], in[1], in[2], in[3], in[4], in[5], glob, 32).backward(go);
    peak[r] = memory_stats().peak_bytes_in_use - base;
    EXPECT_LT(peak[r], static_cast<size_t>(N) * N * sizeof(float) / 8) << "N " << N;  // 1/8 of one (N, N)
  }
  EXPECT_LT(static_cast<double>(peak[1]) / static_cast<double>(peak[0]), 2.5)
      << "peak bytes " << peak[0] << " at 4096, " << peak[1] << " at 8192";
}

}  // namespace
}  // namespace cf
