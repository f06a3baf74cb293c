#include "core/engine/cpu/mlp_weights.h"

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace transmla::cpu {
namespace {

constexpr int64_t kFf = 6, kD = 4;
const std::string kPrefix = "model.layers.0.";

// float32 MLP tensors whose bytes live in `buffers` (views, as a checkpoint's are).
TensorStore MlpStore(std::vector<std::vector<float>>* buffers, float offset) {
  TensorStore store;
  buffers->clear();
  buffers->reserve(3);  // the views point into them
  for (const auto& [name, rows, cols] : {std::tuple{"mlp.gate_proj.weight", kFf, kD},
                                         std::tuple{"mlp.up_proj.weight", kFf, kD},
                                         std::tuple{"mlp.down_proj.weight", kD, kFf}}) {
    std::vector<float>& values = buffers->emplace_back(static_cast<size_t>(rows * cols));
    for (size_t i = 0; i < values.size(); ++i) values[i] = offset + static_cast<float>(i);
    store.AddView({kPrefix + name, DType::kF32, {rows, cols}, reinterpret_cast<const uint8_t*>(values.data()),
                   values.size() * sizeof(float)});
  }
  return store;
}

TEST(MlpCacheTest, SameTensorsLoadOnceAndChangedBytesAtTheSameAddressLoadAgain) {
  std::vector<std::vector<float>> buffers;
  const TensorStore store = MlpStore(&buffers, 0.0f);
  MlpCache cache;
  absl::StatusOr<std::shared_ptr<const MlpWeights>> first = cache.Load(store, kPrefix, kFf, kD);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->down(1, 2), 8.0f);
  absl::StatusOr<std::shared_ptr<const MlpWeights>> second = cache.Load(store, kPrefix, kFf, kD);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->get(), first->get());
  EXPECT_EQ(cache.hits(), 1);

  // Same names, shapes and addresses, one value changed: a fresh load. The old weights, still held,
  // keep their values.
  buffers[2][8] = 100.0f;
  absl::StatusOr<std::shared_ptr<const MlpWeights>> third = cache.Load(store, kPrefix, kFf, kD);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(cache.hits(), 1);
  EXPECT_EQ((*third)->down(1, 2), 100.0f);
  EXPECT_EQ((*first)->down(1, 2), 8.0f);
}

TEST(MlpCacheTest, ANewLayerReusesTheBuffersNoOneHolds) {
  std::vector<std::vector<float>> layer0, layer1;
  const TensorStore store0 = MlpStore(&layer0, 0.0f), store1 = MlpStore(&layer1, 0.5f);
  MlpCache cache;
  const float* gate = nullptr;
  {
    absl::StatusOr<std::shared_ptr<const MlpWeights>> w = cache.Load(store0, kPrefix, kFf, kD);
    ASSERT_TRUE(w.ok());
    gate = (*w)->gate.data();
  }
  absl::StatusOr<std::shared_ptr<const MlpWeights>> w = cache.Load(store1, kPrefix, kFf, kD);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->gate.data(), gate);
  EXPECT_EQ((*w)->gate(0, 0), 0.5f);
  EXPECT_EQ(cache.hits(), 0);
}

TEST(MlpCacheTest, AMisshapenTensorFailsAndLeavesNothingCached) {
  std::vector<std::vector<float>> buffers;
  const TensorStore store = MlpStore(&buffers, 0.0f);
  MlpCache cache;
  EXPECT_FALSE(cache.Load(store, kPrefix, kFf + 1, kD).ok());
  absl::StatusOr<std::shared_ptr<const MlpWeights>> w = cache.Load(store, kPrefix, kFf, kD);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(cache.hits(), 0);
  EXPECT_EQ((*w)->up.rows(), kFf);
}

}  // namespace
}  // namespace transmla::cpu
