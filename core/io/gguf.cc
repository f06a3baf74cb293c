#include "core/io/gguf.h"

#include <cstring>
#include <type_traits>

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint64_t kDefaultAlignment = 32;   // GGUF_DEFAULT_ALIGNMENT
// Sanity bounds against corrupt counts: far above any real model (a 671B model has a few thousand
// tensors and a few dozen keys), far below what could exhaust memory before the file runs out.
constexpr uint64_t kMaxCount = uint64_t{1} << 24;
// ggml tensors have at most 4 dimensions (GGML_MAX_DIMS).
constexpr uint32_t kMaxDims = 4;
// Arrays of arrays exist (e.g. merges as pairs in some converters); deeper nesting is corruption.
constexpr int kMaxArrayDepth = 4;

struct GgmlTypeTraits {
  std::string_view name;
  uint64_t block_elements = 0;  // 0: size unknown here; the tensor's bounds are not checked
  uint64_t block_bytes = 0;
};

GgmlTypeTraits TraitsOf(uint32_t type) {
  switch (type) {
    case 0: return {"F32", 1, 4};
    case 1: return {"F16", 1, 2};
    case 2: return {"Q4_0", 32, 18};
    case 3: return {"Q4_1", 32, 20};
    case 6: return {"Q5_0", 32, 22};
    case 7: return {"Q5_1", 32, 24};
    case 8: return {"Q8_0", 32, 34};
    case 9: return {"Q8_1", 32, 36};
    case 10: return {"Q2_K", 256, 84};
    case 11: return {"Q3_K", 256, 110};
    case 12: return {"Q4_K", 256, 144};
    case 13: return {"Q5_K", 256, 176};
    case 14: return {"Q6_K", 256, 210};
    case 15: return {"Q8_K", 256, 292};
    case 16: return {"IQ2_XXS"};
    case 17: return {"IQ2_XS"};
    case 18: return {"IQ3_XXS"};
    case 19: return {"IQ1_S"};
    case 20: return {"IQ4_NL"};
    case 21: return {"IQ3_S"};
    case 22: return {"IQ2_S"};
    case 23: return {"IQ4_XS"};
    case 24: return {"I8", 1, 1};
    case 25: return {"I16", 1, 2};
    case 26: return {"I32", 1, 4};
    case 27: return {"I64", 1, 8};
    case 28: return {"F64", 1, 8};
    case 29: return {"IQ1_M"};
    case 30: return {"BF16", 1, 2};
    case 34: return {"TQ1_0"};
    case 35: return {"TQ2_0"};
    case 39: return {"MXFP4"};
    default: return {"unknown"};
  }
}

// The fewest bytes a metadata value of `type` takes (unknown types: 1, refused when read).
uint64_t MinEncodedSize(uint32_t type) {
  switch (static_cast<GgufType>(type)) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    case GgufType::kString: return 8;                // the length
    case GgufType::kArray: return 12;                // element type and count
  }
  return 1;
}

