#include "core/io/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "core/util/file_io.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" as a little-endian uint32
constexpr uint32_t kGgufVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr size_t kMaxDims = 4;  // GGML_MAX_DIMS

template <typename T>
void Append(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

void AppendString(std::string* out, std::string_view s) {
  Append<uint64_t>(out, s.size());
  out->append(s.data(), s.size());
}

absl::Status Mismatch(std::string_view key, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("GGUF metadata {}: {}", key, what));
}

template <typename T>
absl::Status AppendUnsigned(std::string_view key, const GgufValue& value, std::string* out) {
  const auto* u = std::get_if<uint64_t>(&value.value);
  if (u == nullptr) return Mismatch(key, "unsigned type without an unsigned value");
  if (*u > std::numeric_limits<T>::max()) return Mismatch(key, fmt::format("{} does not fit its type", *u));
  Append<T>(out, static_cast<T>(*u));
  return absl::OkStatus();
}

template <typename T>
absl::Status AppendSigned(std::string_view key, const GgufValue& value, std::string* out) {
  const auto* i = std::get_if<int64_t>(&value.value);
  if (i == nullptr) return Mismatch(key, "signed type without a signed value");
  if (*i < std::numeric_limits<T>::min() || *i > std::numeric_limits<T>::max()) {
    return Mismatch(key, fmt::format("{} does not fit its type", *i));
  }
  Append<T>(out, static_cast<T>(*i));
  return absl::OkStatus();
}


absl::StatusOr<uint32_t> GgmlTypeOf(const TensorSpec& spec) {
  switch (spec.dtype) {
    case DType::kF32: return kGgmlTypeF32;
    case DType::kF16: return kGgmlTypeF16;
    case DType::kBF16: return kGgmlTypeBF16;
    default:
      return absl::InvalidArgumentError(
          fmt::format("tensor {} has dtype {}; GGUF export supports F32, F16 and BF16", spec.name, DTypeName(spec.dtype)));
  }
}

// general.alignment from the metadata, checked as llama.cpp reads it (a uint32 power of two).
absl::StatusOr<uint64_t> AlignmentOf(const std::vector<std::pair<std::string, GgufValue>>& metadata) {
  for (const auto& [key, value] : metadata) {
    if (key != "general.alignment") continue;
    const auto* a = std::get_if<uint64_t>(&value.value);
    if (value.type != GgufType::kUint32 || a == nullptr || *a == 0 || (*a & (*a - 1)) != 0) {
      return absl::InvalidArgumentError("general.alignment must be a uint32 power of two");
    }
    return *a;
  }
  return kDefaultAlignment;
}

