#include "core/engine/cpu/cpu_block_runner.h"

#include <memory>
#include <vector>

#include "core/engine/cpu/decoder_layer.h"
#include "core/engine/cpu/kv_cache.h"
#include "core/util/status_macros.h"

namespace transmla::cpu {

absl::StatusOr<Mat> CpuBlockRunner::Run(const ModelConfig& config, const TensorStore& block_store, int64_t index,
                                        const Mat& hidden, absl::Span<const SequenceSlice> slices) {
  RETURN_IF_ERROR(CheckBlockSlices(slices, hidden.rows()));
  ASSIGN_OR_RETURN(std::unique_ptr<DecoderLayer> layer,
                   DecoderLayer::Load(config, block_store, index, /*absorbed_mla=*/true, &mlp_cache_));
  // A one-layer cache per sequence, unlimited budget: Reserve cannot fail.
  auto budget = std::make_shared<KvBudget>(0);
  std::vector<std::unique_ptr<KvCache>> caches;
  std::vector<SequenceSlice> fresh(slices.begin(), slices.end());
  for (SequenceSlice& s : fresh) {
    caches.push_back(std::make_unique<KvCache>(1, layer->values_per_token(), budget));
    (void)caches.back()->Reserve(s.count);
    s.cache = caches.back().get();
    s.start_position = 0;
  }
  Mat out = hidden;
  layer->Forward(0, fresh, &out);
  return out;
}

}  // namespace transmla::cpu