// Bounds-checked little-endian reader over the mapped bytes; every error names the file.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, std::string source) : data_(data), size_(size), source_(std::move(source)) {}

  template <typename T>
  absl::StatusOr<T> Read(std::string_view what) {
    if (size_ - pos_ < sizeof(T)) return Error(fmt::format("truncated at byte {} (reading {})", pos_, what));
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  absl::StatusOr<std::string> ReadString(std::string_view what) {
    ASSIGN_OR_RETURN(const uint64_t len, Read<uint64_t>(what));
    if (len > size_ - pos_) {
      return Error(fmt::format("{} at byte {} has length {}, beyond the end of the file ({} bytes)", what, pos_ - 8,
                               len, size_));
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }

  absl::StatusOr<GgufValue> ReadValue(uint32_t raw_type, std::string_view key, int depth) {
    GgufValue v;
    v.type = static_cast<GgufType>(raw_type);
    switch (v.type) {
      case GgufType::kUint8: return Integer<uint8_t>(v, key);
      case GgufType::kInt8: return Integer<int8_t>(v, key);
      case GgufType::kUint16: return Integer<uint16_t>(v, key);
      case GgufType::kInt16: return Integer<int16_t>(v, key);
      case GgufType::kUint32: return Integer<uint32_t>(v, key);
      case GgufType::kInt32: return Integer<int32_t>(v, key);
      case GgufType::kUint64: return Integer<uint64_t>(v, key);
      case GgufType::kInt64: return Integer<int64_t>(v, key);
      case GgufType::kFloat32: {
        ASSIGN_OR_RETURN(const float x, Read<float>(key));
        v.value = double{x};
        return v;
      }
      case GgufType::kFloat64: {
        ASSIGN_OR_RETURN(const double x, Read<double>(key));
        v.value = x;
        return v;
      }
      case GgufType::kBool: {
        ASSIGN_OR_RETURN(const uint8_t x, Read<uint8_t>(key));
        v.value = x != 0;
        return v;
      }
      case GgufType::kString: {
        ASSIGN_OR_RETURN(std::string s, ReadString(fmt::format("string value of {}", key)));
        v.value = std::move(s);
        return v;
      }
      case GgufType::kArray: {
        if (depth >= kMaxArrayDepth) return Error(fmt::format("metadata {}: arrays nested too deeply", key));
        ASSIGN_OR_RETURN(const uint32_t element_type, Read<uint32_t>(key));
        ASSIGN_OR_RETURN(const uint64_t count, Read<uint64_t>(key));
        // A count whose smallest encoding does not fit in the remaining bytes is corrupt; checking
        // it first keeps a corrupt count from allocating memory the file could never fill.
        if (count > (size_ - pos_) / MinEncodedSize(element_type)) {
          return Error(fmt::format("metadata {}: array length {} beyond the end of the file", key, count));
        }
        v.element_type = static_cast<GgufType>(element_type);
        GgufValue::Array items;
        items.reserve(count);
        for (uint64_t i = 0; i < count; ++i) {
          ASSIGN_OR_RETURN(GgufValue item, ReadValue(element_type, key, depth + 1));
          items.push_back(std::move(item));
        }
        v.value = std::move(items);
        return v;
      }
    }
    return Error(fmt::format("metadata {}: unknown value type {}", key, raw_type));
  }

  size_t pos() const { return pos_; }
  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(fmt::format("{}: {}", source_, what));
  }

 private:
  template <typename T>
  absl::StatusOr<GgufValue> Integer(GgufValue& v, std::string_view key) {
    ASSIGN_OR_RETURN(const T x, Read<T>(key));
    if constexpr (std::is_signed_v<T>) {
      v.value = int64_t{x};
    } else {
      v.value = uint64_t{x};
    }
    return std::move(v);
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string source_;
};

}  // namespace

std::string_view GgmlTypeName(uint32_t ggml_type) { return TraitsOf(ggml_type).name; }

GgufValue GgufValue::ArrayOf(GgufType element_type, Array items) {
  GgufValue out;
  out.type = GgufType::kArray;
  out.element_type = element_type;
  out.value = std::move(items);
  return out;
}

GgufValue GgufValue::StringArray(const std::vector<std::string>& items) {
  Array array;
  array.reserve(items.size());
  for (const std::string& s : items) array.push_back(String(s));
  return ArrayOf(GgufType::kString, std::move(array));
}

GgufValue GgufValue::Float32Array(const std::vector<float>& items) {
  Array array;
  array.reserve(items.size());
  for (float f : items) array.push_back(Float32(f));
  return ArrayOf(GgufType::kFloat32, std::move(array));
}

GgufValue GgufValue::Int32Array(const std::vector<int32_t>& items) {
  Array array;
  array.reserve(items.size());
  for (int32_t i : items) array.push_back(Int32(i));
  return ArrayOf(GgufType::kInt32, std::move(array));
}