uint64_t AlignUp(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace

absl::Status AppendGgufValue(std::string_view key, const GgufValue& value, std::string* out) {
  switch (value.type) {
    case GgufType::kUint8: return AppendUnsigned<uint8_t>(key, value, out);
    case GgufType::kUint16: return AppendUnsigned<uint16_t>(key, value, out);
    case GgufType::kUint32: return AppendUnsigned<uint32_t>(key, value, out);
    case GgufType::kUint64: return AppendUnsigned<uint64_t>(key, value, out);
    case GgufType::kInt8: return AppendSigned<int8_t>(key, value, out);
    case GgufType::kInt16: return AppendSigned<int16_t>(key, value, out);
    case GgufType::kInt32: return AppendSigned<int32_t>(key, value, out);
    case GgufType::kInt64: return AppendSigned<int64_t>(key, value, out);
    case GgufType::kFloat32:
    case GgufType::kFloat64: {
      const auto* d = std::get_if<double>(&value.value);
      if (d == nullptr) return Mismatch(key, "float type without a float value");
      if (value.type == GgufType::kFloat32) {
        Append<float>(out, static_cast<float>(*d));
      } else {
        Append<double>(out, *d);
      }
      return absl::OkStatus();
    }
    case GgufType::kBool: {
      const auto* b = std::get_if<bool>(&value.value);
      if (b == nullptr) return Mismatch(key, "bool type without a bool value");
      Append<uint8_t>(out, *b ? 1 : 0);
      return absl::OkStatus();
    }
    case GgufType::kString: {
      const auto* s = std::get_if<std::string>(&value.value);
      if (s == nullptr) return Mismatch(key, "string type without a string value");
      AppendString(out, *s);
      return absl::OkStatus();
    }
    case GgufType::kArray: {
      const auto* items = std::get_if<GgufValue::Array>(&value.value);
      if (items == nullptr) return Mismatch(key, "array type without items");
      Append<uint32_t>(out, static_cast<uint32_t>(value.element_type));
      Append<uint64_t>(out, items->size());
      for (const GgufValue& item : *items) {
        if (item.type != value.element_type) {
          return Mismatch(key, fmt::format("array of type {} holds an item of type {}",
                                           static_cast<uint32_t>(value.element_type), static_cast<uint32_t>(item.type)));
        }
        RETURN_IF_ERROR(AppendGgufValue(key, item, out));
      }
      return absl::OkStatus();
    }
  }
  return Mismatch(key, fmt::format("unknown value type {}", static_cast<uint32_t>(value.type)));
}

struct GgufWriter::Impl {
  struct Slot {
    TensorSpec spec;
    uint64_t offset = 0;  // absolute, in the file
    bool written = false;
  };
  std::filesystem::path final_path, temp_path;
  int fd = -1;
  std::map<std::string, Slot, std::less<>> slots;
  bool committed = false;

  ~Impl() {
    if (fd >= 0) ::close(fd);
    if (!committed && !temp_path.empty()) ::unlink(temp_path.c_str());
  }
};

GgufWriter::GgufWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GgufWriter::~GgufWriter() = default;

absl::StatusOr<std::unique_ptr<GgufWriter>> GgufWriter::Create(
    const std::filesystem::path& path, std::vector<std::pair<std::string, GgufValue>> metadata,
    std::vector<TensorSpec> tensors) {
  ASSIGN_OR_RETURN(const uint64_t alignment, AlignmentOf(metadata));
  std::string header;
  Append<uint32_t>(&header, kGgufMagic);
  Append<uint32_t>(&header, kGgufVersion);
  Append<uint64_t>(&header, tensors.size());
  Append<uint64_t>(&header, metadata.size());
  std::set<std::string, std::less<>> keys;
  for (const auto& [key, value] : metadata) {
    if (!keys.insert(key).second) return absl::InvalidArgumentError(fmt::format("duplicate GGUF metadata key {}", key));
    AppendString(&header, key);
    Append<uint32_t>(&header, static_cast<uint32_t>(value.type));
    RETURN_IF_ERROR(AppendGgufValue(key, value, &header));
  }

  auto impl = std::make_unique<Impl>();
  uint64_t data_bytes = 0;  // relative offsets: each tensor starts aligned, padding follows it
  std::vector<uint64_t> relative(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSpec& spec = tensors[i];
    ASSIGN_OR_RETURN(const uint32_t ggml_type, GgmlTypeOf(spec));
    if (spec.shape.size() > kMaxDims) {
      return absl::InvalidArgumentError(
          fmt::format("tensor {} has {} dimensions; GGUF allows at most {}", spec.name, spec.shape.size(), kMaxDims));
    }
    AppendString(&header, spec.name);
    Append<uint32_t>(&header, static_cast<uint32_t>(spec.shape.size()));
    for (auto d = spec.shape.rbegin(); d != spec.shape.rend(); ++d) {  // ggml ne: fastest axis first
      if (*d < 0) return absl::InvalidArgumentError(fmt::format("tensor {} has a negative dimension", spec.name));
      Append<uint64_t>(&header, static_cast<uint64_t>(*d));
    }
    Append<uint32_t>(&header, ggml_type);
    Append<uint64_t>(&header, data_bytes);
    relative[i] = data_bytes;
    data_bytes += AlignUp(spec.NumBytes(), alignment);
  }
  const uint64_t data_start = AlignUp(header.size(), alignment);
  header.resize(data_start, '\0');
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string name = tensors[i].name;
    if (!impl->slots.emplace(name, Impl::Slot{std::move(tensors[i]), data_start + relative[i], false}).second) {
      return absl::InvalidArgumentError(fmt::format("duplicate tensor name {}", name));
    }
  }

  impl->final_path = path;
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  impl->temp_path = dir / fmt::format(".{}.tmp-{}", path.filename().string(), ::getpid());
  impl->fd = ::open(impl->temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (impl->fd < 0) {
    const int err = errno;
    impl->temp_path.clear();  // nothing to remove
    return IoError("creating", dir / fmt::format(".{}.tmp-{}", path.filename().string(), ::getpid()), err);
  }
  RETURN_IF_ERROR(WriteAll(impl->fd, header.data(), header.size(), 0, impl->temp_path));
  const off_t total = static_cast<off_t>(data_start + data_bytes);
  // Reserve the whole file now so a full disk shows up before the export rather than in it; the
  // size also covers the padding after the last tensor, which no Write touches.
  if (data_bytes > 0) {
    const int err = ::posix_fallocate(impl->fd, 0, total);
    if (err != 0 && err != EOPNOTSUPP && err != EINVAL) return IoError("allocating", impl->temp_path, err);
  }
  if (::ftruncate(impl->fd, total) != 0) return IoError("sizing", impl->temp_path, errno);
  return std::unique_ptr<GgufWriter>(new GgufWriter(std::move(impl)));
}

absl::Status GgufWriter::Write(std::string_view name, const void* bytes, size_t size) {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end()) return absl::InvalidArgumentError(fmt::format("tensor {} was not declared", name));
  Impl::Slot& slot = it->second;
  if (slot.written) return absl::FailedPreconditionError(fmt::format("tensor {} written twice", name));
  if (size != slot.spec.NumBytes()) {
    return absl::InvalidArgumentError(
        fmt::format("tensor {}: {} bytes given, {} declared", name, size, slot.spec.NumBytes()));
  }
  RETURN_IF_ERROR(WriteAll(impl_->fd, bytes, size, static_cast<off_t>(slot.offset), impl_->temp_path));
  slot.written = true;
  return absl::OkStatus();
}

absl::Status GgufWriter::WriteFloats(std::string_view name, const float* values, size_t count) {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end()) return absl::InvalidArgumentError(fmt::format("tensor {} was not declared", name));
  const std::vector<uint8_t> bytes = EncodeFloats(values, count, it->second.spec.dtype);
  return Write(name, bytes.data(), bytes.size());
}

absl::StatusOr<std::filesystem::path> GgufWriter::Commit() {
  if (impl_->committed) return absl::FailedPreconditionError("GGUF writer already committed");
  for (const auto& [name, slot] : impl_->slots) {
    if (!slot.written) return absl::FailedPreconditionError(fmt::format("tensor {} was never written", name));
  }
  if (::fsync(impl_->fd) != 0) return IoError("syncing", impl_->temp_path, errno);
  ::close(impl_->fd);
  impl_->fd = -1;
  if (::rename(impl_->temp_path.c_str(), impl_->final_path.c_str()) != 0) {
    return IoError("renaming", impl_->temp_path, errno);
  }
  impl_->committed = true;
  const std::filesystem::path dir =
      impl_->final_path.has_parent_path() ? impl_->final_path.parent_path() : std::filesystem::path(".");
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {  // make the rename itself durable
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return impl_->final_path;
}

}  // namespace transmla
