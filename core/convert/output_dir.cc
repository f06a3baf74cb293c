#include "core/convert/output_dir.h"

#include <unistd.h>

#include "fmt/format.h"

namespace transmla::convert {

absl::StatusOr<StagedDirectory> StagedDirectory::Create(const std::filesystem::path& destination, bool replace) {
  std::error_code ec;
  const std::filesystem::path dest = std::filesystem::absolute(destination, ec);
  if (std::filesystem::exists(dest, ec) && !replace) {
    return absl::AlreadyExistsError(
        fmt::format("output directory {} already exists (use --force to replace it)", dest.string()));
  }
  if (!std::filesystem::is_directory(dest.parent_path(), ec)) {
    return absl::NotFoundError(fmt::format("parent of the output directory does not exist: {}",
                                           dest.parent_path().string()));
  }
  const std::filesystem::path staging =
      dest.parent_path() / fmt::format(".{}.partial-{}", dest.filename().string(), ::getpid());
  std::filesystem::remove_all(staging, ec);
  if (!std::filesystem::create_directory(staging, ec)) {
    return absl::PermissionDeniedError(fmt::format("cannot create {}: {}", staging.string(), ec.message()));
  }
  return StagedDirectory(dest, staging, replace);
}

StagedDirectory::StagedDirectory(StagedDirectory&& other) noexcept
    : destination_(std::move(other.destination_)),
      staging_(std::move(other.staging_)),
      replace_(other.replace_),
      published_(other.published_) {
  other.published_ = true;  // the moved-from object owns nothing
}

StagedDirectory::~StagedDirectory() {
  if (published_) return;
  std::error_code ec;
  std::filesystem::remove_all(staging_, ec);
}

absl::Status StagedDirectory::Publish() {
  std::error_code ec;
  std::filesystem::path old;
  if (std::filesystem::exists(destination_, ec)) {
    if (!replace_) return absl::AlreadyExistsError(fmt::format("{} appeared meanwhile", destination_.string()));
    old = destination_.parent_path() / fmt::format(".{}.old-{}", destination_.filename().string(), ::getpid());
    std::filesystem::rename(destination_, old, ec);
    if (ec) return absl::InternalError(fmt::format("cannot move aside {}: {}", destination_.string(), ec.message()));
  }
  std::filesystem::rename(staging_, destination_, ec);
  if (ec) return absl::InternalError(fmt::format("cannot publish {}: {}", destination_.string(), ec.message()));
  published_ = true;
  if (!old.empty()) std::filesystem::remove_all(old, ec);
  return absl::OkStatus();
}

}  // namespace transmla::convert
