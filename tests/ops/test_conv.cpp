// conv2d / conv_transpose2d: the f32 kernels on each path (oneDNN's primitives; im2col + GEMM,
// 1x1, direct depthwise with images in parallel or in turn; the automatic choice) against the
// _ref kernels on edge geometries, the unbatched (3-D) form, and one EXPECT_THROW per check with
// its message. Seed: Generator(23).
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/conv.h"
#include "ops/cpu/conv_dnnl.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

using ops::cpu::Conv2dGeometry;
using ops::cpu::ConvPath;

// Sets the kernel path for a scope and restores the previous one.
struct PathGuard {
  ConvPath saved = ops::cpu::conv_path();
  explicit PathGuard(ConvPath p) { ops::cpu::set_conv_path(p); }
  ~PathGuard() { ops::cpu::set_conv_path(saved); }
  PathGuard(const PathGuard&) = delete;
  PathGuard& operator=(const PathGuard&) = delete;
};

constexpr ConvPath kPaths[] = {ConvPath::im2col, ConvPath::onednn, ConvPath::automatic};
const char* path_name(ConvPath p) {
  return p == ConvPath::im2col ? "im2col" : p == ConvPath::onednn ? "onednn" : "automatic";
}

Generator& gen() {
  static Generator g(23);
  return g;
}
float* fp(const Tensor& t) {
  return t.defined() && t.numel() ? t.data_ptr<float>() : nullptr;
}

struct Geo {
  int64_t N, C, H, W, O, KH, KW, S, P, D, G;
};

Conv2dGeometry geometry(const Geo& q) {
  const int64_t ekh = q.D * (q.KH - 1) + 1, ekw = q.D * (q.KW - 1) + 1;
  return {q.N,
          q.C,
          q.H,
          q.W,
          q.O,
          q.KH,
          q.KW,
          (q.H + 2 * q.P - ekh) / q.S + 1,
          (q.W + 2 * q.P - ekw) / q.S + 1,
          q.S,
          q.S,
          q.P,
          q.P,
          q.D,
          q.D,
          q.G};
}

std::string describe(const Conv2dGeometry& g) {
  return "N " + std::to_string(g.N) + " C " + std::to_string(g.C) + " H " + std::to_string(g.H) +
         " W " + std::to_string(g.W) + " O " + std::to_string(g.O) + " K " + std::to_string(g.KH) +
         "x" + std::to_string(g.KW) + " S " + std::to_string(g.SH) + " P " + std::to_string(g.PH) +
         " D " + std::to_string(g.DH) + " G " + std::to_string(g.G) + " out " +
         std::to_string(g.OH) + "x" + std::to_string(g.OW);
}

// Every kernel and its reference on one geometry (bias and no bias, dw and db alone).
void check_kernels(const Conv2dGeometry& g) {
  SCOPED_TRACE(describe(g));
  const Shape xs{g.N, g.C, g.H, g.W}, ws{g.O, g.C / g.G, g.KH, g.KW}, ys{g.N, g.O, g.OH, g.OW};
  Tensor x = randn(xs, gen()), w = randn(ws, gen()), b = randn(Shape{g.O}, gen()),
         bc = randn(Shape{g.C}, gen()), dy = randn(ys, gen());
  for (bool bias : {true, false}) {
    Tensor y = full(ys, 7.0), yr = empty(ys);
    ops::cpu::conv2d_forward({fp(x), fp(w), bias ? fp(b) : nullptr, fp(y), g});
    ops::cpu::conv2d_forward_ref<float>({fp(x), fp(w), bias ? fp(b) : nullptr, fp(yr), g});
    EXPECT_CLOSE(y, yr, 1e-4, 1e-4);
    Tensor dx = full(xs, 7.0), dxr = empty(xs);
    ops::cpu::conv2d_backward_input({fp(dy), fp(w), bias ? fp(bc) : nullptr, fp(dx), g});
    ops::cpu::conv2d_backward_input_ref<float>(
        {fp(dy), fp(w), bias ? fp(bc) : nullptr, fp(dxr), g});
    EXPECT_CLOSE(dx, dxr, 1e-4, 1e-4);
    Tensor dw = full(ws, 7.0), dwr = empty(ws), db = full(Shape{g.O}, 7.0), dbr = empty(Shape{g.O});
    ops::cpu::conv2d_backward_weight({fp(x), fp(dy), fp(dw), bias ? fp(db) : nullptr, g});
    ops::cpu::conv2d_backward_weight_ref<float>(
        {fp(x), fp(dy), fp(dwr), bias ? fp(dbr) : nullptr, g});
    EXPECT_CLOSE(dw, dwr, 1e-3, 1e-4);
    if (bias) {
      EXPECT_CLOSE(db, dbr, 1e-3, 1e-4);
    }
  }
  Tensor db = empty(Shape{g.O}), dbr = empty(Shape{g.O});
  ops::cpu::conv2d_backward_weight({fp(x), fp(dy), nullptr, fp(db), g});
  ops::cpu::conv2d_backward_weight_ref<float>({fp(x), fp(dy), nullptr, fp(dbr), g});
  EXPECT_CLOSE(db, dbr, 1e-3, 1e-4);
}

