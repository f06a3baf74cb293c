#include "core/engine/gpu_backend.h"

namespace transmla {
namespace {

std::unique_ptr<GpuBackend>& Slot() {
  static std::unique_ptr<GpuBackend> backend;
  return backend;
}

}  // namespace

void RegisterGpuBackend(GpuBackend backend) { Slot() = std::make_unique<GpuBackend>(std::move(backend)); }

const GpuBackend* RegisteredGpuBackend() { return Slot().get(); }

}  // namespace transmla
