// A SwiGLU MLP's float32 weights, and a cache of the last one loaded. Calibration runs a block once
// for the original layer and once per balance candidate, each time with the same MLP tensors (80%
// of an 8B block's weights): the cache converts them once per layer, and reloads the next layer's
// into the same buffers, so no fresh pages are faulted in on any thread.
#ifndef TRANSMLA_CORE_ENGINE_CPU_MLP_WEIGHTS_H_
#define TRANSMLA_CORE_ENGINE_CPU_MLP_WEIGHTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/cpu/ops.h"
#include "core/io/tensor_store.h"

namespace transmla::cpu {

struct MlpWeights {
  Mat gate, up, down;  // [ff x d], [ff x d], [d x ff]
};

// Loads `prefix` + "mlp.{gate,up,down}_proj.weight" from `store` (a block of hidden size `d` and
// intermediate size `ff`).
absl::StatusOr<std::shared_ptr<const MlpWeights>> LoadMlp(const TensorStore& store, const std::string& prefix,
                                                          int64_t ff, int64_t d);

class MlpCache {
 public:
  // As LoadMlp, but returns the last load's weights when the three tensors have the same names,
  // types, shapes and bytes (a fingerprint of every byte, so a different tensor at the same address
  // is not mistaken for it).
  absl::StatusOr<std::shared_ptr<const MlpWeights>> Load(const TensorStore& store, const std::string& prefix,
                                                         int64_t ff, int64_t d);

  int64_t hits() const { return hits_; }

 private:
  struct Key {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t fingerprint;
    bool operator==(const Key&) const = default;
  };

  std::vector<Key> keys_;
  std::shared_ptr<MlpWeights> weights_;
  int64_t hits_ = 0;
};

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_MLP_WEIGHTS_H_
