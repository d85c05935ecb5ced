#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "support/expect_close.h"

namespace cf {
namespace {

TEST(Autograd, AccumulatesIntoLeaves) {
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  Tensor y = sum(mul(x, x));  // dy/dx = 2x
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
  Tensor z = sum(mul(x, 3.0));
  z.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 7, 9}));
}

TEST(Autograd, DiamondGraphSumsBothPaths) {
  Tensor x = from_vector<double>({2}).requires_grad_();
  Tensor a = mul(x, 3.0), b = mul(x, x);
  Tensor y = sum(add(a, b));  // 3x + x^2 -> 3 + 2x = 7
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 7.0);
}

TEST(Autograd, UpstreamGradientAndShapeCheck) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  Tensor y = mul(x, 2.0);
  EXPECT_THROW(y.backward(), AutogradError);  // not a scalar and no gradient
  EXPECT_THROW(y.backward(ones(Shape{3}, DType::f64)), ShapeError);
  y.backward(from_vector<double>({1, 10}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 20}));
}

TEST(Autograd, FreedGraphThrowsOnSecondBackward) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  Tensor y = sum(mul(x, x));
  y.backward();
  try {
    y.backward();
    FAIL();
  } catch (const AutogradError& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
  Tensor z = sum(mul(x, x));
  z.backward({}, /*retain_graph=*/true);
  z.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2 + 4, 4 + 8}));
}

TEST(Autograd, InPlaceModificationOfSavedTensorIsDetected) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  Tensor c = from_vector<double>({3, 4});
  Tensor y = sum(mul(x, c));  // saves c
  c.mul_(2.0);
  try {
    y.backward();
    FAIL();
  } catch (const AutogradError& e) {
    EXPECT_NE(std::string(e.what()).find("modified by an in-place operation"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("mul"), std::string::npos) << e.what();
  }
}

TEST(Autograd, InPlaceOnTensorRequiringGradThrows) {
  Tensor x = zeros(Shape{2}).requires_grad_();
  EXPECT_THROW(x.add_(1.0), AutogradError);
  NoGradGuard ng;
  x.add_(1.0);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{1, 1}));
}

TEST(Autograd, NoGradGuardDetachAndRetainGrad) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  {
    NoGradGuard ng;
    EXPECT_FALSE(mul(x, 2.0).requires_grad());
  }
  EXPECT_FALSE(x.detach().requires_grad());
  Tensor h = mul(x, 2.0);
  h.retain_grad();
  sum(mul(h, h)).backward();
  EXPECT_EQ(h.grad().to_vector<double>(), (std::vector<double>{4, 8}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{8, 16}));
  EXPECT_EQ(autograd::grad_fn_name(h), "mul");
  EXPECT_THROW(from_vector<int64_t>({1}).requires_grad_(), AutogradError);
}

}  // namespace
}  // namespace cf