// {N, C, H, W, O, KH, KW, stride, padding, dilation, groups}
const Geo kGeos[] = {
    {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1},      // im2col, images in parallel
    {1, 3, 15, 17, 5, 3, 3, 1, 1, 1, 1},    // one image: multi-threaded GEMM
    {3, 4, 17, 15, 6, 3, 2, 2, 1, 1, 2},    // groups, stride 2, rectangular kernel
    {4, 5, 33, 9, 3, 3, 3, 1, 3, 3, 1},     // dilation 3
    {2, 16, 5, 33, 8, 1, 1, 1, 0, 1, 1},    // 1x1: the image is the column matrix
    {3, 6, 5, 7, 4, 1, 1, 1, 0, 1, 2},      // 1x1 with groups
    {2, 5, 9, 8, 3, 1, 1, 2, 0, 1, 1},      // 1x1 stride 2: im2col
    {2, 1, 28, 28, 12, 4, 4, 4, 0, 1, 1},   // patch embedding (C = 1: direct)
    {3, 1, 15, 17, 4, 3, 3, 1, 1, 1, 1},    // one input channel, padded (direct)
    {2, 8, 15, 17, 8, 3, 3, 1, 1, 1, 8},    // depthwise (direct)
    {2, 4, 16, 33, 4, 3, 3, 2, 2, 2, 4},    // depthwise, stride 2, dilation 2
    {2, 3, 9, 10, 6, 3, 3, 1, 1, 1, 3},     // channel multiplier 2 (direct)
    {1, 2, 3, 3, 3, 5, 5, 1, 1, 1, 1},      // kernel covers the padded input: 1x1 output
    {5, 3, 1, 1, 2, 3, 3, 1, 1, 1, 1},      // 1x1 images, all padding but the centre
    {3, 2, 40, 37, 3, 3, 3, 2, 1, 1, 1},    // 1000+ positions per plane
    {2, 16, 15, 17, 16, 3, 3, 1, 1, 1, 1},  // channel-rich 3x3: oneDNN's choice
    {3, 32, 9, 11, 16, 3, 3, 1, 2, 2, 2},   // groups of 16, dilation 2
    {2, 16, 8, 8, 32, 4, 4, 2, 1, 1, 1},    // DCGAN-like 4x4 stride 2
    {2, 24, 7, 7, 8, 1, 1, 1, 0, 1, 1},     // 1x1 with many channels
    {8, 32, 7, 6, 40, 3, 3, 1, 1, 1, 1},    // Winograd's shapes (3x3, stride 1, >= 32 channels)
    {0, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1},      // empty batch
    {2, 3, 5, 5, 0, 3, 3, 1, 1, 1, 1},      // no output channels
};

TEST(Conv, KernelsMatchRef) {
  for (ConvPath path : kPaths) {
    SCOPED_TRACE(path_name(path));
    PathGuard guard(path);
    for (const Geo& q : kGeos) check_kernels(geometry(q));
  }
}

