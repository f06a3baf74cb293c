#ifndef TRANSMLA_CORE_IO_DTYPE_H_
#define TRANSMLA_CORE_IO_DTYPE_H_

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"

namespace transmla {

// Element types of stored tensors. Float kinds are what models use; integer kinds hold test data.
enum class DType { kF32, kF16, kBF16, kF64, kI32, kI64 };

// Bytes per element.
size_t DTypeSize(DType dtype);

// The safetensors spelling ("F32", "F16", "BF16", "F64", "I32", "I64").
std::string_view DTypeName(DType dtype);

// Parses a safetensors dtype name (case-sensitive, as the format defines it). Fails with
// InvalidArgument naming the unknown dtype.
absl::StatusOr<DType> ParseDType(std::string_view name);

// Parses a user-facing dtype option: "f32"/"float32", "f16"/"float16", "bf16"/"bfloat16".
absl::StatusOr<DType> ParseFloatDTypeOption(std::string_view name);

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_DTYPE_H_
