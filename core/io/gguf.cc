#include "core/io/gguf.h"

#include <cstring>

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
enum GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9,
  kU64 = 10, kI64 = 11, kF64 = 12,
};
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlBf16 = 30;
// Sanity bounds against corrupt counts: far above any real model, far below what could exhaust memory.
constexpr uint64_t kMaxCount = uint64_t{1} << 24;
constexpr int kMaxArrayDepth = 4;

// Bounds-checked little-endian reader over the mapped bytes.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, std::string source) : data_(data), size_(size), source_(std::move(source)) {}

  template <typename T>
  absl::StatusOr<T> Read() {
    if (size_ - pos_ < sizeof(T)) return Truncated();
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  absl::StatusOr<std::string> ReadString() {
    ASSIGN_OR_RETURN(const uint64_t len, Read<uint64_t>());
    if (len > size_ - pos_) return Error(fmt::format("string length {} beyond the file", len));
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }
  absl::StatusOr<GgufValue> ReadValue(uint32_t type, int depth) {
    GgufValue v;
    switch (type) {
      case kU8: { ASSIGN_OR_RETURN(const uint8_t x, Read<uint8_t>()); v.value = uint64_t{x}; break; }
      case kI8: { ASSIGN_OR_RETURN(const int8_t x, Read<int8_t>()); v.value = int64_t{x}; break; }
      case kU16: { ASSIGN_OR_RETURN(const uint16_t x, Read<uint16_t>()); v.value = uint64_t{x}; break; }
      case kI16: { ASSIGN_OR_RETURN(const int16_t x, Read<int16_t>()); v.value = int64_t{x}; break; }
      case kU32: { ASSIGN_OR_RETURN(const uint32_t x, Read<uint32_t>()); v.value = uint64_t{x}; break; }
      case kI32: { ASSIGN_OR_RETURN(const int32_t x, Read<int32_t>()); v.value = int64_t{x}; break; }
      case kU64: { ASSIGN_OR_RETURN(const uint64_t x, Read<uint64_t>()); v.value = x; break; }
      case kI64: { ASSIGN_OR_RETURN(const int64_t x, Read<int64_t>()); v.value = x; break; }
      case kF32: { ASSIGN_OR_RETURN(const float x, Read<float>()); v.value = double{x}; break; }
      case kF64: { ASSIGN_OR_RETURN(const double x, Read<double>()); v.value = x; break; }
      case kBool: { ASSIGN_OR_RETURN(const uint8_t x, Read<uint8_t>()); v.value = x != 0; break; }
      case kString: { ASSIGN_OR_RETURN(std::string s, ReadString()); v.value = std::move(s); break; }
      case kArray: {
        if (depth >= kMaxArrayDepth) return Error("arrays nested too deeply");
        ASSIGN_OR_RETURN(const uint32_t element_type, Read<uint32_t>());
        ASSIGN_OR_RETURN(const uint64_t count, Read<uint64_t>());
        if (count > size_ - pos_) return Error(fmt::format("array length {} beyond the file", count));
        GgufValue::Array items;
        items.reserve(count);
        for (uint64_t i = 0; i < count; ++i) {
          ASSIGN_OR_RETURN(GgufValue item, ReadValue(element_type, depth + 1));
          items.push_back(std::move(item));
        }
        v.value = std::move(items);
        break;
      }
      default:
        return Error(fmt::format("unknown metadata value type {}", type));
    }
    return v;
  }
  size_t pos() const { return pos_; }
  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(fmt::format("{}: {}", source_, what));
  }

 private:
  absl::Status Truncated() const { return Error(fmt::format("truncated at byte {}", pos_)); }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string source_;
};

size_t GgmlTypeSize(uint32_t type) {
  switch (type) {
    case kGgmlF32: return 4;
    case kGgmlF16: return 2;
    case kGgmlBf16: return 2;
    default: return 0;
  }
}

}  // namespace

absl::StatusOr<GgufFile> GgufFile::Open(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  GgufFile g;
  g.file_ = std::make_shared<MappedFile>(std::move(mapped));
  Reader r(g.file_->data(), g.file_->size(), path.string());
  ASSIGN_OR_RETURN(const uint32_t magic, r.Read<uint32_t>());
  if (magic != kGgufMagic) return r.Error("not a GGUF file (bad magic)");
  ASSIGN_OR_RETURN(g.version_, r.Read<uint32_t>());
  if (g.version_ != 2 && g.version_ != 3) return r.Error(fmt::format("unsupported GGUF version {}", g.version_));
  ASSIGN_OR_RETURN(const uint64_t tensor_count, r.Read<uint64_t>());
  ASSIGN_OR_RETURN(const uint64_t kv_count, r.Read<uint64_t>());
  if (tensor_count > kMaxCount || kv_count > kMaxCount) return r.Error("implausible tensor or metadata count");
  for (uint64_t i = 0; i < kv_count; ++i) {
    ASSIGN_OR_RETURN(std::string key, r.ReadString());
    ASSIGN_OR_RETURN(const uint32_t type, r.Read<uint32_t>());
    ASSIGN_OR_RETURN(GgufValue value, r.ReadValue(type, 0));
    g.metadata_[key] = std::move(value);
  }
  for (uint64_t i = 0; i < tensor_count; ++i) {
    ASSIGN_OR_RETURN(std::string name, r.ReadString());
    ASSIGN_OR_RETURN(const uint32_t n_dims, r.Read<uint32_t>());
    if (n_dims > 8) return r.Error(fmt::format("tensor {}: {} dimensions", name, n_dims));
    TensorInfo info;
    for (uint32_t d = 0; d < n_dims; ++d) {
      ASSIGN_OR_RETURN(const uint64_t dim, r.Read<uint64_t>());
      if (dim > (uint64_t{1} << 40)) return r.Error(fmt::format("tensor {}: dimension {} too large", name, dim));
      info.shape.insert(info.shape.begin(), static_cast<int64_t>(dim));  // ggml ne[0] is the fastest axis
    }
    ASSIGN_OR_RETURN(info.ggml_type, r.Read<uint32_t>());
    ASSIGN_OR_RETURN(info.offset, r.Read<uint64_t>());
    if (!g.tensors_.emplace(name, std::move(info)).second) return r.Error(fmt::format("duplicate tensor {}", name));
  }
  uint64_t alignment = 32;
  if (g.Has("general.alignment")) {
    ASSIGN_OR_RETURN(const int64_t a, g.GetInt("general.alignment"));
    if (a <= 0 || (a & (a - 1)) != 0) return r.Error(fmt::format("general.alignment {} is not a power of two", a));
    alignment = static_cast<uint64_t>(a);
  }
  g.data_start_ = (r.pos() + alignment - 1) / alignment * alignment;
  const size_t size = g.file_->size();
  for (const auto& [name, info] : g.tensors_) {
    const size_t element = GgmlTypeSize(info.ggml_type);
    if (element == 0) continue;  // refused when read
    uint64_t n = element;
    for (int64_t d : info.shape) n *= static_cast<uint64_t>(d);
    if (g.data_start_ > size || info.offset > size - g.data_start_ || n > size - g.data_start_ - info.offset) {
      return r.Error(fmt::format("tensor {}: data beyond the end of the file", name));
    }
  }
  return g;
}

