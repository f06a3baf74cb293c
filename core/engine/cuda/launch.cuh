// Kernel launches chained with programmatic dependent launch (sm_90): a step is a few hundred
// short kernels, and at batch 1 most of them read a few megabytes. Chained, the next kernel is
// launched ahead and its blocks start as soon as this one's blocks have exited, instead of after a
// launch gap. Every kernel started by Launch() must call WaitForPreviousKernel() before it touches
// memory that an earlier kernel of the stream writes. H200, 4-layer 8B-wide models, against the same
// binary unchained: +0.5% to +6% in every decode cell of GQA and MLA (batch 1, 8, 32 at 1K and 8K).
// Letting the next kernel start while this one's blocks still ran (griddepcontrol.launch_dependents)
// lost 7-10% at GQA's batch 1 and 8 (eighth session); with coherent loads it ranged from -4% to +1.5%
// (sixteenth). A kernel launched that early must not read its predecessor's output with __ldg.
#ifndef TRANSMLA_CORE_ENGINE_CUDA_LAUNCH_CUH_
#define TRANSMLA_CORE_ENGINE_CUDA_LAUNCH_CUH_

#include <cuda_runtime.h>

namespace transmla::cuda {

// Waits until the previous kernel of the stream has finished and its writes are visible.
__device__ __forceinline__ void WaitForPreviousKernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Whether the current device can chain launches (compute capability 9.0 and later; a build for an
// older architecture, CMAKE_CUDA_ARCHITECTURES=80 say, launches plainly there).
inline bool DeviceChainsLaunches() {
  thread_local int cached_device = -1;
  thread_local bool chains = false;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return false;
  if (device != cached_device) {
    int major = 0;
    chains = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess && major >= 9;
    cached_device = device;
  }
  return chains;
}

// A launch configuration that allows the chaining; build it in place (it points at its attribute).
struct ChainedLaunch {
  cudaLaunchConfig_t config{};
  cudaLaunchAttribute attribute{};
  ChainedLaunch(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream) {
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = shared_bytes;
    config.stream = stream;
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    config.attrs = &attribute;
    config.numAttrs = DeviceChainsLaunches() ? 1 : 0;
  }
};

// Errors surface at the caller's next cudaGetLastError(), as with <<<...>>>.
template <typename... Params, typename... Args>
void Launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  ChainedLaunch launch(grid, block, shared_bytes, stream);
  cudaLaunchKernelEx(&launch.config, kernel, static_cast<Params>(args)...);
}

// The same for a kernel chosen at run time (`params` as for cudaLaunchKernel).
inline cudaError_t LaunchChosen(const void* kernel, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
                                void** params) {
  ChainedLaunch launch(grid, block, shared_bytes, stream);
  return cudaLaunchKernelExC(&launch.config, kernel, params);
}

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_LAUNCH_CUH_
