#ifndef TRANSMLA_CORE_UTIL_FILE_IO_H_
#define TRANSMLA_CORE_UTIL_FILE_IO_H_

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>

#include "absl/status/status.h"

namespace transmla {

// The Status for an OS error `err` while doing `what` ("writing", "renaming"...) to `path`:
// ResourceExhausted("disk full ...") for ENOSPC/EDQUOT, Unavailable with strerror otherwise.
absl::Status IoError(const std::string& what, const std::filesystem::path& path, int err);

// pwrite()s all of [bytes, bytes + size) at `offset`, retrying short writes and EINTR.
absl::Status WriteAll(int fd, const void* bytes, size_t size, off_t offset, const std::filesystem::path& path);

}  // namespace transmla

#endif  // TRANSMLA_CORE_UTIL_FILE_IO_H_
