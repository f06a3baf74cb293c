#ifndef TRANSMLA_CORE_CONVERT_OUTPUT_DIR_H_
#define TRANSMLA_CORE_CONVERT_OUTPUT_DIR_H_

#include <filesystem>

#include "absl/status/statusor.h"

namespace transmla::convert {

// A model directory built under a hidden staging name beside its destination and renamed into
// place by Publish(), so that readers see either nothing or the whole model. Destroying it
// unpublished removes the staging directory.
class StagedDirectory {
 public:
  // Fails with AlreadyExists when `destination` exists and !replace, NotFound when its parent
  // does not exist.
  static absl::StatusOr<StagedDirectory> Create(const std::filesystem::path& destination, bool replace);
  StagedDirectory(StagedDirectory&& other) noexcept;
  StagedDirectory& operator=(StagedDirectory&&) = delete;
  ~StagedDirectory();

  const std::filesystem::path& path() const { return staging_; }
  // Renames the staging directory to the destination (replacing an old one when allowed).
  absl::Status Publish();

 private:
  StagedDirectory(std::filesystem::path destination, std::filesystem::path staging, bool replace)
      : destination_(std::move(destination)), staging_(std::move(staging)), replace_(replace) {}

  std::filesystem::path destination_;
  std::filesystem::path staging_;
  bool replace_ = false;
  bool published_ = false;
};

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_OUTPUT_DIR_H_
