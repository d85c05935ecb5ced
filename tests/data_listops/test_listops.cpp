// The ListOps generator and evaluator (include/cformer/listops.h): hand-computed values, the
// LRA's notation, errors, determinism, distinctness and the length window. The label of every
// generated example is also checked against an independent Python evaluation of the LRA's tuple
// structure in tests/slow/listops_oracle.sh.
#include <gtest/gtest.h>

#include <set>

#include "cformer/error.h"
#include "cformer/listops.h"

namespace cf::data {
namespace {

TEST(ListOps, EvaluatesHandComputedExpressions) {
  EXPECT_EQ(evaluate_listops("7"), 7);
  EXPECT_EQ(evaluate_listops("( ( ( [MAX 2 ) 9 ) ] )"), 9);
  EXPECT_EQ(evaluate_listops("( ( ( [MIN 2 ) 9 ) ] )"), 2);
  EXPECT_EQ(evaluate_listops("( ( ( ( [SM 7 ) 8 ) 9 ) ] )"), 4);    // 24 mod 10
  EXPECT_EQ(evaluate_listops("( ( ( [MED 1 ) 4 ) ] )"), 2);         // int(np.median) = int(2.5)
  EXPECT_EQ(evaluate_listops("( ( ( ( [MED 9 ) 1 ) 5 ) ] )"), 5);
  EXPECT_EQ(evaluate_listops("( ( ( ( [MED 3 ) 8 ) 0 ) 7 ) ] )"), 5);  // (3 + 7) / 2
  // [MAX 2 [MIN 4 7 ] 0 [SM 6 9 ]] = max(2, 4, 0, 5) = 5
  EXPECT_EQ(evaluate_listops("( ( ( ( ( [MAX 2 ) ( ( ( [MIN 4 ) 7 ) ] ) ) 0 ) "
                             "( ( ( [SM 6 ) 9 ) ] ) ) ] )"),
            5);
  EXPECT_EQ(evaluate_listops("[MAX 3 1 ]"), 3);  // parentheses are optional
}

TEST(ListOps, RejectsMalformedExpressionsNamingTheToken) {
  auto msg = [](const std::string& s) {
    try {
      evaluate_listops(s);
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("[MAX 3 1 ] ]").find("closes no list"), std::string::npos);
  EXPECT_NE(msg("[MAX ]").find("without arguments"), std::string::npos);
  EXPECT_NE(msg("[MAX 3 1").find("not closed"), std::string::npos);
  EXPECT_NE(msg("[AVG 3 1 ]").find("'[AVG'"), std::string::npos);
  EXPECT_NE(msg("12").find("'12'"), std::string::npos);
  EXPECT_NE(msg("3 4").find("second value"), std::string::npos);
  EXPECT_NE(msg("( )").find("empty expression"), std::string::npos);
  EXPECT_NE(msg("").find("empty expression"), std::string::npos);
  EXPECT_THROW(listops_encode("( [MAX 1 x ] )"), FormatError);
}

TEST(ListOps, EncodesWithTheFixedVocabulary) {
  EXPECT_EQ(listops_vocabulary().size(), 18u);
  EXPECT_EQ(listops_encode("( ( [SM 0 ) 9 ] )"),
            (std::vector<int64_t>{1, 1, 7, 8, 2, 17, 3, 2}));
}

TEST(ListOps, GeneratesDistinctDeterministicExamplesInTheLengthWindow) {
  ListOpsOptions o;  // the LRA's: depth 10, 10 arguments, lengths in (500, 2000)
  const std::vector<ListOpsExample> a = generate_listops(40, 7, o);
  const std::vector<ListOpsExample> b = generate_listops(40, 7, o);
  const std::vector<ListOpsExample> c = generate_listops(40, 8, o);
  ASSERT_EQ(a.size(), 40u);
  std::set<std::string> distinct;
  std::set<int> labels;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].source, b[i].source);
    EXPECT_GT(a[i].length, 500);
    EXPECT_LT(a[i].length, 2000);
    EXPECT_EQ(a[i].label, evaluate_listops(a[i].source));
    // The length counts digits, operators and "]": every token but the parentheses.
    int64_t tokens = 0;
    for (int64_t id : listops_encode(a[i].source)) tokens += id != 1 && id != 2;
    EXPECT_EQ(tokens, a[i].length);
    distinct.insert(a[i].source);
    labels.insert(a[i].label);
  }
  EXPECT_EQ(distinct.size(), a.size());
  EXPECT_GE(labels.size(), 4u);  // not a constant
  EXPECT_NE(a[0].source, c[0].source);
}

TEST(ListOps, SmallWindowsAndDepthLimits) {
  ListOpsOptions o;
  o.max_depth = 2;
  o.max_args = 3;
  o.min_length = 3;
  o.max_length = 6;
  o.value_p = 0.99;  // nearly every node above the depth limit is a list
  // Depth 1 is a list of 2-3 digits (depth 2 is the limit): length 4 or 5; a digit root (length
  // 1) is outside the window.
  for (const ListOpsExample& e : generate_listops(4, 1, o)) {
    EXPECT_TRUE(e.length == 4 || e.length == 5) << e.source;
    EXPECT_EQ(e.label, evaluate_listops(e.source));
  }
  ListOpsOptions bad;
  bad.max_args = 1;
  EXPECT_THROW(bad.validate(), ValueError);
  bad = {};
  bad.value_p = 1.0;  // would lift the depth limit
  EXPECT_THROW(bad.validate(), ValueError);
  bad = {};
  bad.min_length = 10;
  bad.max_length = 11;
  EXPECT_THROW(generate_listops(1, 0, bad), ValueError);
  // A window no tree can reach fails with a message instead of looping for ever.
  ListOpsOptions never = o;
  never.min_length = 100;
  never.max_length = 200;
  EXPECT_THROW(generate_listops(1, 0, never), ValueError);
}

}  // namespace
}  // namespace cf::data
