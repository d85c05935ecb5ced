#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "support/expect_close.h"

namespace cf {
namespace {

TEST(Tensor, FactoriesAndItem) {
  Tensor t = full(Shape{2, 3}, 1.5);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.strides(), (Shape{3, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_DOUBLE_EQ(sum(t).item(), 9.0);
  EXPECT_THROW(t.item(), ShapeError);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data_ptr()) % 64, 0u);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = from_vector<float>({0, 1, 2, 3, 4, 5}, Shape{2, 3});
  Tensor tt = t.t();
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_EQ(tt.contiguous().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor s = t.select(1, 2);
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{2, 5}));
  s.fill_(9);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 1, 9, 3, 4, 9}));
  EXPECT_EQ(t.version(), 1u);
  EXPECT_EQ(t.slice(1, 0, 3, 2).to_vector<float>(), (std::vector<float>{0, 9, 3, 9}));
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(t.reshape(Shape{3, -1}).shape(), (Shape{3, 2}));
  EXPECT_THROW(tt.view(Shape{6}), ShapeError);
  EXPECT_EQ(tt.reshape(Shape{6}).to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 9, 9}));
  Tensor e = from_vector<float>({1, 2}, Shape{2, 1}).expand(Shape{2, 3});
  EXPECT_EQ(e.strides()[1], 0);
  EXPECT_EQ(e.contiguous().to_vector<float>(), (std::vector<float>{1, 1, 1, 2, 2, 2}));
}

TEST(Tensor, ViewErrorsNameTheOp) {
  Tensor t = zeros(Shape{2, 3});
  try {
    t.view(Shape{4, 2});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("view: shape (4, 2)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.permute(Dims{0, 0}), ShapeError);
  EXPECT_THROW(t.select(2, 0), IndexError);
  EXPECT_THROW(t.expand(Shape{4, 3}), ShapeError);
  EXPECT_THROW(t.narrow(1, 2, 2), IndexError);
  EXPECT_THROW(t.data_ptr<double>(), DTypeError);
}

TEST(Tensor, ConversionsRoundTrip) {
  Tensor t = from_vector<float>({1.0f, -2.5f, 3.25f}, Shape{3});
  EXPECT_EQ(t.to(DType::f64).to(DType::f32).to_vector<float>(), t.to_vector<float>());
  EXPECT_EQ(t.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(t.to(DType::bf16).to(DType::f32).to_vector<float>(), t.to_vector<float>());
  EXPECT_EQ(t.to(DType::b8).to_vector<bool>(), (std::vector<bool>{true, true, true}));
}

TEST(Allocator, SteadyStateLoopAllocatesNothingFromTheSystem) {
  Tensor w = zeros(Shape{64, 32}).requires_grad_();
  auto step = [&w] {
    Tensor x = ones(Shape{16, 32});
    Tensor loss = sum(mul(linear(x, w), 0.5));
    loss.backward();
    NoGradGuard ng;
    w.add_(w.grad(), -0.1);
    w.set_grad(Tensor());
  };
  for (int i = 0; i < 3; ++i) step();
  const uint64_t before = memory_stats().system_allocations;
  for (int i = 0; i < 20; ++i) step();
  EXPECT_EQ(memory_stats().system_allocations, before);
  EXPECT_GT(memory_stats().cache_hits, 0u);
}

TEST(Allocator, ChangingLargeShapesReuseCachedBlocks) {
  // Variable-length batches: every step asks for large buffers of another size (1.2 to 10 MB,
  // about 50 size classes, at most 15 MB live). A miss takes the smallest free block of up to
  // twice the request, so the cache stays near the live size; keeping one block per size class
  // ever seen, as before, held about 190 MB here.
  empty_cache();
  const size_t base = memory_stats().bytes_reserved;
  uint64_t late_system_allocations = 0;
  for (int i = 0; i < 400; ++i) {
    const uint64_t before = memory_stats().system_allocations;
    const int64_t n = 300000 + (int64_t{i} * 1234567) % 2200000;
    Tensor a = empty(Shape{n}), b = empty(Shape{n / 2 + 1});
    if (i >= 200) late_system_allocations += memory_stats().system_allocations - before;
  }
  const size_t reserved = memory_stats().bytes_reserved - base;
  EXPECT_LE(reserved, size_t{64} << 20) << "the cache kept " << (reserved >> 20) << " MiB";
  EXPECT_LE(late_system_allocations, 4u);
  empty_cache();
}

TEST(Tensor, UndefinedTensorsThrowInsteadOfCrashing) {
  const Tensor t;
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const ValueError& e) {
      return std::string(e.what());
    }
    return std::string("no ValueError");
  };
  EXPECT_NE(message([&t]() { (void)t.to(DType::f64); }).find("to: the tensor is undefined"),
            std::string::npos);
  EXPECT_NE(message([&t]() { (void)t.contiguous(); }).find("contiguous: the tensor is undefined"),
            std::string::npos);
  EXPECT_NE(message([&t]() { (void)t.clone(); }).find("clone: the tensor is undefined"),
            std::string::npos);
  // The gradient of a non-leaf is undefined: converting it is the case that used to segfault.
  Tensor x = ones({2}, DType::f32);
  x.requires_grad_(true);
  Tensor y = mul(x, 2.0);
  sum(y).backward();
  EXPECT_THROW((void)y.grad().to(DType::f64), ValueError);
}

}  // namespace
}  // namespace cf
