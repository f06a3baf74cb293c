#ifndef TRANSMLA_CORE_IO_TENSOR_H_
#define TRANSMLA_CORE_IO_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/io/dtype.h"

namespace transmla {

// A non-owning view of a stored tensor: row-major bytes of `dtype` with `shape`.
// Valid while the file (or buffer) it points into lives.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  int64_t NumElements() const;
};

// Converts any float-kind view (F32/F16/BF16/F64) to float32, appending nothing: `out` is resized
// to NumElements(). Fails with InvalidArgument for integer dtypes.
absl::Status ConvertToFloat(const TensorView& view, std::vector<float>* out);

// Same, into caller-owned memory of exactly NumElements() floats.
absl::Status ConvertToFloat(const TensorView& view, float* out);

// Encodes float32 values as `dtype` (F32/F16/BF16/F64) bytes, round-to-nearest-even.
std::vector<uint8_t> EncodeFloats(const float* values, size_t count, DType dtype);

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_TENSOR_H_
