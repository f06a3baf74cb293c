#ifndef TRANSMLA_CORE_IO_GGUF_H_
#define TRANSMLA_CORE_IO_GGUF_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "core/io/tensor.h"
#include "core/util/mapped_file.h"

namespace transmla {

// GGUF metadata value types, numbered as the format numbers them (gguf_type in ggml).
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// ggml tensor types this project reads and writes. The file may hold others (quantized types);
// they are listed but refused when their data is accessed.
constexpr uint32_t kGgmlTypeF32 = 0;
constexpr uint32_t kGgmlTypeF16 = 1;
constexpr uint32_t kGgmlTypeBF16 = 30;

// "F32", "Q4_0", ... for a ggml type number; "unknown" for numbers ggml does not define.
std::string_view GgmlTypeName(uint32_t ggml_type);

// One GGUF metadata value with its exact on-disk type, so that a value read can be written back
// unchanged (llama.cpp rejects keys whose type differs from what it expects, e.g. int32 for a
// uint32 key). Unsigned integers are held as uint64_t, signed as int64_t, float32/float64 as
// double (exact for float32), arrays as a vector of values that all have `element_type`.
struct GgufValue {
  using Array = std::vector<GgufValue>;
  GgufType type = GgufType::kUint32;
  GgufType element_type = GgufType::kUint8;  // arrays only; kept so that empty arrays round-trip
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> value;

  static GgufValue Uint8(uint8_t v) { return Scalar(GgufType::kUint8, uint64_t{v}); }
  static GgufValue Int8(int8_t v) { return Scalar(GgufType::kInt8, int64_t{v}); }
  static GgufValue Uint16(uint16_t v) { return Scalar(GgufType::kUint16, uint64_t{v}); }
  static GgufValue Int16(int16_t v) { return Scalar(GgufType::kInt16, int64_t{v}); }
  static GgufValue Uint32(uint32_t v) { return Scalar(GgufType::kUint32, uint64_t{v}); }
  static GgufValue Int32(int32_t v) { return Scalar(GgufType::kInt32, int64_t{v}); }
  static GgufValue Uint64(uint64_t v) { return Scalar(GgufType::kUint64, v); }
  static GgufValue Int64(int64_t v) { return Scalar(GgufType::kInt64, v); }
  static GgufValue Float32(float v) { return Scalar(GgufType::kFloat32, double{v}); }
  static GgufValue Float64(double v) { return Scalar(GgufType::kFloat64, v); }
  static GgufValue Bool(bool v) { return Scalar(GgufType::kBool, v); }
  static GgufValue String(std::string v) { return Scalar(GgufType::kString, std::move(v)); }
  // An array whose items must all be of `element_type` (checked when written).
  static GgufValue ArrayOf(GgufType element_type, Array items);
  static GgufValue StringArray(const std::vector<std::string>& items);
  static GgufValue Float32Array(const std::vector<float>& items);
  static GgufValue Int32Array(const std::vector<int32_t>& items);

 private:
  template <typename T>
  static GgufValue Scalar(GgufType type, T v) {
    GgufValue out;
    out.type = type;
    out.value = std::move(v);
    return out;
  }
};

// Where one tensor lies in a GGUF file, as its tensor-info record says.
struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // row-major: ggml's ne reversed (ne[0], the fastest axis, is last)
  uint32_t ggml_type = kGgmlTypeF32;
  uint64_t offset = 0;  // from the start of the data section
};

// A memory-mapped GGUF file (v2 or v3): its metadata in file order and views of its tensors.
// Views point into the map (zero copy) and stay valid while this object, or a holder of
// mapping(), lives. Movable, not copyable.
class GgufFile {
 public:
  // Maps and validates `path`. Fails with NotFound when it does not exist and InvalidArgument
  // naming the file and the first problem: bad magic, unsupported version, truncated header,
  // implausible counts, string or array lengths beyond the file, unknown value types, duplicate
  // keys or tensor names, a bad general.alignment, misaligned tensor offsets, tensor data beyond
  // the file. Tensors of types we cannot read are accepted here and refused by Tensor().
  static absl::StatusOr<GgufFile> Open(const std::filesystem::path& path);

  // Typed metadata accessors. Each fails with NotFound("GGUF metadata <key> is missing") or with
  // InvalidArgument naming the key when the value has another type. GetInt accepts any integer
  // type (and fails for a uint64 above INT64_MAX), GetFloat any number, the array accessors
  // arrays of the matching kind (GetFloatArray: float32/float64; GetIntArray: any integer type).
  absl::StatusOr<std::string> GetString(std::string_view key) const;
  absl::StatusOr<int64_t> GetInt(std::string_view key) const;
  absl::StatusOr<double> GetFloat(std::string_view key) const;
  absl::StatusOr<bool> GetBool(std::string_view key) const;
  absl::StatusOr<std::vector<std::string>> GetStringArray(std::string_view key) const;
  absl::StatusOr<std::vector<double>> GetFloatArray(std::string_view key) const;
  absl::StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;
  bool Has(std::string_view key) const { return index_.count(key) > 0; }
  // The value of `key`, or nullptr.
  const GgufValue* FindValue(std::string_view key) const;
  // All key/value pairs in the order the file holds them.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }

  // The tensor `name` as a view (dtype F32, F16 or BF16). Fails with NotFound("missing tensor
  // <name>") or InvalidArgument("tensor <name> has ggml type Q4_0 (2), only F32/F16/BF16 are
  // supported") for other types.
  absl::StatusOr<TensorView> Tensor(std::string_view name) const;
  // Tensor records in file order, whatever their type.
  const std::vector<GgufTensorInfo>& tensor_infos() const { return tensors_; }
  std::vector<std::string> TensorNames() const;
  bool HasTensor(std::string_view name) const { return tensor_index_.count(name) > 0; }

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Byte offset of the data section (tensor offsets are relative to it).
  uint64_t data_offset() const { return data_start_; }
  const std::filesystem::path& path() const { return file_->path(); }
  // The mapping tensor views point into; hold it to keep views valid beyond this object.
  std::shared_ptr<const MappedFile> mapping() const { return file_; }

 private:
  absl::StatusOr<const GgufValue*> Find(std::string_view key) const;
  absl::Status KeyError(std::string_view key, std::string_view problem) const;

  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_start_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> index_;  // key -> position in metadata_
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;  // name -> position in tensors_
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_GGUF_H_
