// Tensor maps of 16-bit caches: refused for other types; without a driver, a Status naming the
// driver call instead of a crash; on a GPU, encoded once per (cache, capacity), and a step's table
// uploaded only when one of its caches or capacities changed.
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/cache_tensor_map.h"
#include "core/engine/cuda/cuda_engine.h"
#include "core/engine/cuda/device_buffer.h"
#endif

namespace transmla::cuda {
namespace {

#ifdef TRANSMLA_HAVE_CUDA
constexpr int64_t kTokenStride = 576;

TEST(CacheTensorMapTest, RefusesCachesThatAreNotSixteenBit) {
  const float cache[kTokenStride] = {};
  const absl::StatusOr<CacheTensorMap> map = EncodeCacheTensorMap(cache, 1, kTokenStride, GpuType::kF32);
  EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CacheTensorMapTest, WithoutADriverFailsNamingTheDriverCall) {
  std::string why;
  if (CudaDeviceAvailable(&why)) GTEST_SKIP() << "a CUDA device is present: encoding succeeds here";
  alignas(16) static unsigned char cache[64 * kTokenStride * 2];
  const absl::StatusOr<CacheTensorMap> map = EncodeCacheTensorMap(cache, 64, kTokenStride, GpuType::kBF16);
  if (map.ok()) GTEST_SKIP() << "this machine's driver encodes maps without a device (" << why << ")";
  EXPECT_NE(map.status().message().find("cuTensorMapEncodeTiled"), std::string::npos) << map.status();
}

TEST(CacheTensorMapTest, EncodesEachCacheAndCapacityOnce) {
  std::string why;
  if (!CudaDeviceAvailable(&why)) GTEST_SKIP() << "no CUDA device here (" << why << ")";
  DeviceBuffer cache;
  ASSERT_TRUE(cache.Reserve(128 * kTokenStride * 2).ok());
  CacheTensorMaps maps;
  const absl::StatusOr<CacheTensorMap> first = maps.Get(cache.get(), 64, kTokenStride, GpuType::kBF16);
  ASSERT_TRUE(first.ok()) << first.status();
  const absl::StatusOr<CacheTensorMap> again = maps.Get(cache.get(), 64, kTokenStride, GpuType::kBF16);
  const absl::StatusOr<CacheTensorMap> grown = maps.Get(cache.get(), 128, kTokenStride, GpuType::kBF16);
  ASSERT_TRUE(again.ok() && grown.ok());
  EXPECT_EQ(std::memcmp(first->bytes, again->bytes, sizeof(first->bytes)), 0);
  EXPECT_NE(std::memcmp(first->bytes, grown->bytes, sizeof(first->bytes)), 0) << "the capacity is part of the map";
}

TEST(CacheTensorMapTest, TheStepTableIsUploadedOnlyWhenACacheOrCapacityChanges) {
  std::string why;
  if (!CudaDeviceAvailable(&why)) GTEST_SKIP() << "no CUDA device here (" << why << ")";
  DeviceBuffer a, b;
  ASSERT_TRUE(a.Reserve(128 * kTokenStride * 2).ok() && b.Reserve(128 * kTokenStride * 2).ok());
  CacheMapTable table;
  // Two layers of one slice, then of two.
  std::vector<void*> caches = {a.get(), b.get()};
  std::vector<int64_t> capacities = {64};
  ASSERT_TRUE(table.Update(caches, capacities, kTokenStride, GpuType::kBF16).ok());
  ASSERT_TRUE(table.Update(caches, capacities, kTokenStride, GpuType::kBF16).ok());
  EXPECT_EQ(table.uploads(), 1);
  capacities = {128};
  ASSERT_TRUE(table.Update(caches, capacities, kTokenStride, GpuType::kBF16).ok());
  EXPECT_EQ(table.uploads(), 2);
  caches = {a.get(), b.get(), b.get(), a.get()};
  capacities = {128, 64};
  ASSERT_TRUE(table.Update(caches, capacities, kTokenStride, GpuType::kBF16).ok());
  EXPECT_EQ(table.uploads(), 3);
  // Layer 1, slice 0 is b's cache at 128 positions.
  CacheTensorMap on_device;
  ASSERT_EQ(cudaMemcpy(&on_device, table.layer(1), sizeof(on_device), cudaMemcpyDeviceToHost), cudaSuccess);
  const absl::StatusOr<CacheTensorMap> expected = EncodeCacheTensorMap(b.get(), 128, kTokenStride, GpuType::kBF16);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(std::memcmp(on_device.bytes, expected->bytes, sizeof(on_device.bytes)), 0);
  caches.pop_back();
  EXPECT_EQ(table.Update(caches, capacities, kTokenStride, GpuType::kBF16).code(), absl::StatusCode::kInvalidArgument)
      << "3 caches are not whole layers of 2 slices";
}
#else
TEST(CacheTensorMapTest, RefusesCachesThatAreNotSixteenBit) {
  GTEST_SKIP() << "this build has no CUDA backend (no nvcc, or TRANSMLA_WITH_CUDA=OFF)";
}
#endif

}  // namespace
}  // namespace transmla::cuda
