// Shared checks and output allocation for elementwise ops (no kernels here).
#pragma once
#include "cformer/ops.h"
#include "ops/strided_loop.h"

namespace cf::ops {

/// Checks both operands are defined, on the CPU, of the same dtype; returns the broadcast shape.
Shape check_binary(const char* op, const Tensor& a, const Tensor& b);
/// Throws DTypeError naming op unless t is f32 or f64.
void check_floating(const char* op, const Tensor& t, const char* arg = "input");
/// Throws DTypeError naming op unless t is f32, f64 or i64.
void check_arithmetic(const char* op, const Tensor& t, const char* arg = "input");

}  // namespace cf::ops
