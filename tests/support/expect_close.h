// Tolerance checks: |a - e| <= atol + rtol * |e| elementwise; a failure names the worst index and
// shows the first values side by side.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "cformer/tensor.h"

namespace cf::testing {

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double atol,
                                     double rtol);

#define EXPECT_CLOSE(actual, expected, atol, rtol) \
  EXPECT_TRUE(::cf::testing::all_close((actual), (expected), (atol), (rtol)))

}  // namespace cf::testing
