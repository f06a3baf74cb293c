// A check of the CUDA attention plan against a double-precision causal softmax and the fixture of the
// kernel tests that use it (decode_attention_test.cc, latent_attention_test.cc,
// prefill_attention_test.cc). Builds with the
// CUDA backend only.
#ifndef TRANSMLA_TESTS_TESTING_CUDA_ATTENTION_CHECK_H_
#define TRANSMLA_TESTS_TESTING_CUDA_ATTENTION_CHECK_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/engine/cuda/attention.h"
#include "core/engine/cuda/cuda_engine.h"
#include "core/engine/cuda/device_buffer.h"
#include "gtest/gtest.h"
#include "tests/testing/random_bf16.h"

namespace transmla::testing {

// One sequence of a step: `count` new tokens after `start` cached positions.
struct StepSequence {
  int32_t start, count;
};

inline std::vector<cuda::AttentionSlice> SlicesOf(const std::vector<StepSequence>& sequences) {
  std::vector<cuda::AttentionSlice> slices;
  int32_t rows = 0;
  for (const StepSequence& s : sequences) {
    slices.push_back({rows, s.count, s.start});
    rows += s.count;
  }
  return slices;
}

// The engine's GQA cache layout: per token the kv heads' keys, then their values; 1/sqrt(dk) scale.
inline cuda::AttentionLayout GqaCacheLayout(int64_t heads, int64_t kv_heads, int64_t dk, int64_t dv) {
  cuda::AttentionLayout l;
  l.heads = heads;
  l.kv_heads = kv_heads;
  l.key_dim = l.key_head_stride = l.query_head_stride = dk;
  l.value_dim = l.value_head_stride = dv;
  l.value_offset = kv_heads * dk;
  l.token_stride = kv_heads * (dk + dv);
  l.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dk)));
  return l;
}

// A kernel test parameterized by whether the warpgroup MMA kernels may be chosen (Param has a
// `warpgroup_mma` member): skips without a GPU, or when asked for warpgroup kernels the GPU does not
// run; limits_ holds the device's limits with that choice.
template <typename Param>
class AttentionKernelTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda::CudaDeviceAvailable(&why)) GTEST_SKIP() << "no CUDA device here (" << why << ")";
    absl::StatusOr<cuda::AttentionDeviceLimits> limits = cuda::CurrentDeviceLimits();
    ASSERT_TRUE(limits.ok()) << limits.status();
    if (this->GetParam().warpgroup_mma && !limits->warpgroup_mma) {
      GTEST_SKIP() << "this GPU does not run the build's sm_90a kernels";
    }
    limits->warpgroup_mma = this->GetParam().warpgroup_mma;
    limits_ = *limits;
  }

  // Asserts that a plan for the same step with the other choice takes another kernel than `plan`:
  // the kernel that ran is the one the case asks for.
  void ExpectOtherChoiceTakesAnotherKernel(const cuda::AttentionPlan& plan, const cuda::AttentionLayout& l,
                                           const std::vector<StepSequence>& sequences) {
    cuda::AttentionPlan other;
    cuda::AttentionDeviceLimits limits = limits_;
    limits.warpgroup_mma = !limits.warpgroup_mma;
    other.OverrideDeviceLimits(limits);
    ASSERT_TRUE(other.Build(SlicesOf(sequences), l, cuda::GpuType::kBF16, nullptr).ok());
    ASSERT_NE(plan.kernel(), other.kernel());
  }

  cuda::AttentionDeviceLimits limits_;
};

