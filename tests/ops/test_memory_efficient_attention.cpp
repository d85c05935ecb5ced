// memory_efficient_attention: the tiled f32 kernels against the _ref kernels (forward and
// backward, tile edges, causal, padding, empty), against scaled_dot_product_attention, the
// fully-masked-row convention, the argument checks, and linear peak memory in the length.
#include <gtest/gtest.h>

#include <cmath>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "cformer/memory.h"
#include "ops/memory_efficient_attention.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

struct Case {
  int64_t B, NH, L, S, E, Ev;
  bool causal, padded;
};

Tensor padding_mask(int64_t B, int64_t S, Generator& gen) {
  Tensor m = lt(rand(Shape{B, S}, gen), 0.3);
  if (S > 0) m.select(1, 0).fill_(0.0);  // key 0 kept: no row is fully masked
  return m;
}

TEST(MemoryEfficientAttention, KernelsMatchReference) {
  for (const Case& c : {Case{1, 1, 1, 1, 1, 1, false, false}, Case{2, 3, 15, 17, 16, 16, true, true},
                        Case{1, 2, 65, 129, 20, 17, false, true}, Case{1, 1, 200, 140, 9, 33, true, false},
                        Case{1, 2, 33, 1000, 8, 8, true, true}, Case{3, 1, 64, 128, 16, 16, false, false},
                        Case{1, 1, 130, 300, 17, 5, false, false}}) {
    SCOPED_TRACE(::testing::Message() << "B " << c.B << " NH " << c.NH << " L " << c.L << " S "
                                      << c.S << " E " << c.E << " Ev " << c.Ev << " causal "
                                      << c.causal << " padded " << c.padded);
    Generator gen(c.L * 31 + c.S);
    Tensor q = randn(Shape{c.B, c.NH, c.L, c.E}, gen), k = randn(Shape{c.B, c.NH, c.S, c.E}, gen);
    Tensor v = randn(Shape{c.B, c.NH, c.S, c.Ev}, gen), go = randn(Shape{c.B, c.NH, c.L, c.Ev}, gen);
    Tensor kpm = c.padded ? padding_mask(c.B, c.S, gen) : Tensor();
    ops::cpu::MeaArgs<float> a{q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(),
                               c.padded ? kpm.data_ptr<bool>() : nullptr,
                               c.B, c.NH, c.L, c.S, c.E, c.Ev, 0.37f, c.causal};
    Tensor o[2], lse[2], dq[2], dk[2], dv[2];
    for (int path = 0; path < 2; ++path) {
      o[path] = empty(go.shape());
      lse[path] = empty(Shape{c.B, c.NH, c.L});
      dq[path] = empty(q.shape());
      dk[path] = empty(k.shape());
      dv[path] = empty(v.shape());
    }
    ops::cpu::mea_forward(a, o[0].data_ptr<float>(), lse[0].data_ptr<float>());
    ops::cpu::mea_forward_ref(a, o[1].data_ptr<float>(), lse[1].data_ptr<float>());
    EXPECT_CLOSE(o[0], o[1], 1e-5, 1e-4);
    EXPECT_CLOSE(lse[0], lse[1], 1e-5, 1e-5);
    ops::cpu::mea_backward(a, o[1].data_ptr<float>(), lse[1].data_ptr<float>(), go.data_ptr<float>(),
                           dq[0].data_ptr<float>(), dk[0].data_ptr<float>(), dv[0].data_ptr<float>());
    ops::cpu::mea_backward_ref(a, o[1].data_ptr<float>(), lse[1].data_ptr<float>(),
                               go.data_ptr<float>(), dq[1].data_ptr<float>(),
                               dk[1].data_ptr<float>(), dv[1].data_ptr<float>());
    EXPECT_CLOSE(dq[0], dq[1], 1e-4, 1e-3);
    EXPECT_CLOSE(dk[0], dk[1], 1e-4, 1e-3);
    EXPECT_CLOSE(dv[0], dv[1], 1e-4, 1e-3);
  }
}

