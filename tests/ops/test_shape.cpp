// Shape ops: the optimized kernels (cat, remap, tril/triu, cumsum) against their _ref oracles on
// edge sizes, mixed-layout inputs through the ops, split/chunk autograd, and every check.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/shape.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

using ops::cpu::CatArgs;
using ops::cpu::RemapArgs;


std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

Tensor iota(const Shape& s, DType dt = DType::f32) {
  return arange(0.0, static_cast<double>(s.numel()), 1.0, dt).reshape(s);
}

TEST(ShapeKernels, CatMatchesRef) {
  for (int64_t outer : {1, 3, 17, 1000}) {
    for (const std::vector<int64_t>& inner :
         {std::vector<int64_t>{1}, {15, 17}, {0, 33, 1}, {1000, 3}, {16, 0, 16}}) {
      std::vector<std::vector<float>> xs;
      std::vector<const void*> ptrs;
      int64_t total = 0;
      for (size_t k = 0; k < inner.size(); ++k) {
        xs.push_back(random_floats(outer * inner[k], static_cast<uint32_t>(k + outer)));
        ptrs.push_back(xs.back().data());
        total += inner[k];
      }
      std::vector<float> got(outer * total, -1.0f), want(outer * total, -2.0f);
      CatArgs a{static_cast<int>(inner.size()), ptrs.data(), inner.data(), got.data(), outer, total, 4};
      ops::cpu::cat_forward(a);
      a.out = want.data();
      ops::cpu::cat_forward_ref(a);
      EXPECT_EQ(got, want) << "outer " << outer;
    }
  }
}

// A random remap over `out_shape`: maps hit the input at random (with repeats) or are -1.
struct RandomRemap {
  std::vector<std::vector<int64_t>> maps;
  RemapArgs args{};
};

RandomRemap make_remap(const std::vector<int64_t>& in, const std::vector<int64_t>& out,
                       double fill_p, uint32_t seed) {
  std::mt19937 gen(seed);
  RandomRemap r;
  r.args.ndim = static_cast<int>(in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    r.args.in_shape[d] = in[d];
    r.args.out_shape[d] = out[d];
    std::vector<int64_t> m(out[d]);
    for (int64_t o = 0; o < out[d]; ++o) {
      const bool fill = std::uniform_real_distribution<double>(0, 1)(gen) < fill_p || in[d] == 0;
      // Mostly runs (o mod n) so the memcpy path is exercised, sometimes random.
      m[o] = fill ? -1 : (gen() % 4 == 0 ? static_cast<int64_t>(gen() % in[d]) : o % in[d]);
    }
    r.maps.push_back(std::move(m));
  }
  for (size_t d = 0; d < in.size(); ++d) r.args.map[d] = r.maps[d].data();
  return r;
}

TEST(ShapeKernels, RemapForwardAndBackwardMatchRef) {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
      {{5}, {17}}, {{1}, {1}}, {{3, 15}, {4, 33}}, {{2, 3, 17}, {3, 5, 16}},
      {{40, 1000}, {45, 1003}}, {{0, 3}, {2, 3}}, {{4, 4}, {0, 4}}, {{7, 2, 3, 5}, {9, 2, 4, 8}}};
  uint32_t seed = 1;
  for (const auto& [in, out] : shapes) {
    for (double fill_p : {0.0, 0.2}) {
      RandomRemap r = make_remap(in, out, fill_p, seed++);
      int64_t nin = 1, nout = 1;
      for (int64_t s : in) nin *= s;
      for (int64_t s : out) nout *= s;
      const std::vector<float> x = random_floats(nin, seed);
      const float fill = 7.5f;
      std::vector<float> got(nout, -1.0f), want(nout, -2.0f);
      r.args.x = x.data();
      r.args.fill = &fill;
      r.args.elem_size = 4;
      r.args.out = got.data();
      ops::cpu::remap_forward(r.args);
      r.args.out = want.data();
      ops::cpu::remap_forward_ref(r.args);
      EXPECT_EQ(got, want);
      // Backward: the same order of additions, so bit-identical results.
      const std::vector<float> g = random_floats(nout, seed + 100);
      std::vector<float> dx(nin, 0.0f), dx_ref(nin, 0.0f);
      r.args.x = g.data();
      ops::cpu::remap_backward<float>(r.args, dx.data());
      ops::cpu::remap_backward_ref<float>(r.args, dx_ref.data());
      EXPECT_EQ(dx, dx_ref);
    }
  }
}

