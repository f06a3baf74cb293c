#include "core/engine/cpu/mlp_weights.h"

#include "core/util/fingerprint.h"
#include "core/util/status_macros.h"

namespace transmla::cpu {
namespace {

struct Part {
  const char* name;
  Mat MlpWeights::*matrix;
  bool transposed;  // [d x ff] rather than [ff x d]
};
constexpr Part kParts[] = {{"mlp.gate_proj.weight", &MlpWeights::gate, false},
                           {"mlp.up_proj.weight", &MlpWeights::up, false},
                           {"mlp.down_proj.weight", &MlpWeights::down, true}};

// Converts the three tensors into `w`'s matrices, reusing their storage where the shapes match.
absl::Status LoadInto(const TensorStore& store, const std::string& prefix, int64_t ff, int64_t d, MlpWeights* w) {
  for (const Part& part : kParts) {
    const int64_t rows = part.transposed ? d : ff, cols = part.transposed ? ff : d;
    ASSIGN_OR_RETURN(const TensorView view, store.Get(prefix + part.name, {rows, cols}));
    Mat& m = w->*part.matrix;
    m.resize(rows, cols);
    RETURN_IF_ERROR(ConvertToFloat(view, m.data()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const MlpWeights>> LoadMlp(const TensorStore& store, const std::string& prefix,
                                                          int64_t ff, int64_t d) {
  auto w = std::make_shared<MlpWeights>();
  RETURN_IF_ERROR(LoadInto(store, prefix, ff, d, w.get()));
  return w;
}

absl::StatusOr<std::shared_ptr<const MlpWeights>> MlpCache::Load(const TensorStore& store, const std::string& prefix,
                                                                 int64_t ff, int64_t d) {
  std::vector<Key> keys;
  for (const Part& part : kParts) {
    ASSIGN_OR_RETURN(const TensorView view, store.Get(prefix + part.name));
    keys.push_back({prefix + part.name, view.dtype, view.shape, Fingerprint(view.data, view.nbytes)});
  }
  if (weights_ != nullptr && keys == keys_) {
    ++hits_;
    return std::shared_ptr<const MlpWeights>(weights_);
  }
  // A layer still holding the old weights keeps them; else their buffers take the new ones.
  if (weights_ == nullptr || weights_.use_count() > 1) weights_ = std::make_shared<MlpWeights>();
  keys_.clear();
  if (absl::Status loaded = LoadInto(store, prefix, ff, d, weights_.get()); !loaded.ok()) {
    weights_.reset();
    return loaded;
  }
  keys_ = std::move(keys);
  return std::shared_ptr<const MlpWeights>(weights_);
}

}  // namespace transmla::cpu
