#include "core/convert/calibration_device.h"

#include "core/engine/cpu/cpu_block_runner.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::convert {
namespace {

// Why `gpu` cannot run `config`'s blocks; empty when it can.
std::string GpuUnusable(const GpuBackend* gpu, const ModelConfig& config) {
  if (gpu == nullptr) {
    return "this program has no GPU backend (built without nvcc, TRANSMLA_WITH_CUDA=OFF, or a binary that does not "
           "link it)";
  }
  if (!gpu->create_block_runner) return fmt::format("the {} backend cannot run single blocks", gpu->name);
  std::string why;
  if (!gpu->available(&why)) return fmt::format("no {} device: {}", gpu->name, why);
  if (!gpu->supports(config)) return fmt::format("the {} backend does not run model_type {}", gpu->name, config.model_type);
  return "";
}

}  // namespace

absl::Status CheckCalibrationDevice(const std::string& device, const ModelConfig& config, const GpuBackend* gpu) {
  if (device != "auto" && device != "cpu" && device != "cuda") {
    return absl::InvalidArgumentError(fmt::format("calibration device must be auto, cpu or cuda, got \"{}\"", device));
  }
  if (device == "cuda") {
    if (const std::string why = GpuUnusable(gpu, config); !why.empty()) {
      return absl::FailedPreconditionError(fmt::format("calibration device cuda: {}", why));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BlockRunner>> MakeBlockRunner(const std::string& device, const ModelConfig& config,
                                                             const GpuBackend* gpu) {
  RETURN_IF_ERROR(CheckCalibrationDevice(device, config, gpu));
  if (device == "cuda" || (device == "auto" && GpuUnusable(gpu, config).empty())) return gpu->create_block_runner();
  return std::unique_ptr<BlockRunner>(std::make_unique<cpu::CpuBlockRunner>());
}

}  // namespace transmla::convert
