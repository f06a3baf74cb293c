#include "core/util/fingerprint.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace transmla {
namespace {

std::vector<uint8_t> Bytes(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 131 + 7);
  return b;
}

TEST(FingerprintTest, EqualBytesGiveEqualFingerprints) {
  const std::vector<uint8_t> a = Bytes(10'000'003), b = Bytes(10'000'003);
  EXPECT_EQ(Fingerprint(a.data(), a.size()), Fingerprint(b.data(), b.size()));
}

TEST(FingerprintTest, AnyChangedByteChangesIt) {
  // 10 MB + 3: three 4 MB blocks, a last word of 3 bytes.
  std::vector<uint8_t> bytes = Bytes(10'000'003);
  const uint64_t original = Fingerprint(bytes.data(), bytes.size());
  for (const size_t at : {size_t{0}, size_t{7}, size_t{8}, size_t{31}, (size_t{4} << 20) - 1, size_t{4} << 20,
                          size_t{5'000'000}, bytes.size() - 3, bytes.size() - 1}) {
    bytes[at] ^= 1;
    EXPECT_NE(Fingerprint(bytes.data(), bytes.size()), original) << "byte " << at;
    bytes[at] ^= 1;
  }
  EXPECT_EQ(Fingerprint(bytes.data(), bytes.size()), original);
}

TEST(FingerprintTest, LengthCountsEvenForZeroBytes) {
  const std::vector<uint8_t> zeros(64, 0);
  EXPECT_NE(Fingerprint(zeros.data(), 63), Fingerprint(zeros.data(), 64));
  EXPECT_NE(Fingerprint(zeros.data(), 0), Fingerprint(zeros.data(), 1));
}

TEST(FingerprintTest, SwappedWordsDiffer) {
  std::vector<uint8_t> bytes = Bytes(64);
  const uint64_t original = Fingerprint(bytes.data(), bytes.size());
  std::swap_ranges(bytes.begin(), bytes.begin() + 8, bytes.begin() + 32);  // words 0 and 4: the same lane
  EXPECT_NE(Fingerprint(bytes.data(), bytes.size()), original);
}

}  // namespace
}  // namespace transmla
