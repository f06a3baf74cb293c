#include "core/util/file_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "fmt/format.h"

namespace transmla {

absl::Status IoError(const std::string& what, const std::filesystem::path& path, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(fmt::format("disk full while {} {}", what, path.string()));
  }
  return absl::UnavailableError(fmt::format("error while {} {}: {}", what, path.string(), std::strerror(err)));
}

absl::Status WriteAll(int fd, const void* bytes, size_t size, off_t offset, const std::filesystem::path& path) {
  const auto* p = static_cast<const uint8_t*>(bytes);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, p, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("writing", path, errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return absl::OkStatus();
}

}  // namespace transmla
