#ifndef TRANSMLA_SERVER_COMMON_PATH_GUARD_H_
#define TRANSMLA_SERVER_COMMON_PATH_GUARD_H_

#include <filesystem>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace transmla::server {

// Confines paths named in requests to a set of configured root directories. Roots are resolved
// once (realpath), and every request path is resolved through its symlinks before the check, so a
// link inside a root that points outside it is refused like an absolute path elsewhere.
//
// Codes (documented in the .proto):
//   INVALID_ARGUMENT   empty path, NUL byte, over 4096 bytes, or a ".." component (refused whatever
//                      it would point at, so "a/../b" is refused too: callers never need it).
//   PERMISSION_DENIED  an absolute path outside every root, or a path whose resolution (symlinks)
//                      leaves the roots.
//   NOT_FOUND          a path inside a root that does not exist.
// Messages name the request field and the path as given, never the server's root layout.
class PathGuard {
 public:
  // Fails with InvalidArgument when there is no root or a root is not an existing directory.
  static absl::StatusOr<PathGuard> Create(const std::vector<std::filesystem::path>& roots);

  // Resolves `requested` (absolute, or relative to the roots, tried in order) to the canonical
  // path of an existing file or directory inside a root. `field` names the request field.
  absl::StatusOr<std::filesystem::path> Resolve(std::string_view field, std::string_view requested) const;

  const std::vector<std::filesystem::path>& roots() const { return roots_; }

 private:
  explicit PathGuard(std::vector<std::filesystem::path> roots) : roots_(std::move(roots)) {}

  std::vector<std::filesystem::path> roots_;  // canonical
};

// True when `path` is `root` or lies below it; both must be lexically normal (canonical) paths.
bool IsWithin(const std::filesystem::path& path, const std::filesystem::path& root);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_COMMON_PATH_GUARD_H_
