#ifndef TRANSMLA_CORE_ENGINE_CPU_WEIGHT_LOADER_H_
#define TRANSMLA_CORE_ENGINE_CPU_WEIGHT_LOADER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/engine/cpu/ops.h"
#include "core/io/tensor_store.h"

namespace transmla::cpu {

// Reads tensor `name` (any float dtype) as a float32 [rows x cols] matrix; InvalidArgument when its
// shape differs, NotFound when it is missing.
absl::StatusOr<Mat> LoadMatrix(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols);

// Reads a 1-D tensor of `size` floats.
absl::StatusOr<Vec> LoadVector(const TensorStore& store, const std::string& name, int64_t size);

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_WEIGHT_LOADER_H_
