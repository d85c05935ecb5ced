// block_sparse_attention: the f32 kernels against the dense masked form (scaled_dot_product_attention
// with the equivalent element mask) and against the f64 reference kernels, forward and backward;
// tails, per-head layouts, padding, causal, empty rows, strided inputs; the layout builders; the
// linear-memory property; every argument check.
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

// The element mask (B, H, L, S), true = attend, equivalent to (layout, pad, causal).
Tensor dense_mask(const Tensor& layout, int64_t bs, int64_t B, int64_t H, int64_t L, int64_t S,
                  const Tensor& pad, bool causal) {
  Tensor m = empty(Shape{B, H, L, S}, DType::b8);
  const Tensor lay = layout.contiguous();
  const Tensor pd = pad.defined() ? pad.contiguous() : Tensor();
  const bool* l = lay.data_ptr<bool>();
  const int64_t NQ = lay.size(-2), NK = lay.size(-1);
  bool* o = m.data_ptr<bool>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < S; ++j) {
          const int64_t lh = lay.dim() == 3 ? h : 0;
          bool keep = l[(lh * NQ + i / bs) * NK + j / bs] && !(causal && j > i);
          if (pd.defined()) keep = keep && !pd.data_ptr<bool>()[b * S + j];
          o[((b * H + h) * L + i) * S + j] = keep;
        }
  return m;
}

enum class Pattern { bigbird, fixed, strided, random };

struct Case {
  int64_t B, H, L, S, E, Ev, bs;
  Pattern pattern;
  bool causal, padded;
};

// Every layout keeps key block 0 for every query block and padding never hides key 0, so every
// query has a key and the dense form has no NaN row.
Tensor make_layout(const Case& c, Generator& gen) {
  const int64_t nq = (c.L + c.bs - 1) / c.bs, nk = (c.S + c.bs - 1) / c.bs;
  switch (c.pattern) {
    case Pattern::bigbird:
      return bigbird_layout(nq, 3, 1, 1, gen, c.H);
    case Pattern::fixed:
      return sparse_fixed_layout(nq, 3, 1, c.causal);
    case Pattern::strided: {
      Tensor m = sparse_strided_layout(nq, 2, c.causal);
      for (int64_t r = 0; r < nq; ++r) m.data_ptr<bool>()[r * nq] = true;
      return m;
    }
    case Pattern::random:
      break;
  }
  Tensor u = rand(Shape{c.H, nq, nk}, gen);
  Tensor m = lt(u, 0.5);
  for (int64_t r = 0; r < c.H * nq; ++r) m.data_ptr<bool>()[r * nk] = true;
  return m;
}

Tensor make_pad(const Case& c, Generator& gen) {
  if (!c.padded) return Tensor();
  Tensor m = lt(rand(Shape{c.B, c.S}, gen), 0.3);
  for (int64_t b = 0; b < c.B; ++b) m.data_ptr<bool>()[b * c.S] = false;
  return m;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> cs = {
      {1, 2, 64, 64, 16, 16, 16, Pattern::bigbird, false, false},
      {2, 2, 33, 33, 15, 17, 8, Pattern::bigbird, false, true},
      {1, 3, 47, 47, 8, 8, 8, Pattern::fixed, true, false},
      {1, 1, 50, 50, 16, 16, 5, Pattern::fixed, false, true},
      {2, 1, 40, 40, 16, 8, 4, Pattern::strided, true, true},
      {1, 2, 17, 29, 16, 16, 16, Pattern::random, false, false},
      {1, 2, 29, 17, 7, 9, 4, Pattern::random, true, true},
      {1, 1, 1, 1, 4, 4, 1, Pattern::random, false, false},
      {1, 1, 9, 9, 3, 3, 1, Pattern::strided, true, false},
      {1, 2, 1030, 1030, 32, 32, 64, Pattern::bigbird, false, true},
  };
  return cs;
}

std::string describe(const Case& c) {
  return "B " + std::to_string(c.B) + " H " + std::to_string(c.H) + " L " + std::to_string(c.L) +
         " S " + std::to_string(c.S) + " bs " + std::to_string(c.bs) + " pattern " +
         std::to_string(static_cast<int>(c.pattern)) + " causal " + std::to_string(c.causal) +
         " padded " + std::to_string(c.padded);
}

