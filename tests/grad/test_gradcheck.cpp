// Float64 finite-difference gradient checks on every golden case marked gradcheck (the small
// ones), with contiguous and with non-contiguous inputs; the projection weights are the case's
// upstream gradients.
#include <gtest/gtest.h>

#include "cformer/ops.h"
#include "support/golden.h"
#include "support/gradcheck.h"
#include "support/op_dispatch.h"

namespace cf::testing {
namespace {

void run(const GoldenCase& c, bool noncontig) {
  SCOPED_TRACE(c.file + ": case " + c.name + " (op " + c.op + (noncontig ? ", non-contiguous" : "") + ")");
  TensorList in;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor t = c.inputs[i];
    if (t.dtype() == DType::f32) t = t.to(DType::f64);
    t = noncontig ? make_noncontiguous(t) : t.clone();
    if (c.grads.count(static_cast<int>(i))) t.requires_grad_(true);
    in.push_back(t);
  }
  TensorList w;
  for (const Tensor& g : c.gouts) w.push_back(g.defined() ? g.to(DType::f64) : Tensor());
  const std::string op = c.op;
  const Json args = c.args;
  EXPECT_TRUE(gradcheck([&op, &args](const TensorList& x) { return run_op(op, args, x); }, in, w));
}

TEST(Gradcheck, AllCasesContiguous) {
  int n = 0;
  for (const GoldenCase& c : all_golden_cases())
    if (c.gradcheck && !c.grads.empty()) {
      run(c, false);
      ++n;
    }
  EXPECT_GT(n, 300) << "fewer gradcheck cases than the generators define";
  RecordProperty("cases", n);
}

TEST(Gradcheck, AllCasesNonContiguous) {
  for (const GoldenCase& c : all_golden_cases())
    if (c.gradcheck && !c.grads.empty() && c.noncontig) run(c, true);
}

}  // namespace
}  // namespace cf::testing
