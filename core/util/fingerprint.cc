#include "core/util/fingerprint.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace transmla {
namespace {

constexpr uint64_t kMultiplier = 0x9E3779B97F4A7C15ull;
constexpr size_t kBlockBytes = size_t{4} << 20;

uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 33);
}

// Four lanes take every fourth word, so that the multiplies do not wait on each other.
uint64_t FingerprintBlock(const uint8_t* data, size_t size, uint64_t seed) {
  uint64_t lane[4] = {seed, seed ^ 1, seed ^ 2, seed ^ 3};
  for (size_t i = 0, word = 0; i < size; i += 8, ++word) {
    uint64_t w = 0;  // the last word zero-padded
    std::memcpy(&w, data + i, std::min<size_t>(8, size - i));
    uint64_t& h = lane[word % 4];
    h = (h ^ w) * kMultiplier;
    h ^= h >> 29;
  }
  return Mix(lane[0] ^ Mix(lane[1] ^ Mix(lane[2] ^ Mix(lane[3] ^ size))));
}

}  // namespace

uint64_t Fingerprint(const uint8_t* data, size_t size) {
  const size_t blocks = (size + kBlockBytes - 1) / kBlockBytes;
  std::vector<uint64_t> parts(blocks);
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (size_t b = 0; b < blocks; ++b) {
    const size_t begin = b * kBlockBytes;
    parts[b] = FingerprintBlock(data + begin, std::min(kBlockBytes, size - begin), b * kMultiplier);
  }
  uint64_t h = Mix(size);
  for (const uint64_t p : parts) h = Mix(h ^ p);
  return h;
}

}  // namespace transmla
