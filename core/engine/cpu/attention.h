#ifndef TRANSMLA_CORE_ENGINE_CPU_ATTENTION_H_
#define TRANSMLA_CORE_ENGINE_CPU_ATTENTION_H_

#include <cstdint>

#include "absl/types/span.h"
#include "core/engine/cpu/kv_cache.h"
#include "core/engine/cpu/ops.h"

namespace transmla::cpu {

// The rows of a batched activation matrix that belong to one sequence: rows row_begin ...
// row_begin + count - 1 are its new tokens at positions start_position ..., and its cache has
// room reserved for them.
struct SequenceSlice {
  KvCache* cache = nullptr;
  int64_t row_begin = 0;
  int64_t count = 0;
  int64_t start_position = 0;
};

// One layer's attention block (projections, RoPE, cache write, attention, output projection).
class Attention {
 public:
  virtual ~Attention() = default;
  // Floats per cached position this layer stores.
  virtual int64_t values_per_token() const = 0;
  virtual int64_t num_parameters() const = 0;
  // `normed` is the layer input after its RMSNorm, [tokens x hidden]; `out` receives the block's
  // output [tokens x hidden]. Writes this layer's cache rows for the new positions.
  virtual void Forward(int64_t layer, const Mat& normed, absl::Span<const SequenceSlice> slices, Mat* out) const = 0;
};

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_ATTENTION_H_
