#include "core/engine/greedy_token.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace transmla {
namespace {

TEST(FirstMaximumTest, TakesTheFirstOfTiedMaxima) {
  EXPECT_EQ(FirstMaximum(std::vector<float>{1, 3, 2, 3}), 1);
  EXPECT_EQ(FirstMaximum(std::vector<float>{-5, -1, -1}), 1);
  EXPECT_EQ(FirstMaximum(std::vector<float>{7}), 0);
}

TEST(FirstMaximumTest, NanNeverWins) {
  EXPECT_EQ(FirstMaximum(std::vector<float>{NAN, 1, NAN, 2}), 3);
  EXPECT_EQ(FirstMaximum(std::vector<float>{NAN, -INFINITY}), 1);
  EXPECT_EQ(FirstMaximum(std::vector<float>{NAN, NAN}), 0);
  EXPECT_EQ(FirstMaximum(std::vector<float>{-INFINITY, -INFINITY}), 0);
}

}  // namespace
}  // namespace transmla
