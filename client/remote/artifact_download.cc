#include "client/remote/artifact_download.h"

#include <fstream>

#include "client/progress_bar.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"
#include "server/common/file_digest.h"

namespace transmla::cli {
namespace {

namespace fs = std::filesystem;
namespace v1 = transmla::v1;

constexpr char kMarker[] = ".transmla_download";

absl::Status PrepareFolder(const fs::path& out, const std::string& job_id, bool replace) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
    std::ifstream marker(out / kMarker);
    std::string marked_job;
    const bool same_job = marker && std::getline(marker, marked_job) && marked_job == job_id;
    if (!same_job && !replace) {
      return absl::AlreadyExistsError(fmt::format(
          "{} exists and is not an interrupted download of job {} (use --force to replace it)", out.string(), job_id));
    }
    if (!same_job) fs::remove_all(out, ec);
  }
  fs::create_directories(out, ec);
  if (ec) return absl::PermissionDeniedError(fmt::format("cannot create {}: {}", out.string(), ec.message()));
  std::ofstream(out / kMarker) << job_id << "\n";
  return absl::OkStatus();
}

absl::StatusOr<fs::path> LocalPath(const fs::path& out, const std::string& artifact) {
  const fs::path relative(artifact);
  for (const fs::path& part : relative) {
    if (part == "..") return absl::DataLossError(fmt::format("server sent an artifact path outside the job: {}", artifact));
  }
  if (artifact.empty() || relative.is_absolute()) {
    return absl::DataLossError(fmt::format("server sent an invalid artifact path \"{}\"", artifact));
  }
  return out / relative;
}

// Appends the artifact from `part`'s current size to its end.
absl::Status FetchInto(ConversionConnection& connection, const std::string& job_id, const v1::Artifact& artifact,
                       const fs::path& part, ProgressBar& bar, int64_t* done, int64_t total, DownloadSummary* summary) {
  std::error_code ec;
  int64_t offset = fs::exists(part, ec) ? static_cast<int64_t>(fs::file_size(part, ec)) : 0;
  if (offset > artifact.size_bytes()) {
    fs::remove(part, ec);
    offset = 0;
  }
  summary->bytes_resumed += offset;
  *done += offset;
  if (offset == artifact.size_bytes()) return absl::OkStatus();
  std::ofstream file(part, std::ios::binary | std::ios::app);
  if (!file) return absl::PermissionDeniedError(fmt::format("cannot write {}", part.string()));
  v1::ReadArtifactRequest request;
  request.set_job_id(job_id);
  request.set_path(artifact.path());
  request.set_read_offset(offset);
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(connection.options, /*with_deadline=*/false);
  std::unique_ptr<grpc::ClientReader<v1::ArtifactChunk>> reader = connection.stub->ReadArtifact(context.get(), request);
  v1::ArtifactChunk chunk;
  while (reader->Read(&chunk)) {
    if (chunk.offset() != offset) {
      context->TryCancel();
      reader->Finish();
      return absl::DataLossError(fmt::format("{}: chunk at offset {} where {} was expected", artifact.path(),
                                             chunk.offset(), offset));
    }
    file.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    if (!file) return absl::ResourceExhaustedError(fmt::format("writing {} failed (disk full?)", part.string()));
    offset += static_cast<int64_t>(chunk.data().size());
    summary->bytes_fetched += static_cast<int64_t>(chunk.data().size());
    *done += static_cast<int64_t>(chunk.data().size());
    bar.Update(*done, total, artifact.path());
  }
  file.close();
  return FromGrpc(reader->Finish(), "ReadArtifact " + artifact.path());
}

absl::StatusOr<bool> IsComplete(const fs::path& path, const v1::Artifact& artifact) {
  std::error_code ec;
  if (!fs::exists(path, ec) || static_cast<int64_t>(fs::file_size(path, ec)) != artifact.size_bytes()) return false;
  ASSIGN_OR_RETURN(const std::string sha256, server::Sha256OfFile(path));
  return sha256 == artifact.sha256();
}

}  // namespace

absl::StatusOr<DownloadSummary> DownloadArtifacts(ConversionConnection& connection, const std::string& job_id,
                                                  const fs::path& out, bool replace) {
  v1::ListArtifactsRequest list_request;
  list_request.set_job_id(job_id);
  v1::ListArtifactsResponse listing;
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(connection.options);
  RETURN_IF_ERROR(FromGrpc(connection.stub->ListArtifacts(context.get(), list_request, &listing), "ListArtifacts"));
  RETURN_IF_ERROR(PrepareFolder(out, job_id, replace));
  DownloadSummary summary;
  ProgressBar bar("download");
  int64_t done = 0;
  for (const v1::Artifact& artifact : listing.artifacts()) {
    ASSIGN_OR_RETURN(const fs::path path, LocalPath(out, artifact.path()));
    ++summary.files;
    ASSIGN_OR_RETURN(const bool present, IsComplete(path, artifact));
    if (present) {
      ++summary.files_present;
      done += artifact.size_bytes();
      continue;
    }
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    const fs::path part = path.string() + ".part";
    const bool resumed = fs::exists(part, ec);
    const int64_t fetched_before = summary.bytes_fetched;
    RETURN_IF_ERROR(FetchInto(connection, job_id, artifact, part, bar, &done, listing.total_bytes(), &summary));
    ASSIGN_OR_RETURN(bool verified, IsComplete(part, artifact));
    if (!verified && resumed) {  // the kept bytes were not the server's: fetch the whole file once more
      const int64_t kept = artifact.size_bytes() - (summary.bytes_fetched - fetched_before);
      summary.bytes_resumed -= kept;
      fs::remove(part, ec);
      done -= artifact.size_bytes();
      RETURN_IF_ERROR(FetchInto(connection, job_id, artifact, part, bar, &done, listing.total_bytes(), &summary));
      ASSIGN_OR_RETURN(verified, IsComplete(part, artifact));
    }
    if (!verified) return absl::DataLossError(fmt::format("{}: sha256 differs from the server's", artifact.path()));
    fs::rename(part, path, ec);
    if (ec) return absl::PermissionDeniedError(fmt::format("cannot rename {}: {}", part.string(), ec.message()));
  }
  bar.Finish();
  std::error_code ec;
  fs::remove(out / kMarker, ec);
  return summary;
}

}  // namespace transmla::cli
