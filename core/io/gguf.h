#ifndef TRANSMLA_CORE_IO_GGUF_H_
#define TRANSMLA_CORE_IO_GGUF_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "core/io/tensor.h"
#include "core/util/mapped_file.h"

namespace transmla {

// One GGUF metadata value. Arrays keep their elements as values of their own.
struct GgufValue {
  using Array = std::vector<GgufValue>;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> value;
};

// A memory-mapped GGUF file (v2 or v3): metadata and tensor views (F32, F16, BF16 only; other
// ggml types are listed but refused when read). Shapes are row-major (ggml's ne reversed).
class GgufFile {
 public:
  // Fails with InvalidArgument naming the file and problem: bad magic, unsupported version,
  // truncated data, string or array lengths beyond the file, tensor data beyond the file.
  static absl::StatusOr<GgufFile> Open(const std::filesystem::path& path);

  absl::StatusOr<std::string> GetString(const std::string& key) const;
  absl::StatusOr<int64_t> GetInt(const std::string& key) const;
  absl::StatusOr<double> GetFloat(const std::string& key) const;
  absl::StatusOr<bool> GetBool(const std::string& key) const;
  absl::StatusOr<std::vector<std::string>> GetStringArray(const std::string& key) const;
  absl::StatusOr<std::vector<double>> GetFloatArray(const std::string& key) const;
  absl::StatusOr<std::vector<int64_t>> GetIntArray(const std::string& key) const;
  bool Has(const std::string& key) const { return metadata_.count(key) > 0; }

  // The tensor `name` as a view; InvalidArgument for ggml types other than F32/F16/BF16.
  absl::StatusOr<TensorView> Tensor(const std::string& name) const;
  std::vector<std::string> TensorNames() const;
  uint32_t version() const { return version_; }
  // The mapping tensor views point into; hold it to keep views valid beyond this object.
  std::shared_ptr<const MappedFile> mapping() const { return file_; }

 private:
  struct TensorInfo {
    std::vector<int64_t> shape;
    uint32_t ggml_type = 0;
    uint64_t offset = 0;
  };
  absl::StatusOr<const GgufValue*> Find(const std::string& key) const;

  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::map<std::string, TensorInfo> tensors_;
  size_t data_start_ = 0;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_GGUF_H_
