#ifndef TRANSMLA_CORE_IO_GGUF_WRITER_H_
#define TRANSMLA_CORE_IO_GGUF_WRITER_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/io/gguf.h"
#include "core/io/safetensors.h"  // TensorSpec

namespace transmla {

// Writes a GGUF v3 file whose metadata and tensors are declared up front, so the header (with
// every tensor's offset) is written first and tensor bytes stream in afterwards, in any order and
// with bounded memory, the way an exporter produces them. Tensors are F32, F16 or BF16, laid out
// as llama.cpp's own writer does: in declaration order, each starting at a multiple of the
// alignment (general.alignment when the metadata sets it, else 32), zero padding after each.
// The file is written under a temporary name beside `path` and renamed into place by Commit();
// if the writer is destroyed without Commit(), the temporary file is removed.
class GgufWriter {
 public:
  // Checks the declaration and writes the header. Shapes are row-major (as TensorView has them);
  // the writer stores them as ggml's ne, reversed. Fails with InvalidArgument for duplicate keys
  // or tensor names, values whose content does not match their type (e.g. an array item of
  // another type, a uint8 above 255), a general.alignment that is not a power-of-two uint32,
  // dtypes other than F32/F16/BF16, or more than 4 dimensions; with the OS error when the file
  // cannot be created.
  static absl::StatusOr<std::unique_ptr<GgufWriter>> Create(
      const std::filesystem::path& path, std::vector<std::pair<std::string, GgufValue>> metadata,
      std::vector<TensorSpec> tensors);
  ~GgufWriter();

  // Writes the bytes of the declared tensor `name` (row-major, its declared dtype); `size` must
  // equal its NumBytes(). Each tensor is written exactly once. Fails with ResourceExhausted when
  // the disk is full.
  absl::Status Write(std::string_view name, const void* bytes, size_t size);

  // Encodes `count` floats as the declared dtype of `name` (round to nearest even) and writes them.
  absl::Status WriteFloats(std::string_view name, const float* values, size_t count);

  // Checks every tensor was written, fsyncs and renames the file into place. Returns its path.
  absl::StatusOr<std::filesystem::path> Commit();

 private:
  struct Impl;
  explicit GgufWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Serialises one metadata value (type tag excluded) as GGUF v3 lays it out, appending to `out`.
// Fails with InvalidArgument naming `key` when the value's content does not match its type.
absl::Status AppendGgufValue(std::string_view key, const GgufValue& value, std::string* out);

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_GGUF_WRITER_H_
