// arange / linspace: PyTorch's length rule and dtype inference, exact endpoints, and every check.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cformer/ops.h"
#include "support/expect_throw.h"

namespace cf {
namespace {


TEST(FactoryOps, ArangeLengthAndDtype) {
  EXPECT_EQ(arange(5).dtype(), DType::i64);
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(0, 1, 0.1).numel(), 10);  // ceil((1 - 0) / 0.1) in double
  EXPECT_EQ(arange(0, 1, 0.1).dtype(), DType::f32);
  EXPECT_EQ(arange(0, 1, 0.3).numel(), 4);
  EXPECT_EQ(arange(5, -3, -2).to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 1, -1}));
  EXPECT_EQ(arange(2.5).dtype(), DType::f32);
  EXPECT_EQ(arange(2.5).numel(), 3);
  EXPECT_EQ(arange(0, 3, 1, DType::f64).to_vector<double>(), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(arange(3, 3, 1).numel(), 0);
  EXPECT_EQ(arange(0, 100000, 1, DType::f32).to_vector<float>()[99999], 99999.0f);
}

TEST(FactoryOps, LinspaceEndpointsExact) {
  for (int64_t steps : {2, 3, 7, 1000, 100001}) {
    std::vector<float> v = linspace(-3.7, 2.2, steps).to_vector<float>();
    EXPECT_EQ(v.front(), -3.7f);
    EXPECT_EQ(v.back(), 2.2f);
  }
  EXPECT_EQ(linspace(2.5, 9, 1).to_vector<float>(), (std::vector<float>{2.5f}));
  EXPECT_EQ(linspace(0, 1, 0).numel(), 0);
  EXPECT_EQ(linspace(0, 10, 5, DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 5, 7, 10}));
}

TEST(FactoryOps, Checks) {
  EXPECT_THROW_MSG(arange(0, 5, 0), ValueError, "arange: step must be finite and non-zero, got 0");
  EXPECT_THROW_MSG(arange(0, 5, -1), ValueError, "arange: step -1 has the wrong sign");
  EXPECT_THROW_MSG(arange(0, INFINITY, 1), ValueError, "arange: start and end must be finite");
  EXPECT_THROW_MSG(arange(0, 1, 1e-300), ValueError, "arange: the range [0, 1) with step");
  EXPECT_THROW_MSG(arange(0, 5, 0.5, DType::i64), ValueError, "arange: an i64 result needs integral");
  EXPECT_THROW_MSG(arange(0, 5, 1, DType::b8), DTypeError, "arange: dtype must be f32, f64 or i64, got bool");
  EXPECT_THROW_MSG(linspace(0, 1, -1), ValueError, "linspace: steps must be non-negative, got -1");
  EXPECT_THROW_MSG(linspace(0, NAN, 3), ValueError, "linspace: start and end must be finite");
  EXPECT_THROW_MSG(linspace(0, 1, 3, DType::u8), DTypeError, "linspace: dtype must be f32, f64 or i64, got u8");
}

}  // namespace
}  // namespace cf
