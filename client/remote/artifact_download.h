#ifndef TRANSMLA_CLIENT_REMOTE_ARTIFACT_DOWNLOAD_H_
#define TRANSMLA_CLIENT_REMOTE_ARTIFACT_DOWNLOAD_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "client/remote/conversion_connection.h"

namespace transmla::cli {

struct DownloadSummary {
  int64_t files = 0;
  int64_t bytes_fetched = 0;   // bytes received in this run
  int64_t bytes_resumed = 0;   // bytes kept from an earlier, interrupted run
  int64_t files_present = 0;   // files already complete (same size and sha256)
};

// Downloads every artifact of a SUCCEEDED job into `out`. Resumable: a file arrives as
// `<name>.part` and is renamed only once its sha256 matches the server's; a later run continues
// each `.part` from its size (and restarts a file whose resumed bytes do not verify). `out` must be
// new or empty, or a folder an earlier download of the same job left (a `.transmla_download`
// marker names the job); `replace` empties any other folder first.
absl::StatusOr<DownloadSummary> DownloadArtifacts(ConversionConnection& connection, const std::string& job_id,
                                                  const std::filesystem::path& out, bool replace);

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_REMOTE_ARTIFACT_DOWNLOAD_H_