TEST(BlockSparseAttention, MatchesDenseMaskedAttention) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(describe(c));
    Generator gen(c.L * 31 + c.S);
    const Tensor layout = make_layout(c, gen), pad = make_pad(c, gen);
    Tensor q0 = randn(Shape{c.B, c.H, c.L, c.E}, gen), k0 = randn(Shape{c.B, c.H, c.S, c.E}, gen);
    Tensor v0 = randn(Shape{c.B, c.H, c.S, c.Ev}, gen), gout = randn(Shape{c.B, c.H, c.L, c.Ev}, gen);
    const Tensor mask = dense_mask(layout, c.bs, c.B, c.H, c.L, c.S, pad, c.causal);
    Tensor out[2];
    std::vector<Tensor> grads[2];
    for (int path = 0; path < 2; ++path) {
      Tensor q = q0.clone().requires_grad_(), k = k0.clone().requires_grad_(),
             v = v0.clone().requires_grad_();
      out[path] = path == 0 ? block_sparse_attention(q, k, v, layout, c.bs, pad, c.causal)
                            : scaled_dot_product_attention(q, k, v, mask);
      out[path].backward(gout);
      grads[path] = {q.grad(), k.grad(), v.grad()};
    }
    EXPECT_CLOSE(out[0], out[1], 1e-5, 1e-4);
    for (int i = 0; i < 3; ++i) EXPECT_CLOSE(grads[0][i], grads[1][i], 2e-5, 1e-3);
  }
}

TEST(BlockSparseAttention, F32KernelsMatchDoubleReference) {
  for (const Case& c : cases()) {
    if (c.L > 100) continue;
    SCOPED_TRACE(describe(c));
    Generator gen(c.L * 17 + c.S);
    const Tensor layout = make_layout(c, gen), pad = make_pad(c, gen);
    Tensor q0 = randn(Shape{c.B, c.H, c.L, c.E}, gen), k0 = randn(Shape{c.B, c.H, c.S, c.E}, gen);
    Tensor v0 = randn(Shape{c.B, c.H, c.S, c.Ev}, gen), gout = randn(Shape{c.B, c.H, c.L, c.Ev}, gen);
    Tensor out[2];
    std::vector<Tensor> grads[2];
    for (int path = 0; path < 2; ++path) {
      const DType dt = path == 0 ? DType::f32 : DType::f64;
      Tensor q = q0.to(dt).detach().requires_grad_(), k = k0.to(dt).detach().requires_grad_(),
             v = v0.to(dt).detach().requires_grad_();
      out[path] = block_sparse_attention(q, k, v, layout, c.bs, pad, c.causal, 0.3);
      out[path].backward(gout.to(dt));
      grads[path] = {q.grad().to(DType::f32), k.grad().to(DType::f32), v.grad().to(DType::f32)};
      out[path] = out[path].detach().to(DType::f32);
    }
    EXPECT_CLOSE(out[0], out[1], 1e-5, 1e-4);
    for (int i = 0; i < 3; ++i) EXPECT_CLOSE(grads[0][i], grads[1][i], 1e-5, 1e-4);
  }
}

TEST(BlockSparseAttention, StridedHeadViewsAndSharedLayout) {
  Generator gen(5);
  const int64_t B = 2, T = 45, NH = 3, E = 8, bs = 16;
  Tensor packed = randn(Shape{B, T, 3 * NH * E}, gen).requires_grad_();
  auto heads = [&](int64_t part) {
    return packed.narrow(2, part * NH * E, NH * E).view(Shape{B, T, NH, E}).transpose(1, 2);
  };
  const Tensor layout = bigbird_layout(3, 1, 1, 1, gen);
  Tensor out = block_sparse_attention(heads(0), heads(1), heads(2), layout, bs);
  Tensor gout = randn(out.shape(), gen);
  out.backward(gout);
  const Tensor g1 = packed.grad().clone();
  Tensor p2 = packed.detach().clone().requires_grad_();
  auto heads2 = [&](int64_t part) {
    return p2.narrow(2, part * NH * E, NH * E).view(Shape{B, T, NH, E}).transpose(1, 2).contiguous();
  };
  const Tensor mask = dense_mask(layout, bs, B, NH, T, T, Tensor(), false);
  Tensor ref = scaled_dot_product_attention(heads2(0), heads2(1), heads2(2), mask);
  ref.backward(gout);
  EXPECT_CLOSE(out, ref, 1e-5, 1e-4);
  EXPECT_CLOSE(g1, p2.grad(), 1e-5, 1e-4);
}

