// Float64 gradient check by central differences (eps 1e-6, atol 1e-5, rtol 1e-3 by default).
// The scalar checked is L = sum_j <out_j, w_j> for the given projection weights w_j, so every
// output element's gradient is exercised. Failures name the input, the flat index, and the
// analytic and numeric values.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "cformer/tensor.h"

namespace cf::testing {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

/// inputs: f64 tensors (any layout); those with requires_grad() are checked. weights: one f64
/// tensor per output of f (undefined: that output is not projected).
::testing::AssertionResult gradcheck(const MultiFn& f, const std::vector<Tensor>& inputs,
                                     const std::vector<Tensor>& weights,
                                     const GradcheckOptions& opt = {});
/// Single-output convenience: weights drawn from a fixed-seed normal.
::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                     const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& opt = {});

/// A copy of t with the same values but a non-contiguous layout (transposed storage for 2+ dims,
/// every other element for 1 dim); 0-dim and empty tensors are returned as copies.
Tensor make_noncontiguous(const Tensor& t);

}  // namespace cf::testing
