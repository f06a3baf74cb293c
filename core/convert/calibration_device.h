#ifndef TRANSMLA_CORE_CONVERT_CALIBRATION_DEVICE_H_
#define TRANSMLA_CORE_CONVERT_CALIBRATION_DEVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/engine/block_runner.h"
#include "core/engine/gpu_backend.h"
#include "core/io/hf_config.h"

namespace transmla::convert {

// Checks where calibration is asked to run `config`'s blocks: "cpu", "cuda", or "auto" (always
// fine: the GPU when it can, else the CPU). InvalidArgument for any other name; FailedPrecondition
// saying why for "cuda" when `gpu` (the registered backend, or null) cannot run them: no backend
// in this program, no device, or an architecture it does not run.
absl::Status CheckCalibrationDevice(const std::string& device, const ModelConfig& config, const GpuBackend* gpu);

// The block runner for `device` after CheckCalibrationDevice: "auto" takes the GPU when `gpu` is
// registered, has a device and runs `config`'s architecture, and the CPU otherwise.
absl::StatusOr<std::unique_ptr<BlockRunner>> MakeBlockRunner(const std::string& device, const ModelConfig& config,
                                                             const GpuBackend* gpu);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_CALIBRATION_DEVICE_H_