TEST(BlockSparseAttention, QueryWithoutKeysGetsZeroOutputAndGradient) {
  Generator gen(9);
  Tensor q = randn(Shape{1, 1, 8, 4}, gen).requires_grad_(), k = randn(Shape{1, 1, 8, 4}, gen).requires_grad_();
  Tensor v = randn(Shape{1, 1, 8, 4}, gen).requires_grad_();
  Tensor layout = zeros(Shape{2, 2}, DType::b8);
  layout.data_ptr<bool>()[0] = true;  // query block 1 attends nothing
  Tensor out = block_sparse_attention(q, k, v, layout, 4);
  sum(out).backward();
  for (int64_t i = 4; i < 8; ++i)
    for (int64_t e = 0; e < 4; ++e) {
      EXPECT_EQ(out.select(2, i).select(2, e).item(), 0.0);
      EXPECT_EQ(q.grad().select(2, i).select(2, e).item(), 0.0);
      EXPECT_EQ(k.grad().select(2, i).select(2, e).item(), 0.0);  // key block 1 is never attended
    }
  // Every key padded: zeros, no NaN.
  Tensor all_pad = ones(Shape{1, 8}, DType::b8);
  Tensor o2 = block_sparse_attention(q, k, v, ones(Shape{2, 2}, DType::b8), 4, all_pad);
  EXPECT_CLOSE(o2, zeros(o2.shape()), 0.0, 0.0);
}

TEST(BlockSparseAttention, EmptyInputs) {
  Tensor q = zeros(Shape{1, 2, 0, 4}).requires_grad_(), k = zeros(Shape{1, 2, 5, 4}).requires_grad_();
  Tensor v = zeros(Shape{1, 2, 5, 3}).requires_grad_();
  Tensor out = block_sparse_attention(q, k, v, ones(Shape{0, 2}, DType::b8), 4);
  EXPECT_EQ(out.shape(), (Shape{1, 2, 0, 3}));
  sum(out).backward();
  EXPECT_CLOSE(k.grad(), zeros(k.shape()), 0.0, 0.0);
  Tensor q0 = zeros(Shape{0, 2, 3, 4});
  EXPECT_EQ(block_sparse_attention(q0, zeros(Shape{0, 2, 3, 4}), zeros(Shape{0, 2, 3, 4}),
                                   ones(Shape{1, 1}, DType::b8), 4)
                .shape(),
            (Shape{0, 2, 3, 4}));
}

TEST(BlockSparseAttention, FixedLayoutIsThePapersPattern) {
  // 7 blocks, windows of 3, 1 summary block: windows {0,1,2} {3,4,5} {6}; summaries 2, 5, 6.
  const Tensor uni = sparse_fixed_layout(7, 3, 1, true), bi = sparse_fixed_layout(7, 3, 1, false);
  for (int64_t r = 0; r < 7; ++r)
    for (int64_t c = 0; c < 7; ++c) {
      const bool window = r / 3 == c / 3, summary = c == 2 || c == 5 || c == 6;
      EXPECT_EQ(uni.data_ptr<bool>()[r * 7 + c], (window || summary) && c <= r) << r << "," << c;
      EXPECT_EQ(bi.data_ptr<bool>()[r * 7 + c], window || summary) << r << "," << c;
    }
  // With is_causal and blocks of b, the block layout gives the paper's element pattern exactly:
  // j <= i and (floor(j / l) == floor(i / l) or j mod l >= l - c), l = 3 b, c = b.
  const int64_t b = 2, l = 3 * b, cc = b, n = 7 * b;
  const Tensor m = dense_mask(uni, b, 1, 1, n, n, Tensor(), true);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const bool paper = j <= i && (j / l == i / l || j % l >= l - cc || (j >= 6 * b));
      EXPECT_EQ(m.data_ptr<bool>()[i * n + j], paper) << i << "," << j;
    }
}

TEST(BlockSparseAttention, StridedLayout) {
  const Tensor m = sparse_strided_layout(9, 3, true);
  for (int64_t r = 0; r < 9; ++r)
    for (int64_t c = 0; c < 9; ++c)
      EXPECT_EQ(m.data_ptr<bool>()[r * 9 + c], c <= r && (r - c < 3 || (r - c) % 3 == 0));
  const Tensor bi = sparse_strided_layout(9, 3, false);
  EXPECT_TRUE(bi.data_ptr<bool>()[0 * 9 + 6]);
  EXPECT_FALSE(bi.data_ptr<bool>()[0 * 9 + 4]);
}

TEST(BlockSparseAttention, BigBirdLayout) {
  const int64_t n = 16, w = 3, g = 2, r = 3;
  Generator g1(7), g2(7);
  const Tensor a = bigbird_layout(n, w, g, r, g1, 2), b = bigbird_layout(n, w, g, r, g2, 2);
  EXPECT_CLOSE(a.to(DType::f32), b.to(DType::f32), 0.0, 0.0);  // seeded: reproducible
  bool heads_differ = false;
  const bool* m = a.data_ptr<bool>();
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t row = 0; row < n; ++row) {
      int64_t count = 0, expected = 0;
      for (int64_t c = 0; c < n; ++c) {
        const bool on = m[(h * n + row) * n + c];
        count += on;
        if (c < g || std::abs(c - row) <= w / 2) {
          EXPECT_TRUE(on) << h << "," << row << "," << c;  // window and global columns
          ++expected;
        }
        if (h == 1) heads_differ = heads_differ || on != m[row * n + c];
      }
      if (row < g)
        EXPECT_EQ(count, n);  // global rows attend everything
      else
        EXPECT_EQ(count, expected + r);  // exactly r random blocks beyond window and global
    }
  EXPECT_TRUE(heads_differ);
  EXPECT_EQ(bigbird_layout(n, w, g, r, g1).shape(), (Shape{n, n}));
}

