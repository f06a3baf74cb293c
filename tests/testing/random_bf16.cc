#include "tests/testing/random_bf16.h"

#include <cstring>

namespace transmla::testing {

std::vector<uint16_t> RandomBf16(size_t n, std::mt19937& rng, std::vector<float>& values) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<uint16_t> bits(n);
  values.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float f = normal(rng);
    uint32_t u = 0;
    std::memcpy(&u, &f, 4);
    bits[i] = static_cast<uint16_t>(u >> 16);
    u = static_cast<uint32_t>(bits[i]) << 16;
    std::memcpy(&values[i], &u, 4);
  }
  return bits;
}

}  // namespace transmla::testing
