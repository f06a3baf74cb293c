#include "core/util/half.h"

#include <cmath>
#include <cstdint>

#include "gtest/gtest.h"

namespace transmla {
namespace {

TEST(HalfTest, F16RoundTripsEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if (((h >> 10) & 0x1f) == 0x1f) continue;  // inf/NaN
    EXPECT_EQ(FloatToF16(F16ToFloat(static_cast<uint16_t>(h))), h) << h;
  }
}

TEST(HalfTest, Bf16RoundTripsAndRoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x10000; h += 7) {
    if (((h >> 7) & 0xff) == 0xff) continue;
    EXPECT_EQ(FloatToBf16(Bf16ToFloat(static_cast<uint16_t>(h))), h);
  }
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.00390625f)), 1.0f);  // exactly halfway: to even
  EXPECT_EQ(FloatToF16(65520.0f), 0x7c00);                 // rounds past the max half to inf
  EXPECT_EQ(F16ToFloat(FloatToF16(5.96046448e-08f)), 5.96046448e-08f);  // smallest subnormal
}

}  // namespace
}  // namespace transmla