// oneDNN runs (does not decline) the channel-rich geometries the automatic rule sends to it: 3x3,
// 4x4 stride 2 (DCGAN), depthwise, and 3x3 stride 1 with 32 channels and 8 images (Winograd).
TEST(Conv, OneDnnRunsChannelRichShapes) {
  if (!ops::cpu::dnnl_conv_available()) GTEST_SKIP() << "built without oneDNN";
  for (const Geo& q :
       {Geo{2, 16, 15, 17, 16, 3, 3, 1, 1, 1, 1}, Geo{2, 16, 8, 8, 32, 4, 4, 2, 1, 1, 1},
        Geo{2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 8}, Geo{8, 32, 9, 10, 32, 3, 3, 1, 1, 1, 1}}) {
    const Conv2dGeometry g = geometry(q);
    SCOPED_TRACE(describe(g));
    const Shape xs{g.N, g.C, g.H, g.W}, ws{g.O, g.C / g.G, g.KH, g.KW}, ys{g.N, g.O, g.OH, g.OW};
    Tensor x = randn(xs, gen()), w = randn(ws, gen()), b = randn(Shape{g.O}, gen()),
           dy = randn(ys, gen());
    Tensor y = empty(ys), yr = empty(ys);
    EXPECT_TRUE(ops::cpu::dnnl_conv2d_forward({fp(x), fp(w), fp(b), fp(y), g}));
    ops::cpu::conv2d_forward_ref<float>({fp(x), fp(w), fp(b), fp(yr), g});
    EXPECT_CLOSE(y, yr, 1e-4, 1e-4);
    Tensor dx = empty(xs), dxr = empty(xs);
    EXPECT_TRUE(ops::cpu::dnnl_conv2d_backward_input({fp(dy), fp(w), nullptr, fp(dx), g}));
    ops::cpu::conv2d_backward_input_ref<float>({fp(dy), fp(w), nullptr, fp(dxr), g});
    EXPECT_CLOSE(dx, dxr, 1e-4, 1e-4);
    Tensor dw = empty(ws), dwr = empty(ws), db = empty(Shape{g.O}), dbr = empty(Shape{g.O});
    EXPECT_TRUE(ops::cpu::dnnl_conv2d_backward_weight({fp(x), fp(dy), fp(dw), fp(db), g}));
    ops::cpu::conv2d_backward_weight_ref<float>({fp(x), fp(dy), fp(dwr), fp(dbr), g});
    EXPECT_CLOSE(dw, dwr, 1e-3, 1e-4);
    EXPECT_CLOSE(db, dbr, 1e-3, 1e-4);
  }
}

// The ops on the oneDNN path called from inside a parallel region (where oneDNN declines and
// cformer's own kernels run) and from two threads at once (the cached primitive is shared).
TEST(Conv, OneDnnPathFromSeveralThreads) {
  PathGuard guard(ConvPath::onednn);
  Tensor x = randn(Shape{2, 16, 9, 9}, gen()), w = randn(Shape{16, 16, 3, 3}, gen());
  const Tensor expected = conv2d(x, w, Tensor(), {1}, {1});
  Tensor got[4];
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < 4; ++i) got[i] = conv2d(x, w, Tensor(), {1}, {1});
  std::thread t([&got, &x, &w] { got[0] = conv2d(x, w, Tensor(), {1}, {1}); });
  got[1] = conv2d(x, w, Tensor(), {1}, {1});
  t.join();
  for (const Tensor& g : got) EXPECT_CLOSE(g, expected, 1e-5, 1e-5);
}

TEST(Conv, PathNames) {
  EXPECT_EQ(ops::cpu::conv_path_from_name(""), ConvPath::automatic);
  EXPECT_EQ(ops::cpu::conv_path_from_name("auto"), ConvPath::automatic);
  EXPECT_EQ(ops::cpu::conv_path_from_name("onednn"), ConvPath::onednn);
  EXPECT_EQ(ops::cpu::conv_path_from_name("im2col"), ConvPath::im2col);
  EXPECT_THROW_MSG(ops::cpu::conv_path_from_name("direct"), ValueError,
                   "conv2d: CFORMER_CONV must be auto, onednn or im2col, got 'direct'");
}

// conv_transpose2d with output_padding >= stride (allowed when smaller than the dilation) runs
// the kernels with an output smaller than the conv2d formula gives.
TEST(Conv, KernelsMatchRefOnTruncatedOutput) {
  for (ConvPath path : kPaths) {
    SCOPED_TRACE(path_name(path));
    PathGuard guard(path);
    Conv2dGeometry g = geometry({2, 3, 9, 8, 4, 3, 3, 1, 0, 2, 1});
    g.OH -= 1;
    g.OW -= 2;
    check_kernels(g);
    Conv2dGeometry d = geometry({2, 4, 9, 8, 4, 3, 3, 1, 0, 2, 4});
    d.OH -= 1;
    check_kernels(d);
    // Channel-rich: the geometry oneDNN takes in the automatic choice too.
    Conv2dGeometry e = geometry({2, 16, 9, 10, 8, 3, 3, 2, 1, 2, 1});
    e.OH -= 1;
    check_kernels(e);
  }
}