// Forward + backward peak memory at N and 2N with a fixed number of attended blocks per row:
// grows ~linearly, far below one N x N score matrix.
TEST(BlockSparseAttention, MemoryGrowsLinearly) {
  size_t peak[2];
  const int64_t ns[2] = {4096, 8192};
  for (int t = 0; t < 2; ++t) {
    const int64_t N = ns[t], H = 2, E = 32, bs = 64;
    Generator gen(1);
    const Tensor layout = bigbird_layout(N / bs, 3, 2, 3, gen);
    Tensor q = randn(Shape{1, H, N, E}, gen).requires_grad_(), k = randn(Shape{1, H, N, E}, gen).requires_grad_();
    Tensor v = randn(Shape{1, H, N, E}, gen).requires_grad_();
    const size_t base = memory_stats().bytes_in_use;
    empty_cache();  // a cached block up to 2x larger (left by earlier tests) would count whole
    reset_peak_memory_stats();
    Tensor out = block_sparse_attention(q, k, v, layout, bs);
    sum(out).backward();
    peak[t] = memory_stats().peak_bytes_in_use - base;
    if (N == 8192) {  // a quarter of the dense (H, N, N) f32 scores alone
      EXPECT_LT(peak[t], static_cast<size_t>(H * N * N * 4 / 4)) << "N " << N;
    }
  }
  const double ratio = static_cast<double>(peak[1]) / static_cast<double>(peak[0]);
  EXPECT_LT(ratio, 2.5) << peak[0] << " -> " << peak[1];
  EXPECT_GT(ratio, 1.5) << peak[0] << " -> " << peak[1];
}

TEST(BlockSparseAttention, ChecksArguments) {
  const char* op = "block_sparse_attention";
  Tensor q = zeros(Shape{1, 2, 8, 4}), k = zeros(Shape{1, 2, 8, 4}), v = zeros(Shape{1, 2, 8, 3});
  Tensor lay = ones(Shape{2, 2}, DType::b8);
  EXPECT_THROW_OP(block_sparse_attention(q.to(DType::i64), k, v, lay, 4), DTypeError, op);
  EXPECT_THROW_OP(block_sparse_attention(q, k.to(DType::f64), v, lay, 4), DTypeError, op);
  EXPECT_THROW_OP(block_sparse_attention(q.select(0, 0), k, v, lay, 4), ShapeError, op);
  EXPECT_THROW_OP(block_sparse_attention(q, zeros(Shape{1, 2, 8, 5}), v, lay, 4), ShapeError, op);
  EXPECT_THROW_OP(block_sparse_attention(q, k, zeros(Shape{1, 2, 7, 3}), lay, 4), ShapeError, op);
  EXPECT_THROW_OP(block_sparse_attention(q, k, v, lay, 0), ValueError, op);
  EXPECT_THROW_OP(block_sparse_attention(q, k, v, ones(Shape{2, 2}), 4), DTypeError, op);
  EXPECT_THROW_OP(block_sparse_attention(q, k, v, ones(Shape{2, 3}, DType::b8), 4), ShapeError, op);
  EXPECT_THROW_OP(block_sparse_attention(q, k, v, ones(Shape{3, 2, 2}, DType::b8), 4), ShapeError,
                  op);
  EXPECT_THROW_OP(block_sparse_attention(q, k, v, lay, 4, zeros(Shape{1, 8})), DTypeError, op);
  EXPECT_THROW_OP(block_sparse_attention(q, k, v, lay, 4, zeros(Shape{2, 8}, DType::b8)),
                  ShapeError, op);
  Generator gen(0);
  EXPECT_THROW_OP(sparse_fixed_layout(4, 2, 2, true), ValueError, "sparse_fixed_layout");
  EXPECT_THROW_OP(sparse_fixed_layout(0, 2, 1, true), ValueError, "sparse_fixed_layout");
  EXPECT_THROW_OP(sparse_strided_layout(4, 0, true), ValueError, "sparse_strided_layout");
  EXPECT_THROW_OP(bigbird_layout(4, 2, 1, 1, gen), ValueError, "bigbird_layout");
  EXPECT_THROW_OP(bigbird_layout(4, 3, -1, 1, gen), ValueError, "bigbird_layout");
}

}  // namespace
}  // namespace cf
