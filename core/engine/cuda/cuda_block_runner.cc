#include "core/engine/cuda/cuda_block_runner.h"

#include <string>
#include <vector>

#include "core/engine/cuda/cuda_eigen.h"
#include "core/engine/cuda/cuda_engine.h"
#include "core/engine/cuda/cuda_model.h"
#include "core/engine/cuda/cuda_refit.h"
#include "core/engine/cuda/cuda_status.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cuda {
namespace {

// Rows per step: bounds the activations' scratch (about 2 GB at Llama-3-8B's width) while keeping
// the GEMMs large. A longer sequence runs alone.
constexpr int64_t kMaxStepRows = 8192;

class CudaBlockRunner : public BlockRunner {
 public:
  explicit CudaBlockRunner(std::string device) : device_(std::move(device)) {}

  absl::StatusOr<cpu::Mat> Run(const ModelConfig& config, const TensorStore& block_store, int64_t index,
                               const cpu::Mat& hidden, absl::Span<const cpu::SequenceSlice> slices) override {
    RETURN_IF_ERROR(CheckBlockSlices(slices, hidden.rows()));
    if (hidden.cols() != config.hidden_size) {
      return absl::InvalidArgumentError(
          fmt::format("hidden states of width {} for hidden_size {}", hidden.cols(), config.hidden_size));
    }
    RETURN_IF_ERROR(CheckCudaShape(config, GpuType::kF32));
    CudaEngine engine(config, GpuType::kF32, /*max_kv_bytes=*/0);
    RETURN_IF_ERROR(engine.LoadBlock(block_store, index));
    cpu::Mat out(hidden.rows(), hidden.cols());
    for (size_t first = 0; first < slices.size();) {
      std::vector<int64_t> counts;
      int64_t rows = 0;
      size_t end = first;
      for (; end < slices.size() && (counts.empty() || rows + slices[end].count <= kMaxStepRows); ++end) {
        counts.push_back(slices[end].count);
        rows += slices[end].count;
      }
      const int64_t offset = slices[first].row_begin * hidden.cols();
      RETURN_IF_ERROR(engine.RunBlock(hidden.data() + offset, counts, out.data() + offset));
      first = end;
    }
    return out;
  }

  std::string device() const override { return device_; }

  absl::StatusOr<RefitSums> AccumulateRefit(const RefitProblem& problem) override { return refit_.Accumulate(problem); }
  absl::Status DecomposeSymmetric(const Eigen::MatrixXd& a, Eigen::VectorXd* values,
                                  Eigen::MatrixXd* vectors) override {
    return eigen_.Decompose(a, values, vectors);
  }

 private:
  const std::string device_;
  GpuRefit refit_;
  GpuSymmetricEigen eigen_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BlockRunner>> CreateCudaBlockRunner() {
  std::string why;
  if (!CudaDeviceAvailable(&why)) return absl::FailedPreconditionError(fmt::format("no CUDA device: {}", why));
  int device = 0;
  CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  cudaDeviceProp properties{};
  CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&properties, device));
  return std::unique_ptr<BlockRunner>(
      std::make_unique<CudaBlockRunner>(fmt::format("cuda:{} {}", device, properties.name)));
}

}  // namespace transmla::cuda
