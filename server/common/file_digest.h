#ifndef TRANSMLA_SERVER_COMMON_FILE_DIGEST_H_
#define TRANSMLA_SERVER_COMMON_FILE_DIGEST_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace transmla::server {

// Lowercase hex SHA-256 of a whole file, read in 1 MiB blocks (constant memory for any size).
// Fails with NotFound when the file cannot be opened, DataLoss on a read error.
absl::StatusOr<std::string> Sha256OfFile(const std::filesystem::path& path);

// Lowercase hex SHA-256 of a byte string.
std::string Sha256OfBytes(std::string_view bytes);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_COMMON_FILE_DIGEST_H_