TEST(ShapeKernels, TriMatchesRef) {
  for (const auto& [B, R, C] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 1, 1}, {2, 15, 17}, {3, 33, 1}, {1, 100, 1000}, {4, 0, 3}, {1, 5, 0}}) {
    for (int64_t diag : {-40, -2, 0, 1, 5, 2000}) {
      for (bool upper : {false, true}) {
        const std::vector<float> x = random_floats(B * R * C, 3);
        std::vector<float> got(x.size(), -1.0f), want(x.size(), -2.0f);
        ops::cpu::TriArgs a{x.data(), got.data(), B, R, C, diag, upper, 4};
        ops::cpu::tri_forward(a);
        a.out = want.data();
        ops::cpu::tri_forward_ref(a);
        EXPECT_EQ(got, want) << B << "x" << R << "x" << C << " diag " << diag << " upper " << upper;
      }
    }
  }
}

TEST(ShapeKernels, CumsumMatchesRef) {
  for (const auto& [outer, n, inner] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 1, 1}, {3, 17, 1}, {2, 1000, 1}, {5, 33, 15}, {2, 7, 300}, {1, 2000, 17}, {0, 3, 3}}) {
    const std::vector<float> x = random_floats(outer * n * inner, 9);
    std::vector<float> got(x.size()), want(x.size());
    ops::cpu::CumsumArgs<float> a{x.data(), got.data(), outer, n, inner};
    ops::cpu::cumsum_forward<float>(a);
    a.y = want.data();
    ops::cpu::cumsum_forward_ref<float>(a);
    EXPECT_EQ(got, want) << outer << "x" << n << "x" << inner;
  }
  std::vector<int64_t> xi = {1, -2, 3, 4, 5, -6};
  std::vector<int64_t> yi(6);
  ops::cpu::cumsum_forward<int64_t>({xi.data(), yi.data(), 2, 3, 1});
  EXPECT_EQ(yi, (std::vector<int64_t>{1, -1, 2, 4, 9, 3}));
}

TEST(ShapeOps, CatMixedLayouts) {
  // A contiguous, a transposed and an expanded (stride 0) input, along dim 1.
  Tensor a = iota({3, 2});
  Tensor b = iota({4, 3}).t();  // (3, 4), non-contiguous
  Tensor c = from_vector<float>({5, 6, 7}).reshape({3, 1}).expand({3, 5});
  Tensor out = cat({a, b, c}, -1);
  ASSERT_EQ(out.shape(), Shape({3, 11}));
  Tensor want = empty({3, 11});
  want.narrow(1, 0, 2).copy_(a);
  want.narrow(1, 2, 4).copy_(b);
  want.narrow(1, 6, 5).copy_(c);
  EXPECT_CLOSE(out, want, 0.0, 0.0);
  // Other dtypes are byte copies.
  Tensor bi = cat({iota({2, 2}, DType::i64), iota({1, 2}, DType::i64)}, 0);
  EXPECT_EQ(bi.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 0, 1}));
  Tensor bb = cat({ones({2}, DType::b8), zeros({1}, DType::b8)});
  EXPECT_EQ(bb.to_vector<bool>(), (std::vector<bool>{true, true, false}));
}

TEST(ShapeOps, SplitBackwardWithUnusedPieces) {
  Tensor x = iota({7, 2}).requires_grad_();
  std::vector<Tensor> parts = split(x, 3, 0);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].shape(), Shape({1, 2}));
  sum(mul(parts[1], 2.0)).backward();  // pieces 0 and 2 get no gradient
  std::vector<float> want(14, 0.0f);
  for (int i = 6; i < 12; ++i) want[i] = 2.0f;
  EXPECT_EQ(x.grad().to_vector<float>(), want);
  std::vector<Tensor> chunks = chunk(iota({6}), 4);
  EXPECT_EQ(chunks.size(), 3u);  // PyTorch's rule: ceil(6 / 4) = 2 per piece
}