// Forward and every gradient equal the dense scaled_dot_product_attention, non-contiguous inputs.
TEST(MemoryEfficientAttention, MatchesScaledDotProductAttention) {
  for (bool causal : {false, true}) {
    Generator gen(causal ? 5 : 6);
    const int64_t B = 2, NH = 3, L = 77, S = 77, E = 24;
    Tensor pq = randn(Shape{B, L, NH * E}, gen), pk = randn(Shape{B, S, NH * E}, gen);
    Tensor pv = randn(Shape{B, S, NH * E}, gen), go = randn(Shape{B, NH, L, E}, gen);
    Tensor kpm = causal ? Tensor() : padding_mask(B, S, gen);
    std::vector<Tensor> grads[2];
    Tensor out[2];
    for (int path = 0; path < 2; ++path) {
      Tensor a = pq.clone().requires_grad_(), b = pk.clone().requires_grad_(),
             c = pv.clone().requires_grad_();
      auto heads = [NH](const Tensor& t) {
        return t.view(Shape{t.size(0), t.size(1), NH, t.size(2) / NH}).transpose(1, 2);
      };
      Tensor q = heads(a), k = heads(b), v = heads(c);
      if (path == 0) {
        out[0] = memory_efficient_attention(q, k, v, kpm, causal);
      } else {
        Tensor keep = kpm.defined() ? logical_not(kpm).view(Shape{B, 1, 1, S}) : Tensor();
        out[1] = scaled_dot_product_attention(q, k, v, keep, 0.0, causal);
      }
      out[path].backward(go);
      grads[path] = {a.grad(), b.grad(), c.grad()};
    }
    EXPECT_CLOSE(out[0], out[1], 1e-5, 1e-4);
    for (int i = 0; i < 3; ++i) EXPECT_CLOSE(grads[0][i], grads[1][i], 1e-5, 1e-4);
  }
}

// Convention: a query whose keys are all masked gets output 0 and zero gradients (PyTorch: NaN).
TEST(MemoryEfficientAttention, FullyMaskedRowGivesZero) {
  for (DType dt : {DType::f32, DType::f64}) {
    Generator gen(9);
    Tensor q = randn(Shape{2, 2, 5, 4}, gen, dt).requires_grad_();
    Tensor k = randn(Shape{2, 2, 6, 4}, gen, dt).requires_grad_();
    Tensor v = randn(Shape{2, 2, 6, 3}, gen, dt).requires_grad_();
    Tensor kpm = zeros(Shape{2, 6}, DType::b8);
    kpm.select(0, 1).fill_(1.0);  // batch 1: every key is padding
    Tensor out = memory_efficient_attention(q, k, v, kpm);
    out.backward(ones_like(out));
    EXPECT_CLOSE(out.select(0, 1), zeros(Shape{2, 5, 3}, dt), 0.0, 0.0);
    EXPECT_CLOSE(q.grad().select(0, 1), zeros(Shape{2, 5, 4}, dt), 0.0, 0.0);
    EXPECT_CLOSE(k.grad().select(0, 1), zeros(Shape{2, 6, 4}, dt), 0.0, 0.0);
    EXPECT_CLOSE(v.grad().select(0, 1), zeros(Shape{2, 6, 3}, dt), 0.0, 0.0);
    // Batch 0 is untouched by batch 1's mask.
    Tensor ref = scaled_dot_product_attention(q.detach().select(0, 0), k.detach().select(0, 0),
                                              v.detach().select(0, 0));
    EXPECT_CLOSE(out.detach().select(0, 0), ref, 1e-5, 1e-4);
  }
}

