#include "core/io/dtype.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "fmt/format.h"

namespace transmla {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kF64: return 8;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
  }
  return 0;
}

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kF64: return "F64";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
  }
  return "?";
}

absl::StatusOr<DType> ParseDType(std::string_view name) {
  for (DType d : {DType::kF32, DType::kF16, DType::kBF16, DType::kF64, DType::kI32, DType::kI64}) {
    if (name == DTypeName(d)) return d;
  }
  return absl::InvalidArgumentError(fmt::format("unsupported dtype \"{}\"", name));
}

absl::StatusOr<DType> ParseFloatDTypeOption(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "f32" || lower == "float32" || lower == "fp32") return DType::kF32;
  if (lower == "f16" || lower == "float16" || lower == "fp16") return DType::kF16;
  if (lower == "bf16" || lower == "bfloat16") return DType::kBF16;
  return absl::InvalidArgumentError(
      fmt::format("unsupported dtype option \"{}\" (expected f32, f16 or bf16)", name));
}

}  // namespace transmla
