#ifndef TRANSMLA_CORE_UTIL_MAPPED_FILE_H_
#define TRANSMLA_CORE_UTIL_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"

namespace transmla {

// A read-only memory map of a whole file. Movable, not copyable; unmaps on destruction.
class MappedFile {
 public:
  // Maps `path` read-only. Fails with NotFound when the file does not exist and with
  // InvalidArgument when it is not a regular file. An empty file maps to size() == 0.
  static absl::StatusOr<MappedFile> Open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile(std::filesystem::path path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Drops the resident pages of [data, data + size) from this process's read-only file mappings
// (the kernel re-reads them from the page cache if touched again). Streaming conversions call it on
// tensors they are done with, so resident memory stays bounded by one layer, not the model.
void DropResidentPages(const void* data, size_t size);

}  // namespace transmla

#endif  // TRANSMLA_CORE_UTIL_MAPPED_FILE_H_