TEST(Conv, UnbatchedInputAndNonContiguous) {
  Tensor x = randn(Shape{3, 7, 6}, gen()), w = randn(Shape{4, 3, 3, 3}, gen()),
         b = randn(Shape{4}, gen());
  Tensor y = conv2d(x, w, b, {2}, {1});
  EXPECT_EQ(y.shape(), (Shape{4, 4, 3}));
  EXPECT_CLOSE(y, conv2d(x.unsqueeze(0), w, b, {2}, {1}).squeeze(0), 0.0, 0.0);
  // A transposed (non-contiguous) input gives the same result as its contiguous copy.
  Tensor xt = randn(Shape{2, 3, 6, 7}, gen()).transpose(2, 3);
  EXPECT_CLOSE(conv2d(xt, w, b, {1}, {1}), conv2d(xt.contiguous(), w, b, {1}, {1}), 0.0, 0.0);
  Tensor wt = randn(Shape{3, 2, 4, 4}, gen());
  Tensor z = conv_transpose2d(x, wt, Tensor(), {2}, {1});
  EXPECT_EQ(z.shape(), (Shape{2, 14, 12}));
  // Gradients flow through the unbatched form.
  Tensor xg = x.clone().requires_grad_(true);
  autograd::backward({sum(conv2d(xg, w, b, {1}, {1}))}, {ones(Shape{})});
  EXPECT_EQ(xg.grad().shape(), x.shape());
}

