#include "core/io/tensor.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "fmt/format.h"
#include "core/util/half.h"

namespace transmla {
namespace {

// Tensors above this many elements convert on all cores (weights of large models are GBs).
constexpr int64_t kParallelElements = 1 << 20;

}  // namespace

int64_t TensorView::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::Status ConvertToFloat(const TensorView& view, float* out) {
  const int64_t n = view.NumElements();
  if (static_cast<size_t>(n) * DTypeSize(view.dtype) != view.nbytes) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", view.name, ": byte size does not match shape"));
  }
  switch (view.dtype) {
    case DType::kF32:
      std::memcpy(out, view.data, view.nbytes);
      return absl::OkStatus();
    case DType::kBF16:
#pragma omp parallel for simd if (n > kParallelElements)
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, view.data + 2 * i, 2);
        out[i] = Bf16ToFloat(h);
      }
      return absl::OkStatus();
    case DType::kF16:
#pragma omp parallel for if (n > kParallelElements)
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, view.data + 2 * i, 2);
        out[i] = F16ToFloat(h);
      }
      return absl::OkStatus();
    case DType::kF64:
      for (int64_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, view.data + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          fmt::format("tensor {} has dtype {}, expected a float type", view.name, DTypeName(view.dtype)));
  }
}

absl::Status ConvertToFloat(const TensorView& view, std::vector<float>* out) {
  out->resize(static_cast<size_t>(view.NumElements()));
  return ConvertToFloat(view, out->data());
}

std::vector<uint8_t> EncodeFloats(const float* values, size_t count, DType dtype) {
  std::vector<uint8_t> bytes(count * DTypeSize(dtype));
  switch (dtype) {
    case DType::kF32:
      std::memcpy(bytes.data(), values, bytes.size());
      break;
    case DType::kBF16: {
      uint16_t* out = reinterpret_cast<uint16_t*>(bytes.data());
#pragma omp parallel for simd if (count > kParallelElements)
      for (size_t i = 0; i < count; ++i) out[i] = FloatToBf16(values[i]);
      break;
    }
    case DType::kF16: {
      uint16_t* out = reinterpret_cast<uint16_t*>(bytes.data());
#pragma omp parallel for if (count > kParallelElements)
      for (size_t i = 0; i < count; ++i) out[i] = FloatToF16(values[i]);
      break;
    }
    case DType::kF64:
      for (size_t i = 0; i < count; ++i) {
        const double d = values[i];
        std::memcpy(bytes.data() + 8 * i, &d, 8);
      }
      break;
    default:
      bytes.clear();
  }
  return bytes;
}

}  // namespace transmla