absl::StatusOr<GgufFile> GgufFile::Open(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  GgufFile g;
  g.file_ = std::make_shared<MappedFile>(std::move(mapped));
  const uint64_t size = g.file_->size();
  Reader r(g.file_->data(), size, path.string());

  ASSIGN_OR_RETURN(const uint32_t magic, r.Read<uint32_t>("magic"));
  if (magic != kGgufMagic) return r.Error("not a GGUF file (bad magic)");
  ASSIGN_OR_RETURN(g.version_, r.Read<uint32_t>("version"));
  // v1 used 32-bit counts and lengths; nothing current writes it.
  if (g.version_ != 2 && g.version_ != 3) {
    return r.Error(fmt::format("unsupported GGUF version {} (2 and 3 are supported)", g.version_));
  }
  ASSIGN_OR_RETURN(const uint64_t tensor_count, r.Read<uint64_t>("tensor count"));
  ASSIGN_OR_RETURN(const uint64_t kv_count, r.Read<uint64_t>("metadata count"));
  if (tensor_count > kMaxCount || kv_count > kMaxCount) {
    return r.Error(fmt::format("implausible counts: {} tensors, {} metadata entries", tensor_count, kv_count));
  }

  for (uint64_t i = 0; i < kv_count; ++i) {
    ASSIGN_OR_RETURN(std::string key, r.ReadString(fmt::format("metadata key {}", i)));
    ASSIGN_OR_RETURN(const uint32_t type, r.Read<uint32_t>(key));
    ASSIGN_OR_RETURN(GgufValue value, r.ReadValue(type, key, 0));
    if (!g.index_.emplace(key, g.metadata_.size()).second) {
      return r.Error(fmt::format("duplicate metadata key {}", key));
    }
    g.metadata_.emplace_back(std::move(key), std::move(value));
  }

  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info;
    ASSIGN_OR_RETURN(info.name, r.ReadString(fmt::format("name of tensor {}", i)));
    ASSIGN_OR_RETURN(const uint32_t n_dims, r.Read<uint32_t>(info.name));
    if (n_dims > kMaxDims) return r.Error(fmt::format("tensor {} has {} dimensions (at most {})", info.name, n_dims, kMaxDims));
    for (uint32_t d = 0; d < n_dims; ++d) {
      ASSIGN_OR_RETURN(const uint64_t dim, r.Read<uint64_t>(info.name));
      // No ggml type stores less than one bit per element.
      if (dim / 8 > size) return r.Error(fmt::format("tensor {}: dimension {} too large for the file", info.name, dim));
      info.shape.insert(info.shape.begin(), static_cast<int64_t>(dim));  // ggml ne[0] is the fastest axis
    }
    ASSIGN_OR_RETURN(info.ggml_type, r.Read<uint32_t>(info.name));
    ASSIGN_OR_RETURN(info.offset, r.Read<uint64_t>(info.name));
    if (!g.tensor_index_.emplace(info.name, g.tensors_.size()).second) {
      return r.Error(fmt::format("duplicate tensor {}", info.name));
    }
    g.tensors_.push_back(std::move(info));
  }

  if (const GgufValue* a = g.FindValue("general.alignment")) {
    const auto* value = std::get_if<uint64_t>(&a->value);
    if (value == nullptr || *value == 0 || (*value & (*value - 1)) != 0 || *value > (uint64_t{1} << 30)) {
      return r.Error("general.alignment is not a power of two (as an unsigned integer)");
    }
    g.alignment_ = *value;
  } else {
    g.alignment_ = kDefaultAlignment;
  }
  g.data_start_ = (r.pos() + g.alignment_ - 1) / g.alignment_ * g.alignment_;

  for (const GgufTensorInfo& info : g.tensors_) {
    if (info.offset % g.alignment_ != 0) {
      return r.Error(fmt::format("tensor {}: offset {} is not a multiple of the alignment {}", info.name, info.offset,
                                 g.alignment_));
    }
    const GgmlTypeTraits traits = TraitsOf(info.ggml_type);
    if (traits.block_elements == 0) continue;  // unknown size: refused when read
    uint64_t elements = 1;
    for (int64_t d : info.shape) {
      if (__builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements)) {
        return r.Error(fmt::format("tensor {}: element count overflows", info.name));
      }
    }
    const uint64_t row = info.shape.empty() ? 1 : static_cast<uint64_t>(info.shape.back());
    if (row % traits.block_elements != 0) {
      return r.Error(fmt::format("tensor {}: row length {} is not a multiple of the {} block size {}", info.name, row,
                                 traits.name, traits.block_elements));
    }
    const uint64_t bytes = elements / traits.block_elements * traits.block_bytes;  // cannot overflow: <= 4.5x
    if (g.data_start_ > size || info.offset > size - g.data_start_ || bytes > size - g.data_start_ - info.offset) {
      return r.Error(fmt::format("tensor {}: data [{}, {}) lies beyond the end of the file ({} bytes)", info.name,
                                 g.data_start_ + info.offset, g.data_start_ + info.offset + bytes, size));
    }
  }
  return g;
}

