// Guards against compiler defects that would silently corrupt results (see CMakeLists.txt).
#include <gtest/gtest.h>

#include <vector>

namespace {

__attribute__((noinline)) std::vector<float> half_ones() { return {1, 1, 1, 1, 0, 0, 0, 0}; }
__attribute__((noinline)) std::vector<int> half_twos() { return {2, 2, 2, 2, 0, 0, 0, 0}; }

TEST(Toolchain, ConstantInitializersSurviveVectorization) {
  EXPECT_EQ(half_ones(), (std::vector<float>{1, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(half_twos(), (std::vector<int>{2, 2, 2, 2, 0, 0, 0, 0}));
}

}  // namespace