TEST(MemoryEfficientAttention, EmptyInputs) {
  Generator gen(1);
  Tensor q = randn(Shape{1, 2, 3, 4}, gen).requires_grad_();
  Tensor k = randn(Shape{1, 2, 0, 4}, gen).requires_grad_();
  Tensor v = randn(Shape{1, 2, 0, 5}, gen).requires_grad_();
  Tensor out = memory_efficient_attention(q, k, v);  // no keys at all: every row is masked
  EXPECT_CLOSE(out, zeros(Shape{1, 2, 3, 5}), 0.0, 0.0);
  out.backward(ones_like(out));
  EXPECT_CLOSE(q.grad(), zeros(q.shape()), 0.0, 0.0);
  Tensor q0 = randn(Shape{0, 2, 3, 4}, gen), k0 = randn(Shape{0, 2, 6, 4}, gen);
  EXPECT_EQ(memory_efficient_attention(q0, k0, randn(Shape{0, 2, 6, 2}, gen)).shape(),
            Shape({0, 2, 3, 2}));
  Tensor ql = randn(Shape{1, 1, 0, 4}, gen);
  EXPECT_EQ(memory_efficient_attention(ql, randn(Shape{1, 1, 6, 4}, gen),
                                       randn(Shape{1, 1, 6, 2}, gen), Tensor(), true).shape(),
            Shape({1, 1, 0, 2}));
}

TEST(MemoryEfficientAttention, Errors) {
  const char* op = "memory_efficient_attention";
  Tensor q = zeros(Shape{2, 2, 3, 4}), k = zeros(Shape{2, 2, 5, 4}), v = zeros(Shape{2, 2, 5, 3});
  EXPECT_THROW_OP(memory_efficient_attention(zeros(Shape{2, 2, 3, 4}, DType::i64), k, v), DTypeError, op);
  EXPECT_THROW_OP(memory_efficient_attention(q, zeros(Shape{2, 2, 5, 4}, DType::i64), v), DTypeError, op);
  EXPECT_THROW_OP(memory_efficient_attention(q, k, zeros(Shape{2, 2, 5, 3}, DType::i64)), DTypeError, op);
  EXPECT_THROW_OP(memory_efficient_attention(q, k.to(DType::f64), v), DTypeError, op);
  EXPECT_THROW_OP(memory_efficient_attention(zeros(Shape{2, 3, 4}), k, v), ShapeError, op);
  EXPECT_THROW_OP(memory_efficient_attention(q, zeros(Shape{2, 2, 5, 3}), v), ShapeError, op);
  EXPECT_THROW_OP(memory_efficient_attention(q, zeros(Shape{1, 2, 5, 4}), v), ShapeError, op);
  EXPECT_THROW_OP(memory_efficient_attention(q, k, zeros(Shape{2, 2, 4, 3})), ShapeError, op);
  EXPECT_THROW_OP(memory_efficient_attention(q, k, v, zeros(Shape{2, 5})), DTypeError, op);
  EXPECT_THROW_OP(memory_efficient_attention(q, k, v, zeros(Shape{2, 4}, DType::b8)), ShapeError, op);
}

// Peak tensor memory of forward + backward grows linearly with the length (an (N, N) score
// matrix would quadruple it): N = 4096 vs 8192, one head of width 16, causal.
TEST(MemoryEfficientAttention, PeakMemoryIsLinear) {
  size_t peak[2];
  for (int i = 0; i < 2; ++i) {
    const int64_t N = 4096 << i;
    Generator gen(N);
    Tensor q = randn(Shape{1, 1, N, 16}, gen).requires_grad_();
    Tensor k = randn(Shape{1, 1, N, 16}, gen).requires_grad_();
    Tensor v = randn(Shape{1, 1, N, 16}, gen).requires_grad_();
    Tensor go = randn(Shape{1, 1, N, 16}, gen);
    const size_t base = memory_stats().bytes_in_use;
    empty_cache();  // a cached block up to 2x larger (left by earlier tests) would count whole
    reset_peak_memory_stats();
    memory_efficient_attention(q, k, v, Tensor(), true).backward(go);
    peak[i] = memory_stats().peak_bytes_in_use - base;
    EXPECT_LT(peak[i], static_cast<size_t>(N) * N * sizeof(float) / 16) << "N " << N;
  }
  EXPECT_LT(static_cast<double>(peak[1]) / static_cast<double>(peak[0]), 2.5)
      << "peak bytes " << peak[0] << " at 4096, " << peak[1] << " at 8192";
}

}  // namespace
}  // namespace cf
