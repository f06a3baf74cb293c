#ifndef TRANSMLA_CORE_IO_SAFETENSORS_H_
#define TRANSMLA_CORE_IO_SAFETENSORS_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/io/tensor.h"
#include "core/util/mapped_file.h"

namespace transmla {

// A memory-mapped safetensors checkpoint: one file or the shards of an index. Tensor views point
// into the maps (zero copy) and stay valid while this object lives. Movable, not copyable.
class SafetensorsFile {
 public:
  // Opens `path`: a .safetensors file, a model.safetensors.index.json, or a directory holding
  // model.safetensors or model.safetensors.index.json. Fails with NotFound for missing files and
  // InvalidArgument naming the file and the first inconsistency (truncated header, header length
  // beyond the file, invalid JSON, unknown dtype, offsets out of range, overlapping, or not
  // matching shape x dtype, duplicate names, index naming a tensor its shard lacks).
  static absl::StatusOr<SafetensorsFile> Open(const std::filesystem::path& path);

  // The tensor called `name`, or nullptr.
  const TensorView* Find(std::string_view name) const;

  // The tensor called `name`, or NotFound naming it.
  absl::StatusOr<TensorView> Get(std::string_view name) const;

  // All tensor names, sorted.
  std::vector<std::string> Names() const;

  // The union of the shards' `__metadata__` string maps.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorView, std::less<>> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Parses the header of one in-memory safetensors file and appends its tensors (views into `data`)
// to `tensors` and its metadata to `metadata`. `source` names the file in error messages.
absl::Status ParseSafetensors(const uint8_t* data, size_t size, std::string_view source,
                              std::map<std::string, TensorView, std::less<>>* tensors,
                              std::map<std::string, std::string>* metadata);

// What a tensor will be, known before its bytes exist.
struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;

  size_t NumBytes() const;
};

struct SafetensorsWriterOptions {
  // Shards are cut so that none exceeds this many data bytes (a larger single tensor gets its own
  // shard). 0: one file, `model.safetensors`. Otherwise `model-00001-of-0000N.safetensors` plus
  // `model.safetensors.index.json`.
  size_t max_shard_bytes = 0;
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
};

// Writes a checkpoint whose tensors are declared up front, so each shard's header (8-byte aligned,
// data offsets known) is written first and tensor bytes stream in afterwards in any order with
// bounded memory. Files are written under temporary names in `dir` and renamed into place by
// Commit(); if the writer is destroyed without Commit(), the temporary files are removed and
// nothing that looks like a checkpoint is left behind.
class SafetensorsWriter {
 public:
  // Plans the shards and creates the temporary files in `dir` (which must exist). Fails with
  // InvalidArgument for duplicate names or empty specs, and with the OS error when files cannot
  // be created.
  static absl::StatusOr<std::unique_ptr<SafetensorsWriter>> Create(const std::filesystem::path& dir,
                                                                   std::vector<TensorSpec> specs,
                                                                   const SafetensorsWriterOptions& options = {});
  ~SafetensorsWriter();

  // Writes the bytes of the declared tensor `name`; `size` must equal its NumBytes(). Each tensor is
  // written exactly once. Fails with ResourceExhausted when the disk is full.
  absl::Status Write(std::string_view name, const void* bytes, size_t size);

  // Encodes `count` floats as the declared dtype of `name` and writes them.
  absl::Status WriteFloats(std::string_view name, const float* values, size_t count);

  // Writes part of a declared tensor: `count` floats starting at element `first`, so that large
  // tensors stream through in bounded memory. Parts must not overlap; Commit() checks that every
  // byte of every tensor was written.
  absl::Status WriteFloatsAt(std::string_view name, size_t first, const float* values, size_t count);

  // Checks every tensor was written, flushes, fsyncs and renames the files into place (the index
  // last). Returns the final paths.
  absl::StatusOr<std::vector<std::filesystem::path>> Commit();

 private:
  struct Impl;
  explicit SafetensorsWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_SAFETENSORS_H_
