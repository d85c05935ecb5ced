// PyTorch parity for every golden case, in three runs: f32 with the inputs as stored, f32 with
// every input made non-contiguous, and f64 (the reference kernels). Outputs and the gradients of
// the inputs PyTorch differentiated must match at the case's tolerances.
#include <gtest/gtest.h>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "support/expect_close.h"
#include "support/golden.h"
#include "support/gradcheck.h"
#include "support/op_dispatch.h"

namespace cf::testing {
namespace {

enum class Mode { contiguous, noncontiguous, f64 };
const char* mode_name(Mode m) {
  return m == Mode::contiguous ? "f32" : m == Mode::noncontiguous ? "f32 non-contiguous" : "f64";
}

void check_case(const GoldenCase& c, Mode mode) {
  SCOPED_TRACE(c.file + ": case " + c.name + " (op " + c.op + ", " + mode_name(mode) + ")");
  TensorList in;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor t = c.inputs[i];
    if (mode == Mode::f64 && t.dtype() == DType::f32) t = t.to(DType::f64);
    t = mode == Mode::noncontiguous ? make_noncontiguous(t) : t.clone();
    if (c.grads.count(static_cast<int>(i))) t.requires_grad_(true);
    in.push_back(t);
  }
  TensorList out = run_op(c.op, c.args, in);
  ASSERT_EQ(out.size(), c.outputs.size());
  // f64 results are compared with PyTorch's f32 results: allow the f32 rounding of the latter.
  const double slack = mode == Mode::f64 ? 4.0 : 1.0;
  for (size_t j = 0; j < out.size(); ++j) {
    SCOPED_TRACE("output " + std::to_string(j));
    if (c.outputs[j].is_floating_point()) {
      EXPECT_CLOSE(out[j], c.outputs[j], c.atol * slack, c.rtol * slack);
    } else {
      ASSERT_EQ(out[j].dtype(), c.outputs[j].dtype());
      EXPECT_CLOSE(out[j].to(DType::f64), c.outputs[j].to(DType::f64), 0.0, 0.0);
    }
  }
  if (c.grads.empty()) return;
  TensorList roots, grads;
  for (size_t j = 0; j < out.size(); ++j) {
    if (!c.gouts[j].defined() || !out[j].requires_grad()) continue;
    roots.push_back(out[j]);
    grads.push_back(c.gouts[j].to(out[j].dtype()));
  }
  ASSERT_FALSE(roots.empty()) << "no output requires grad";
  autograd::backward(roots, grads);
  for (const auto& [i, g] : c.grads) {
    SCOPED_TRACE("gradient of input " + std::to_string(i));
    EXPECT_CLOSE(in[i].grad(), g, c.grad_atol * slack, c.grad_rtol * slack);
  }
}

TEST(Golden, FilesArePresent) { EXPECT_FALSE(all_golden_cases().empty()) << golden_dir(); }

TEST(Golden, ParityF32) {
  for (const GoldenCase& c : all_golden_cases()) check_case(c, Mode::contiguous);
}
TEST(Golden, ParityF32NonContiguous) {
  for (const GoldenCase& c : all_golden_cases())
    if (c.noncontig) check_case(c, Mode::noncontiguous);
}
TEST(Golden, ParityF64) {
  for (const GoldenCase& c : all_golden_cases()) check_case(c, Mode::f64);
}

}  // namespace
}  // namespace cf::testing