TEST(Conv, ChecksThrow) {
  Tensor x = randn(Shape{2, 3, 5, 5}, gen()), w = randn(Shape{8, 1, 3, 3}, gen());
  Tensor w3 = randn(Shape{8, 3, 3, 3}, gen());
  EXPECT_THROW_MSG(conv2d(x, w), ShapeError,
                   "conv2d: input has 3 channels but weight expects 1 (weight shape (8, 1, 3, 3), "
                   "groups 1)");
  EXPECT_THROW_MSG(conv2d(Tensor(), w3), ValueError, "conv2d: input is undefined");
  EXPECT_THROW_MSG(conv2d(x, Tensor()), ValueError, "conv2d: weight is undefined");
  EXPECT_THROW_OP(conv2d(zeros(Shape{2, 3, 5, 5}, DType::i64), w3), DTypeError, "conv2d");
  EXPECT_THROW_MSG(conv2d(x, w3.to(DType::f64)), DTypeError,
                   "conv2d: weight must have dtype f32 like the input, got f64");
  EXPECT_THROW_MSG(conv2d(x, w3, zeros(Shape{8}, DType::f64)), DTypeError,
                   "conv2d: bias must have dtype f32");
  EXPECT_THROW_MSG(conv2d(randn(Shape{3, 5}, gen()), w3), ShapeError,
                   "conv2d: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape (3, 5)");
  EXPECT_THROW_MSG(conv2d(randn(Shape{1, 2, 3, 5, 5}, gen()), w3), ShapeError,
                   "conv2d: input must be 4-D");
  EXPECT_THROW_MSG(conv2d(x, randn(Shape{8, 3, 3}, gen())), ShapeError,
                   "conv2d: weight must be 4-D (out_channels, in_channels / groups, kH, kW), got "
                   "shape (8, 3, 3)");
  EXPECT_THROW_MSG(conv2d(x, zeros(Shape{8, 3, 0, 3})), ShapeError,
                   "conv2d: weight must have a positive kernel size");
  EXPECT_THROW_MSG(conv2d(x, w3, randn(Shape{7}, gen())), ShapeError,
                   "conv2d: bias must have shape (8), got (7)");
  EXPECT_THROW_MSG(conv2d(x, w3, Tensor(), {0}), ValueError,
                   "conv2d: stride must be >= 1, got (0)");
  EXPECT_THROW_MSG(conv2d(x, w3, Tensor(), {1, 2, 3}), ValueError,
                   "conv2d: stride must have 1 or 2 values, got (1, 2, 3)");
  EXPECT_THROW_MSG(conv2d(x, w3, Tensor(), {1}, {-1, 0}), ValueError,
                   "conv2d: padding must be >= 0, got (-1, 0)");
  EXPECT_THROW_MSG(conv2d(x, w3, Tensor(), {1}, {0}, {1, 0}), ValueError,
                   "conv2d: dilation must be >= 1, got (1, 0)");
  EXPECT_THROW_MSG(conv2d(x, w3, Tensor(), {1}, {0}, {1}, 0), ValueError,
                   "conv2d: groups must be positive, got 0");
  EXPECT_THROW_MSG(
      conv2d(x, randn(Shape{8, 1, 3, 3}, gen()), Tensor(), {1}, {0}, {1}, 3), ValueError,
      "conv2d: out_channels 8 (weight shape (8, 1, 3, 3)) is not divisible by groups 3");
  EXPECT_THROW_MSG(conv2d(x, randn(Shape{6, 1, 3, 3}, gen()), Tensor(), {1}, {0}, {1}, 2),
                   ShapeError, "conv2d: input has 3 channels but weight expects 2");
  EXPECT_THROW_MSG(conv2d(x, randn(Shape{2, 3, 6, 3}, gen())), ShapeError,
                   "conv2d: kernel size (6, 3) (dilation included) is larger than the padded "
                   "input (5, 5) of input shape (2, 3, 5, 5)");
  EXPECT_THROW_MSG(conv2d(x, w3, Tensor(), {1}, {0}, {3}), ShapeError,
                   "conv2d: kernel size (7, 7) (dilation included) is larger than the padded");
  EXPECT_NO_THROW(conv2d(x, randn(Shape{2, 3, 7, 7}, gen()), Tensor(), {1}, {1}));

  Tensor wt = randn(Shape{3, 2, 3, 3}, gen());
  EXPECT_THROW_MSG(conv_transpose2d(x, randn(Shape{4, 2, 3, 3}, gen())), ShapeError,
                   "conv_transpose2d: input has 3 channels but weight expects 4 (weight shape (4, "
                   "2, 3, 3), groups 1)");
  EXPECT_THROW_MSG(conv_transpose2d(x, Tensor()), ValueError,
                   "conv_transpose2d: weight is undefined");
  EXPECT_THROW_OP(conv_transpose2d(x.to(DType::i64), wt), DTypeError, "conv_transpose2d");
  EXPECT_THROW_MSG(conv_transpose2d(randn(Shape{5, 5}, gen()), wt), ShapeError,
                   "conv_transpose2d: input must be 4-D (N, C, H, W) or 3-D (C, H, W)");
  EXPECT_THROW_MSG(conv_transpose2d(x, randn(Shape{3, 2, 3}, gen())), ShapeError,
                   "conv_transpose2d: weight must be 4-D (in_channels, out_channels / groups, kH, "
                   "kW), got shape (3, 2, 3)");
  EXPECT_THROW_MSG(conv_transpose2d(x, wt, randn(Shape{3}, gen())), ShapeError,
                   "conv_transpose2d: bias must have shape (2), got (3)");
  EXPECT_THROW_MSG(conv_transpose2d(x, wt, Tensor(), {1}, {0}, {0}, 2), ValueError,
                   "conv_transpose2d: in_channels 3 (weight shape (3, 2, 3, 3)) is not divisible "
                   "by groups 2");
  EXPECT_THROW_MSG(conv_transpose2d(x, wt, Tensor(), {1}, {0}, {0}, -1), ValueError,
                   "conv_transpose2d: groups must be positive, got -1");
  EXPECT_THROW_MSG(conv_transpose2d(x, wt, Tensor(), {2}, {0}, {2}), ValueError,
                   "conv_transpose2d: output_padding (2) must be smaller than stride (2) or "
                   "dilation (1, 1)");
  EXPECT_THROW_MSG(conv_transpose2d(x, wt, Tensor(), {1}, {0}, {0, 1}, 1, {1}), ValueError,
                   "conv_transpose2d: output_padding (0, 1)");
  EXPECT_NO_THROW(conv_transpose2d(x, wt, Tensor(), {1}, {0}, {1}, 1, {2}));
  EXPECT_THROW_MSG(conv_transpose2d(x, wt, Tensor(), {1}, {0}, {0}, 1, {0}), ValueError,
                   "conv_transpose2d: dilation must be >= 1, got (0)");
  EXPECT_THROW_MSG(conv_transpose2d(x, wt, Tensor(), {1}, {-2}), ValueError,
                   "conv_transpose2d: padding must be >= 0, got (-2)");
  EXPECT_THROW_MSG(conv_transpose2d(x, wt, Tensor(), {1}, {4}), ShapeError,
                   "conv_transpose2d: input shape (2, 3, 5, 5) gives the output size (-1, -1), "
                   "which is too small");
}

}  // namespace
}  // namespace cf
