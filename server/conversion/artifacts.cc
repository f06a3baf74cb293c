#include "server/conversion/artifacts.h"

#include <algorithm>
#include <fstream>

#include "fmt/format.h"
#include "server/common/file_digest.h"

namespace transmla::server {
namespace fs = std::filesystem;

absl::StatusOr<std::vector<ArtifactRecord>> DescribeOutputFolder(const fs::path& folder) {
  std::vector<ArtifactRecord> artifacts;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::file_status status = it->symlink_status(ec);
    if (fs::is_directory(status)) continue;
    if (!fs::is_regular_file(status)) {
      return absl::InternalError(fmt::format("output {} holds a non-regular file {}", folder.string(), it->path().string()));
    }
    absl::StatusOr<std::string> digest = Sha256OfFile(it->path());
    if (!digest.ok()) return digest.status();
    artifacts.push_back({it->path().lexically_relative(folder).string(), static_cast<int64_t>(fs::file_size(it->path())),
                         *digest});
  }
  if (ec) return absl::InternalError(fmt::format("cannot list {}: {}", folder.string(), ec.message()));
  std::sort(artifacts.begin(), artifacts.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return artifacts;
}

absl::StatusOr<std::string> ReadFileRange(const fs::path& path, int64_t offset, int64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("cannot open {}", path.filename().string()));
  in.seekg(offset);
  std::string data(static_cast<size_t>(max_bytes), '\0');
  in.read(data.data(), max_bytes);
  if (in.bad()) return absl::DataLossError(fmt::format("read error in {}", path.filename().string()));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

}  // namespace transmla::server
