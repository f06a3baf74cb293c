#ifndef TRANSMLA_CORE_CONVERT_SOURCE_MODEL_H_
#define TRANSMLA_CORE_CONVERT_SOURCE_MODEL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/convert/mla_layer.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"

namespace transmla::convert {

// Reads tensor `name` as a float64 matrix of the given shape (InvalidArgument naming it otherwise).
absl::StatusOr<MatD> ReadMatrix(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols);
absl::StatusOr<VecD> ReadVector(const TensorStore& store, const std::string& name, int64_t size);

// Reads attention block `layer` of a Llama-family checkpoint (biases when config.attention_bias).
absl::StatusOr<GqaLayer> ReadGqaLayer(const TensorStore& store, const ModelConfig& config, int64_t layer);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_SOURCE_MODEL_H_
