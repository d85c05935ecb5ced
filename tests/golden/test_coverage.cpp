// Fails when an op of src/ops/op_list.def lacks PyTorch parity cases or, when differentiable,
// gradcheck cases; and when a golden case names an op missing from the list.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "support/golden.h"

namespace cf::testing {
namespace {

struct OpRow {
  const char* name;
  bool differentiable;
  bool golden;  // false: randomized ops, checked by statistical tests instead
};

const OpRow kOps[] = {
#define CF_OP(kind, name, differentiable, golden) {name, differentiable, golden},
#include "ops/op_list.def"
#undef CF_OP
};

TEST(Coverage, EveryOpHasParityAndGradcheck) {
  std::set<std::string> parity, graded;
  for (const GoldenCase& c : all_golden_cases()) {
    parity.insert(c.op);
    if (c.gradcheck && !c.grads.empty()) graded.insert(c.op);
  }
  for (const OpRow& r : kOps) {
    if (r.golden) {
      EXPECT_TRUE(parity.count(r.name)) << "op " << r.name << " has no PyTorch parity case";
    }
    if (r.golden && r.differentiable) {
      EXPECT_TRUE(graded.count(r.name)) << "op " << r.name << " has no gradcheck case";
    }
  }
}

TEST(Coverage, EveryCaseNamesAListedOp) {
  std::set<std::string> listed;
  for (const OpRow& r : kOps) listed.insert(r.name);
  for (const GoldenCase& c : all_golden_cases())
    EXPECT_TRUE(listed.count(c.op)) << "case " << c.name << " uses op " << c.op
                                    << ", which is not in src/ops/op_list.def";
}

}  // namespace
}  // namespace cf::testing
