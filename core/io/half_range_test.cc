#include "core/io/half_range.h"

#include <vector>

#include "gtest/gtest.h"

namespace transmla {
namespace {

TensorView ViewOf(const std::vector<float>& values) {
  TensorView view;
  view.name = "w";
  view.shape = {static_cast<int64_t>(values.size())};
  view.data = reinterpret_cast<const uint8_t*>(values.data());
  view.nbytes = values.size() * sizeof(float);
  return view;
}

TEST(HalfRangeTest, OrdinaryWeightsAndExactZerosFit) {
  std::vector<float> values(5000, 0.02f);
  values[0] = -60000.0f;
  values[1] = 0.0f;
  values[2] = 1e-7f;  // one tiny value in 5000 is tolerated
  EXPECT_TRUE(CheckFitsHalfPrecision(ViewOf(values)).ok());
}

TEST(HalfRangeTest, ValuesBeyondTheLargestAreRefusedByName) {
  std::vector<float> values(10, 1.0f);
  values[7] = 70000.0f;
  const absl::Status status = CheckFitsHalfPrecision(ViewOf(values));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("w holds 70000"), std::string::npos) << status;
}

TEST(HalfRangeTest, RowsScaledBelowTheSmallestAreRefused) {
  // A stock-norm fold: most rows scaled by ~1e-8, a few (the RoPE rows) untouched.
  std::vector<float> values(3000, 3e-10f);
  for (int i = 0; i < 500; ++i) values[static_cast<size_t>(i)] = 0.05f;
  const absl::Status status = CheckFitsHalfPrecision(ViewOf(values));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("2500 of its 3000 nonzero values"), std::string::npos) << status;
}

}  // namespace
}  // namespace transmla
