#ifndef TRANSMLA_CORE_IO_HALF_RANGE_H_
#define TRANSMLA_CORE_IO_HALF_RANGE_H_

#include "absl/status/status.h"
#include "core/io/tensor.h"

namespace transmla {

// Whether a float tensor keeps its values in IEEE half precision (FP16): none beyond its largest
// finite value (65504), and at most one in a thousand of its nonzero values below its smallest
// subnormal (2^-24), where they become zero. InvalidArgument naming the tensor and the offending
// values otherwise. TransMLA's stock-norm fold is such a case: it scales kv_a's latent rows by
// ~1e-8, which BF16 holds and FP16 flushes to zero.
absl::Status CheckFitsHalfPrecision(const TensorView& view);

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_HALF_RANGE_H_