const GgufValue* GgufFile::FindValue(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &metadata_[it->second].second;
}

absl::StatusOr<const GgufValue*> GgufFile::Find(std::string_view key) const {
  const GgufValue* v = FindValue(key);
  if (v == nullptr) return absl::NotFoundError(fmt::format("GGUF metadata {} is missing in {}", key, path().string()));
  return v;
}

absl::Status GgufFile::KeyError(std::string_view key, std::string_view problem) const {
  return absl::InvalidArgumentError(fmt::format("GGUF metadata {} in {} {}", key, path().string(), problem));
}

absl::StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  if (const auto* s = std::get_if<std::string>(&v->value)) return *s;
  return KeyError(key, "is not a string");
}

absl::StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  if (const auto* i = std::get_if<int64_t>(&v->value)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&v->value)) {
    if (*u > static_cast<uint64_t>(INT64_MAX)) return KeyError(key, "does not fit in int64");
    return static_cast<int64_t>(*u);
  }
  return KeyError(key, "is not an integer");
}

absl::StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  if (const auto* d = std::get_if<double>(&v->value)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v->value)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v->value)) return static_cast<double>(*i);
  return KeyError(key, "is not a number");
}

absl::StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  if (const auto* b = std::get_if<bool>(&v->value)) return *b;
  return KeyError(key, "is not a boolean");
}

absl::StatusOr<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  const auto* items = std::get_if<GgufValue::Array>(&v->value);
  if (items == nullptr || v->element_type != GgufType::kString) return KeyError(key, "is not an array of strings");
  std::vector<std::string> out;
  out.reserve(items->size());
  for (const GgufValue& item : *items) out.push_back(std::get<std::string>(item.value));
  return out;
}

absl::StatusOr<std::vector<double>> GgufFile::GetFloatArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  const auto* items = std::get_if<GgufValue::Array>(&v->value);
  if (items == nullptr || (v->element_type != GgufType::kFloat32 && v->element_type != GgufType::kFloat64)) {
    return KeyError(key, "is not an array of floats");
  }
  std::vector<double> out;
  out.reserve(items->size());
  for (const GgufValue& item : *items) out.push_back(std::get<double>(item.value));
  return out;
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* v, Find(key));
  const auto* items = std::get_if<GgufValue::Array>(&v->value);
  if (items == nullptr) return KeyError(key, "is not an array of integers");
  std::vector<int64_t> out;
  out.reserve(items->size());
  for (const GgufValue& item : *items) {
    if (const auto* i = std::get_if<int64_t>(&item.value)) {
      out.push_back(*i);
    } else if (const auto* u = std::get_if<uint64_t>(&item.value); u != nullptr && *u <= INT64_MAX) {
      out.push_back(static_cast<int64_t>(*u));
    } else {
      return KeyError(key, "is not an array of integers (that fit in int64)");
    }
  }
  return out;
}

absl::StatusOr<TensorView> GgufFile::Tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end()) return absl::NotFoundError(fmt::format("missing tensor {}", name));
  const GgufTensorInfo& info = tensors_[it->second];
  TensorView view;
  view.name = info.name;
  view.shape = info.shape;
  switch (info.ggml_type) {
    case kGgmlTypeF32: view.dtype = DType::kF32; break;
    case kGgmlTypeF16: view.dtype = DType::kF16; break;
    case kGgmlTypeBF16: view.dtype = DType::kBF16; break;
    default:
      return absl::InvalidArgumentError(fmt::format("{}: tensor {} has ggml type {} ({}), only F32/F16/BF16 are supported",
                                                    path().string(), name, GgmlTypeName(info.ggml_type),
                                                    info.ggml_type));
  }
  view.data = file_->data() + data_start_ + info.offset;
  view.nbytes = static_cast<size_t>(view.NumElements()) * DTypeSize(view.dtype);
  return view;
}

std::vector<std::string> GgufFile::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const GgufTensorInfo& info : tensors_) names.push_back(info.name);
  return names;
}

}  // namespace transmla