absl::StatusOr<const GgufValue*> GgufFile::Find(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return absl::NotFoundError(fmt::format("GGUF metadata {} is missing", key));
  return &it->second;
}

absl::StatusOr<std::string> GgufFile::GetString(const std::string& key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  if (const auto* s = std::get_if<std::string>(&v->value)) return *s;
  return absl::InvalidArgumentError(fmt::format("GGUF metadata {} is not a string", key));
}

absl::StatusOr<int64_t> GgufFile::GetInt(const std::string& key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  if (const auto* u = std::get_if<uint64_t>(&v->value)) return static_cast<int64_t>(*u);
  if (const auto* i = std::get_if<int64_t>(&v->value)) return *i;
  return absl::InvalidArgumentError(fmt::format("GGUF metadata {} is not an integer", key));
}

absl::StatusOr<double> GgufFile::GetFloat(const std::string& key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  if (const auto* d = std::get_if<double>(&v->value)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v->value)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v->value)) return static_cast<double>(*i);
  return absl::InvalidArgumentError(fmt::format("GGUF metadata {} is not a number", key));
}

absl::StatusOr<bool> GgufFile::GetBool(const std::string& key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  if (const auto* b = std::get_if<bool>(&v->value)) return *b;
  return absl::InvalidArgumentError(fmt::format("GGUF metadata {} is not a boolean", key));
}

absl::StatusOr<std::vector<std::string>> GgufFile::GetStringArray(const std::string& key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  const auto* items = std::get_if<GgufValue::Array>(&v->value);
  if (items == nullptr) return absl::InvalidArgumentError(fmt::format("GGUF metadata {} is not an array", key));
  std::vector<std::string> out;
  for (const GgufValue& item : *items) {
    const auto* s = std::get_if<std::string>(&item.value);
    if (s == nullptr) return absl::InvalidArgumentError(fmt::format("GGUF metadata {} holds a non-string", key));
    out.push_back(*s);
  }
  return out;
}

absl::StatusOr<std::vector<double>> GgufFile::GetFloatArray(const std::string& key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  const auto* items = std::get_if<GgufValue::Array>(&v->value);
  if (items == nullptr) return absl::InvalidArgumentError(fmt::format("GGUF metadata {} is not an array", key));
  std::vector<double> out;
  for (const GgufValue& item : *items) {
    const auto* d = std::get_if<double>(&item.value);
    if (d == nullptr) return absl::InvalidArgumentError(fmt::format("GGUF metadata {} holds a non-float", key));
    out.push_back(*d);
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(const std::string& key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  const auto* items = std::get_if<GgufValue::Array>(&v->value);
  if (items == nullptr) return absl::InvalidArgumentError(fmt::format("GGUF metadata {} is not an array", key));
  std::vector<int64_t> out;
  for (const GgufValue& item : *items) {
    if (const auto* u = std::get_if<uint64_t>(&item.value)) out.push_back(static_cast<int64_t>(*u));
    else if (const auto* i = std::get_if<int64_t>(&item.value)) out.push_back(*i);
    else return absl::InvalidArgumentError(fmt::format("GGUF metadata {} holds a non-integer", key));
  }
  return out;
}

absl::StatusOr<TensorView> GgufFile::Tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return absl::NotFoundError(fmt::format("missing tensor {}", name));
  const TensorInfo& info = it->second;
  TensorView view;
  view.name = name;
  view.shape = info.shape;
  switch (info.ggml_type) {
    case kGgmlF32: view.dtype = DType::kF32; break;
    case kGgmlF16: view.dtype = DType::kF16; break;
    case kGgmlBf16: view.dtype = DType::kBF16; break;
    default:
      return absl::InvalidArgumentError(fmt::format(
          "tensor {} has ggml type {}; only F32, F16 and BF16 are supported (quantized GGUF is not)", name,
          info.ggml_type));
  }
  view.data = file_->data() + data_start_ + info.offset;
  view.nbytes = static_cast<size_t>(view.NumElements()) * DTypeSize(view.dtype);
  return view;
}

std::vector<std::string> GgufFile::TensorNames() const {
  std::vector<std::string> names;
  for (const auto& [name, info] : tensors_) names.push_back(name);
  return names;
}

}  // namespace transmla
