#include "core/engine/cpu/weight_loader.h"

#include "core/util/status_macros.h"

namespace transmla::cpu {

absl::StatusOr<Mat> LoadMatrix(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols) {
  ASSIGN_OR_RETURN(TensorView view, store.Get(name, {rows, cols}));
  Mat m(rows, cols);
  RETURN_IF_ERROR(ConvertToFloat(view, m.data()));
  return m;
}

absl::StatusOr<Vec> LoadVector(const TensorStore& store, const std::string& name, int64_t size) {
  ASSIGN_OR_RETURN(TensorView view, store.Get(name, {size}));
  Vec v(size);
  RETURN_IF_ERROR(ConvertToFloat(view, v.data()));
  return v;
}

}  // namespace transmla::cpu