// Runs `plan` (built here for BF16 caches of layout `l`, with its device limits as the caller left
// them) on random BF16 queries and caches for `sequences` and asserts that every output is within
// 2^-8 of its probability-weighted mean of |v| (+1e-5) of the double-precision result: the kernels
// round each probability to BF16 (relative error 2^-8 at most) before p.v. Query head h reads kv
// head h / (heads / kv_heads): its key at key_head_stride, its value at value_offset plus
// value_head_stride (both zero for MLA's latent row, whose prefix is the value).
inline void ExpectAttentionMatchesDouble(cuda::AttentionPlan& plan, const cuda::AttentionLayout& l,
                                         const std::vector<StepSequence>& sequences, uint32_t seed) {
  using cuda::DeviceBuffer;
  const std::vector<cuda::AttentionSlice> slices = SlicesOf(sequences);
  const int32_t rows = slices.back().row_begin + slices.back().count;
  std::mt19937 rng(seed);
  std::vector<std::vector<float>> cache_values(sequences.size());
  std::vector<DeviceBuffer> caches(sequences.size());
  std::vector<const void*> cache_pointers;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const std::vector<uint16_t> bits = RandomBf16(
        static_cast<size_t>((sequences[s].start + sequences[s].count) * l.token_stride), rng, cache_values[s]);
    ASSERT_TRUE(caches[s].Upload(bits.data(), bits.size() * 2).ok());
    cache_pointers.push_back(caches[s].get());
  }
  std::vector<float> q;
  const std::vector<uint16_t> q_bits = RandomBf16(static_cast<size_t>(rows * l.heads * l.query_head_stride), rng, q);
  DeviceBuffer dq, dcaches, dout;
  ASSERT_TRUE(dq.Upload(q_bits.data(), q_bits.size() * 2).ok());
  ASSERT_TRUE(dcaches.Upload(cache_pointers.data(), cache_pointers.size() * sizeof(void*)).ok());
  ASSERT_TRUE(dout.Reserve(static_cast<size_t>(rows * l.heads * l.value_dim) * 4).ok());

  ASSERT_TRUE(plan.Build(slices, l, cuda::GpuType::kBF16, nullptr).ok());
  DeviceBuffer dmaps;
  if (plan.needs_cache_maps()) {
    std::vector<cuda::CacheTensorMap> maps;
    for (size_t s = 0; s < sequences.size(); ++s) {
      absl::StatusOr<cuda::CacheTensorMap> map = cuda::EncodeCacheTensorMap(
          cache_pointers[s], sequences[s].start + sequences[s].count, l.token_stride, cuda::GpuType::kBF16);
      ASSERT_TRUE(map.ok()) << map.status();
      maps.push_back(*map);
    }
    ASSERT_TRUE(dmaps.Upload(maps.data(), maps.size() * sizeof(cuda::CacheTensorMap)).ok());
  }
  const absl::Status run = plan.Run(dq.get(), static_cast<const void* const*>(dcaches.get()),
                                    dmaps.as<const cuda::CacheTensorMap>(), dout.get(), cuda::GpuType::kF32, nullptr);
  ASSERT_TRUE(run.ok()) << run;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> out(static_cast<size_t>(rows * l.heads * l.value_dim));
  ASSERT_EQ(cudaMemcpy(out.data(), dout.get(), out.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);

  const int64_t group = l.heads / l.kv_heads;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const std::vector<float>& cache = cache_values[s];
    for (int32_t token = 0; token < slices[s].count; ++token) {
      const int64_t row = slices[s].row_begin + token, positions = slices[s].start_position + token + 1;
      for (int64_t head = 0; head < l.heads; ++head) {
        const int64_t key = (head / group) * l.key_head_stride;
        const int64_t value = l.value_offset + (head / group) * l.value_head_stride;
        const float* query = q.data() + (row * l.heads + head) * l.query_head_stride;
        std::vector<double> p(static_cast<size_t>(positions));
        double max_score = -1e300, sum = 0;
        for (int64_t t = 0; t < positions; ++t) {
          double dot = 0;
          for (int64_t c = 0; c < l.key_dim; ++c) dot += static_cast<double>(query[c]) * cache[t * l.token_stride + key + c];
          p[t] = dot * l.scale;
          max_score = std::max(max_score, p[t]);
        }
        for (double& v : p) sum += v = std::exp(v - max_score);
        const float* got = out.data() + (row * l.heads + head) * l.value_dim;
        for (int64_t c = 0; c < l.value_dim; ++c) {
          double exact = 0, magnitude = 0;
          for (int64_t t = 0; t < positions; ++t) {
            exact += p[t] * cache[t * l.token_stride + value + c];
            magnitude += p[t] * std::abs(cache[t * l.token_stride + value + c]);
          }
          ASSERT_NEAR(got[c], exact / sum, std::ldexp(magnitude / sum, -8) + 1e-5)
              << "sequence " << s << " token " << token << " head " << head << " dim " << c;
        }
      }
    }
  }
}

}  // namespace transmla::testing

#endif  // TRANSMLA_TESTS_TESTING_CUDA_ATTENTION_CHECK_H_
