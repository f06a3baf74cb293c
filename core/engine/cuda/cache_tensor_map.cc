#include "core/engine/cuda/cache_tensor_map.h"

#include <cuda.h>
#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/engine/cuda/cuda_status.h"
#include "core/util/status_macros.h"

namespace transmla::cuda {
namespace {

static_assert(sizeof(CUtensorMap) == sizeof(CacheTensorMap) && alignof(CUtensorMap) <= alignof(CacheTensorMap));

// The driver's encoder, found through the runtime so that nothing links libcuda directly.
absl::StatusOr<PFN_cuTensorMapEncodeTiled_v12000> Encoder() {
  static void* encoder = nullptr;
  static cudaError_t error = [] {
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    const cudaError_t e =
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &encoder, 12000, cudaEnableDefault, &found);
    return e == cudaSuccess && found != cudaDriverEntryPointSuccess ? cudaErrorSymbolNotFound : e;
  }();
  if (error != cudaSuccess) return FromCuda(error, "cudaGetDriverEntryPointByVersion(cuTensorMapEncodeTiled)");
  return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(encoder);
}

}  // namespace

absl::StatusOr<CacheTensorMap> EncodeCacheTensorMap(const void* cache, int64_t positions, int64_t token_stride,
                                                    GpuType type) {
  if (type != GpuType::kBF16 && type != GpuType::kF16) {
    return absl::InvalidArgumentError("cache tensor maps are for 16-bit caches");
  }
  ASSIGN_OR_RETURN(const PFN_cuTensorMapEncodeTiled_v12000 encode, Encoder());
  CUtensorMap map;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(token_stride), static_cast<cuuint64_t>(positions)};
  const cuuint64_t row_bytes[1] = {static_cast<cuuint64_t>(token_stride * 2)};
  const cuuint32_t box[2] = {kCacheTileValues, kCacheTilePositions};
  const cuuint32_t element_strides[2] = {1, 1};
  const CUresult result = encode(
      &map, type == GpuType::kBF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2,
      const_cast<void*>(cache), dims, row_bytes, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
      CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (result != CUDA_SUCCESS) {
    return absl::InternalError(absl::StrCat("cuTensorMapEncodeTiled failed (CUresult ", static_cast<int>(result),
                                            ") for a cache of ", positions, " x ", token_stride));
  }
  CacheTensorMap out;
  std::memcpy(out.bytes, &map, sizeof(map));
  return out;
}

absl::StatusOr<CacheTensorMap> CacheTensorMaps::Get(const void* cache, int64_t positions, int64_t token_stride,
                                                    GpuType type) {
  const Key key{cache, positions, token_stride, type};
  if (auto it = maps_.find(key); it != maps_.end()) return it->second;
  // Freed caches leave stale keys behind (harmless: a map depends only on its key); bound them.
  if (maps_.size() >= 1 << 16) maps_.clear();
  ASSIGN_OR_RETURN(const CacheTensorMap map, EncodeCacheTensorMap(cache, positions, token_stride, type));
  maps_.emplace(key, map);
  return map;
}

absl::Status CacheMapTable::Update(absl::Span<void* const> caches, absl::Span<const int64_t> capacities,
                                  int64_t token_stride, GpuType type) {
  if (caches == absl::MakeConstSpan(caches_) && capacities == absl::MakeConstSpan(capacities_) &&
      token_stride == token_stride_ && type == type_) {
    return absl::OkStatus();
  }
  caches_.clear();
  capacities_.clear();  // a failed update leaves no table that looks current
  const size_t slices = capacities.size();
  if (slices == 0 || caches.size() % slices != 0) {
    return absl::InvalidArgumentError(absl::StrCat(caches.size(), " caches for ", slices, " slices"));
  }
  std::vector<CacheTensorMap> maps;
  maps.reserve(caches.size());
  for (size_t i = 0; i < caches.size(); ++i) {
    ASSIGN_OR_RETURN(maps.emplace_back(), encoded_.Get(caches[i], capacities[i % slices], token_stride, type));
  }
  RETURN_IF_ERROR(table_.Upload(maps.data(), maps.size() * sizeof(CacheTensorMap)));
  caches_.assign(caches.begin(), caches.end());
  capacities_.assign(capacities.begin(), capacities.end());
  token_stride_ = token_stride;
  type_ = type;
  ++uploads_;
  return absl::OkStatus();
}

}  // namespace transmla::cuda