TEST(ShapeOps, RemapOpsAgreeWithDirectIndexing) {
  Tensor x = iota({2, 3});
  EXPECT_EQ(flip(x, {0, 1}).to_vector<float>(), (std::vector<float>{5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(repeat(from_vector<float>({1, 2}), {2, 2}).to_vector<float>(),
            (std::vector<float>{1, 2, 1, 2, 1, 2, 1, 2}));
  EXPECT_EQ(pad(from_vector<float>({1, 2, 3}).reshape({1, 3}), {2, 1}, PadMode::reflect).to_vector<float>(),
            (std::vector<float>{3, 2, 1, 2, 3, 2}));
  EXPECT_EQ(pad(iota({4}), {-1, -2}).to_vector<float>(), (std::vector<float>{1}));
  EXPECT_EQ(tril(iota({2, 2}, DType::i64)).to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 2, 3}));
  // 0-dim inputs.
  EXPECT_EQ(flip(scalar_tensor(3.0), {0}).item(), 3.0);
  EXPECT_EQ(repeat(scalar_tensor(3.0), {2}).to_vector<float>(), (std::vector<float>{3, 3}));
  EXPECT_EQ(cumsum(scalar_tensor(3.0), 0).item(), 3.0);
}

TEST(ShapeOps, Checks) {
  const Tensor x = iota({2, 3});
  EXPECT_THROW_MSG(cat({}), ValueError, "cat:");
  EXPECT_THROW_MSG(cat({x, Tensor()}), ValueError, "cat: tensor 1 is undefined");
  EXPECT_THROW_MSG(cat({x, x.to(DType::f64)}), DTypeError, "cat: tensor 1 has dtype f64");
  EXPECT_THROW_MSG(cat({x, scalar_tensor(1.0)}), ShapeError, "cat: tensor 1 is 0-dim");
  EXPECT_THROW_MSG(cat({x, iota({3, 3})}, 1), ShapeError, "cat: tensor 1 has shape (3, 3)");
  EXPECT_THROW_MSG(cat({x, iota({2, 3, 1})}, 0), ShapeError, "cat:");
  EXPECT_THROW_MSG(cat({x, x}, 2), IndexError, "cat: dim 2");
  EXPECT_THROW_MSG(cat({empty({0}), empty({0})}, 1), IndexError, "cat: dim 1");
  EXPECT_THROW_MSG(stack({}), ValueError, "stack:");
  EXPECT_THROW_MSG(stack({x, iota({3, 2})}), ShapeError, "stack: tensor 1 has shape (3, 2)");
  EXPECT_THROW_MSG(stack({x, x}, 3), IndexError, "stack: dim 3");
  EXPECT_THROW_MSG(stack({iota({1, 1, 1, 1, 1, 1, 1, 1})}), ShapeError, "stack:");
  EXPECT_THROW_MSG(split(scalar_tensor(1.0), 1), ShapeError, "split: expects at least a 1-D");
  EXPECT_THROW_MSG(split(x, -1), ValueError, "split: split_size must be non-negative");
  EXPECT_THROW_MSG(split(x, 0), ValueError, "split: split_size can be 0 only");
  EXPECT_THROW_MSG(split(x, 1, 2), IndexError, "split: dim 2");
  EXPECT_THROW_MSG(split_with_sizes(x, {3, -1}, 1), ValueError, "split_with_sizes: sizes must be non-negative");
  EXPECT_THROW_MSG(split_with_sizes(x, {1, 1}, 1), ShapeError, "split_with_sizes: sizes (1, 1) sum to 2");
  EXPECT_THROW_MSG(chunk(x, 0), ValueError, "chunk: chunks must be positive");
  EXPECT_THROW_MSG(chunk(Tensor(), 2), ValueError, "chunk: input is undefined");
  EXPECT_THROW_MSG(repeat(x, {2}), ShapeError, "repeat: the number of repeats (2)");
  EXPECT_THROW_MSG(repeat(x, {2, -1}), ValueError, "repeat: repeats must be non-negative");
  EXPECT_THROW_MSG(tril(iota({3})), ShapeError, "tril: expects a tensor with at least 2 dims");
  EXPECT_THROW_MSG(triu(Tensor()), ValueError, "triu: input is undefined");
  EXPECT_THROW_MSG(flip(x, {0, -2}), ValueError, "flip: dim -2 appears twice");
  EXPECT_THROW_MSG(flip(x, {2}), IndexError, "flip: dim 2");
  EXPECT_THROW_MSG(pad(x, {1}), ValueError, "pad: pad must have an even number");
  EXPECT_THROW_MSG(pad(x, {1, 1, 1, 1, 1, 1}), ShapeError, "pad: pad (1, 1, 1, 1, 1, 1) pads 3 dims");
  EXPECT_THROW_MSG(pad(x, {-2, -2}), ShapeError, "pad: dim 1 of size 3 padded by (-2, -2)");
  EXPECT_THROW_MSG(pad(x, {-1, 0}, PadMode::circular), ValueError, "pad: negative padding (-1, 0)");
  EXPECT_THROW_MSG(pad(x, {3, 0}, PadMode::reflect), ValueError, "pad: reflect padding (3, 0)");
  EXPECT_THROW_MSG(pad(empty({2, 0}), {1, 0}, PadMode::replicate), ValueError, "pad: replicate padding");
  EXPECT_THROW_MSG(pad(x, {0, 4}, PadMode::circular), ValueError, "pad: circular padding (0, 4)");
  EXPECT_THROW_MSG(cumsum(ones({2}, DType::b8), 0), DTypeError, "cumsum:");
  EXPECT_THROW_MSG(cumsum(x, -3), IndexError, "cumsum: dim -3");
}

}  // namespace
}  // namespace cf
