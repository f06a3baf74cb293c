#ifndef TRANSMLA_SERVER_CONVERSION_ARTIFACTS_H_
#define TRANSMLA_SERVER_CONVERSION_ARTIFACTS_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/conversion/job_store.h"

namespace transmla::server {

// Largest ArtifactChunk payload: well under gRPC's 4 MiB default message limit.
constexpr int64_t kMaxArtifactChunkBytes = int64_t{1} << 20;

// Every regular file below `folder` (recursively), path relative to it, with size and sha256,
// sorted by path. Symlinks are refused (Internal): a published output never contains any.
absl::StatusOr<std::vector<ArtifactRecord>> DescribeOutputFolder(const std::filesystem::path& folder);

// Reads up to `max_bytes` of `path` from `offset`. Returns fewer bytes only at the end of the file.
absl::StatusOr<std::string> ReadFileRange(const std::filesystem::path& path, int64_t offset, int64_t max_bytes);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_CONVERSION_ARTIFACTS_H_
