#ifndef TRANSMLA_CORE_ENGINE_GPU_BACKEND_H_
#define TRANSMLA_CORE_ENGINE_GPU_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/engine/block_runner.h"
#include "core/engine/engine.h"
#include "core/engine/engine_options.h"
#include "core/io/tensor_store.h"

namespace transmla {

// A GPU engine that a binary links in and registers at start (the CUDA backend does, in
// core/engine/cuda). Kept out of the core library so that binaries without it do not load the
// CUDA libraries (cuBLAS's large static TLS does not fit small thread stacks, such as those of
// prometheus-cpp's civetweb server, which the services' metrics endpoint therefore does not use).
struct GpuBackend {
  std::string name;  // "cuda"
  std::function<bool(std::string* why)> available;
  std::function<bool(const ModelConfig&)> supports;
  std::function<absl::StatusOr<std::unique_ptr<Engine>>(const ModelConfig&, const TensorStore&, const EngineOptions&)>
      create;
  // Calibration's block runner on the device (float32, for accuracy).
  std::function<absl::StatusOr<std::unique_ptr<BlockRunner>>()> create_block_runner;
};

void RegisterGpuBackend(GpuBackend backend);
// The registered backend, or null.
const GpuBackend* RegisteredGpuBackend();

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_GPU_BACKEND_H_
