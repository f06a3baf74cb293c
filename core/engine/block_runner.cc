#include "core/engine/block_runner.h"

#include "fmt/format.h"

namespace transmla {

absl::Status CheckBlockSlices(absl::Span<const cpu::SequenceSlice> slices, int64_t rows) {
  int64_t next = 0;
  for (size_t i = 0; i < slices.size(); ++i) {
    if (slices[i].row_begin != next || slices[i].count < 1) {
      return absl::InvalidArgumentError(fmt::format("slice {} has rows [{}, +{}) where row {} comes next", i,
                                                    slices[i].row_begin, slices[i].count, next));
    }
    next += slices[i].count;
  }
  if (next != rows) return absl::InvalidArgumentError(fmt::format("the slices cover {} of {} rows", next, rows));
  return absl::OkStatus();
}

}  // namespace transmla
