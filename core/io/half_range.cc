#include "core/io/half_range.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {

absl::Status CheckFitsHalfPrecision(const TensorView& view) {
  constexpr float kLargest = 65504.0f, kSmallest = 5.9604645e-8f;  // 2^-24
  constexpr int64_t kChunk = 1 << 20;
  const int64_t count = view.NumElements();
  const size_t element = DTypeSize(view.dtype);
  std::vector<float> values;
  float largest = 0;
  int64_t nonzero = 0, vanishing = 0;
  for (int64_t first = 0; first < count; first += kChunk) {
    TensorView chunk = view;
    chunk.shape = {std::min(kChunk, count - first)};
    chunk.data = view.data + static_cast<size_t>(first) * element;
    chunk.nbytes = static_cast<size_t>(chunk.shape[0]) * element;
    RETURN_IF_ERROR(ConvertToFloat(chunk, &values));
    for (const float v : values) {
      const float magnitude = std::abs(v);
      largest = std::max(largest, magnitude);
      nonzero += magnitude > 0;
      vanishing += magnitude > 0 && magnitude < kSmallest;
    }
  }
  if (largest > kLargest) {
    return absl::InvalidArgumentError(
        fmt::format("{} holds {:g}, beyond FP16's largest value (65504)", view.name, largest));
  }
  if (vanishing * 1000 > nonzero) {
    return absl::InvalidArgumentError(fmt::format(
        "{} has {} of its {} nonzero values below FP16's smallest (2^-24), which would become zero", view.name,
        vanishing, nonzero));
  }
  return absl::OkStatus();
}

}  // namespace transmla
