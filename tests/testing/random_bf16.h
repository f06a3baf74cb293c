#ifndef TRANSMLA_TESTS_TESTING_RANDOM_BF16_H_
#define TRANSMLA_TESTS_TESTING_RANDOM_BF16_H_

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace transmla::testing {

// n standard-normal values as bfloat16 bit patterns (each float's top half); `values` receives the
// floats those patterns stand for, so that a reference computes on exactly what a kernel reads.
std::vector<uint16_t> RandomBf16(size_t n, std::mt19937& rng, std::vector<float>& values);

}  // namespace transmla::testing

#endif  // TRANSMLA_TESTS_TESTING_RANDOM_BF16_H_
