#include "server/common/path_guard.h"

#include "fmt/format.h"

namespace transmla::server {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxPathBytes = 4096;  // PATH_MAX on Linux

absl::Status CheckSyntax(std::string_view field, std::string_view requested) {
  if (requested.empty()) return absl::InvalidArgumentError(fmt::format("{} is empty", field));
  if (requested.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(fmt::format("{} is longer than {} bytes", field, kMaxPathBytes));
  }
  if (requested.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("{} contains a NUL byte", field));
  }
  for (const fs::path& part : fs::path(std::string(requested))) {
    if (part == "..") {
      return absl::InvalidArgumentError(fmt::format("{} must not contain \"..\" components: \"{}\"", field, requested));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsWithin(const fs::path& path, const fs::path& root) {
  const fs::path rel = path.lexically_relative(root);
  if (rel.empty()) return false;  // different roots (or one relative, one absolute)
  return *rel.begin() != "..";
}

absl::StatusOr<PathGuard> PathGuard::Create(const std::vector<fs::path>& roots) {
  if (roots.empty()) return absl::InvalidArgumentError("no root directory configured");
  std::vector<fs::path> canonical;
  for (const fs::path& root : roots) {
    std::error_code ec;
    fs::path resolved = fs::canonical(root, ec);
    if (ec || !fs::is_directory(resolved, ec)) {
      return absl::InvalidArgumentError(fmt::format("root {} is not an existing directory", root.string()));
    }
    canonical.push_back(std::move(resolved));
  }
  return PathGuard(std::move(canonical));
}

absl::StatusOr<fs::path> PathGuard::Resolve(std::string_view field, std::string_view requested) const {
  if (absl::Status s = CheckSyntax(field, requested); !s.ok()) return s;
  const fs::path given = fs::path(std::string(requested)).lexically_normal();
  std::vector<fs::path> candidates;
  if (given.is_absolute()) {
    // Refuse absolute paths outside the roots before touching the file system, so the reply says
    // nothing about what exists there.
    for (const fs::path& root : roots_) {
      if (IsWithin(given, root)) candidates.push_back(given);
    }
    if (candidates.empty()) {
      return absl::PermissionDeniedError(fmt::format("{} \"{}\" is outside the allowed roots", field, requested));
    }
  } else {
    for (const fs::path& root : roots_) candidates.push_back(root / given);
  }
  for (const fs::path& candidate : candidates) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(candidate, ec))) continue;
    const fs::path resolved = fs::canonical(candidate, ec);
    if (ec) {
      // A dangling link or a loop: it names something, but nothing inside the roots.
      return absl::PermissionDeniedError(fmt::format("{} \"{}\" does not resolve inside the allowed roots", field, requested));
    }
    for (const fs::path& root : roots_) {
      if (IsWithin(resolved, root)) return resolved;
    }
    return absl::PermissionDeniedError(
        fmt::format("{} \"{}\" resolves (through a symlink) outside the allowed roots", field, requested));
  }
  return absl::NotFoundError(fmt::format("{} \"{}\" does not exist", field, requested));
}

}  // namespace transmla::server
