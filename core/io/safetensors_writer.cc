#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "core/io/safetensors.h"
#include "core/util/file_io.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace transmla {
size_t TensorSpec::NumBytes() const {
  size_t n = DTypeSize(dtype);
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

struct SafetensorsWriter::Impl {
  struct Shard {
    std::filesystem::path final_path, temp_path;
    int fd = -1;
    size_t header_bytes = 0;  // 8 + padded JSON
  };
  struct Slot {
    size_t shard = 0;
    size_t offset = 0;  // within the shard's data section
    TensorSpec spec;
    size_t bytes_written = 0;
  };
  std::filesystem::path dir;
  std::vector<Shard> shards;
  std::map<std::string, Slot, std::less<>> slots;
  bool committed = false;

  absl::Status WritePart(Slot& slot, size_t byte_offset, const void* bytes, size_t size) {
    const Shard& shard = shards[slot.shard];
    RETURN_IF_ERROR(WriteAll(shard.fd, bytes, size, static_cast<off_t>(shard.header_bytes + slot.offset + byte_offset),
                             shard.temp_path));
    slot.bytes_written += size;
    return absl::OkStatus();
  }

  ~Impl() {
    for (Shard& s : shards) {
      if (s.fd >= 0) ::close(s.fd);
      if (!committed) ::unlink(s.temp_path.c_str());
    }
  }
};

SafetensorsWriter::SafetensorsWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsWriter::~SafetensorsWriter() = default;

absl::StatusOr<std::unique_ptr<SafetensorsWriter>> SafetensorsWriter::Create(const std::filesystem::path& dir,
                                                                             std::vector<TensorSpec> specs,
                                                                             const SafetensorsWriterOptions& options) {
  if (specs.empty()) return absl::InvalidArgumentError("no tensors to write");
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  // Plan: tensors in the given order, a new shard when the next one would overflow the current.
  std::vector<std::vector<size_t>> shard_members(1);
  size_t shard_bytes = 0;
  std::set<std::string> seen;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!seen.insert(specs[i].name).second) {
      return absl::InvalidArgumentError(fmt::format("duplicate tensor name \"{}\"", specs[i].name));
    }
    const size_t bytes = specs[i].NumBytes();
    if (options.max_shard_bytes > 0 && shard_bytes > 0 && shard_bytes + bytes > options.max_shard_bytes) {
      shard_members.emplace_back();
      shard_bytes = 0;
    }
    shard_members.back().push_back(i);
    shard_bytes += bytes;
  }
  const size_t n = shard_members.size();
  for (size_t s = 0; s < n; ++s) {
    Impl::Shard shard;
    const std::string name =
        n == 1 && options.max_shard_bytes == 0 ? "model.safetensors"
                                               : fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, n);
    shard.final_path = dir / name;
    shard.temp_path = dir / fmt::format(".{}.tmp-{}", name, ::getpid());
    nlohmann::json header = nlohmann::json::object();
    if (!options.metadata.empty()) header["__metadata__"] = options.metadata;
    size_t offset = 0;
    for (size_t i : shard_members[s]) {
      const TensorSpec& spec = specs[i];
      header[spec.name] = {{"dtype", std::string(DTypeName(spec.dtype))},
                           {"shape", spec.shape},
                           {"data_offsets", {offset, offset + spec.NumBytes()}}};
      impl->slots[spec.name] = {s, offset, spec, false};
      offset += spec.NumBytes();
    }
    std::string text = header.dump();
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // data starts 8-byte aligned
    shard.header_bytes = 8 + text.size();
    shard.fd = ::open(shard.temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (shard.fd < 0) return IoError("creating", shard.temp_path, errno);
    impl->shards.push_back(shard);
    const uint64_t len = text.size();
    RETURN_IF_ERROR(WriteAll(shard.fd, &len, 8, 0, shard.temp_path));
    RETURN_IF_ERROR(WriteAll(shard.fd, text.data(), text.size(), 8, shard.temp_path));
    // Reserve the whole file now so a full disk shows up early rather than mid-conversion.
    if (offset > 0) {
      const int err = ::posix_fallocate(shard.fd, 0, static_cast<off_t>(shard.header_bytes + offset));
      if (err != 0 && err != EOPNOTSUPP && err != EINVAL) return IoError("allocating", shard.temp_path, err);
    }
  }
  return std::unique_ptr<SafetensorsWriter>(new SafetensorsWriter(std::move(impl)));
}

absl::Status SafetensorsWriter::Write(std::string_view name, const void* bytes, size_t size) {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end()) return absl::InvalidArgumentError(fmt::format("tensor {} was not declared", name));
  Impl::Slot& slot = it->second;
  if (slot.bytes_written > 0) return absl::FailedPreconditionError(fmt::format("tensor {} written twice", name));
  if (size != slot.spec.NumBytes()) {
    return absl::InvalidArgumentError(
        fmt::format("tensor {}: {} bytes given, {} declared", name, size, slot.spec.NumBytes()));
  }
  return impl_->WritePart(slot, 0, bytes, size);
}

absl::Status SafetensorsWriter::WriteFloatsAt(std::string_view name, size_t first, const float* values, size_t count) {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end()) return absl::InvalidArgumentError(fmt::format("tensor {} was not declared", name));
  Impl::Slot& slot = it->second;
  const size_t element = DTypeSize(slot.spec.dtype);
  if ((first + count) * element > slot.spec.NumBytes() || slot.bytes_written + count * element > slot.spec.NumBytes()) {
    return absl::InvalidArgumentError(fmt::format("tensor {}: elements [{}, {}) beyond its size or written twice",
                                                  name, first, first + count));
  }
  const std::vector<uint8_t> bytes = EncodeFloats(values, count, slot.spec.dtype);
  return impl_->WritePart(slot, first * element, bytes.data(), bytes.size());
}

absl::Status SafetensorsWriter::WriteFloats(std::string_view name, const float* values, size_t count) {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end()) return absl::InvalidArgumentError(fmt::format("tensor {} was not declared", name));
  const std::vector<uint8_t> bytes = EncodeFloats(values, count, it->second.spec.dtype);
  if (bytes.empty() && count > 0) {
    return absl::InvalidArgumentError(fmt::format("tensor {}: cannot encode floats as {}", name,
                                                  DTypeName(it->second.spec.dtype)));
  }
  return Write(name, bytes.data(), bytes.size());
}

absl::StatusOr<std::vector<std::filesystem::path>> SafetensorsWriter::Commit() {
  for (const auto& [name, slot] : impl_->slots) {
    if (slot.bytes_written != slot.spec.NumBytes()) {
      return absl::FailedPreconditionError(fmt::format("tensor {} was not completely written", name));
    }
  }
  std::vector<std::filesystem::path> paths;
  for (Impl::Shard& shard : impl_->shards) {
    if (::fsync(shard.fd) != 0) return IoError("syncing", shard.temp_path, errno);
    ::close(shard.fd);
    shard.fd = -1;
  }
  for (Impl::Shard& shard : impl_->shards) {
    if (::rename(shard.temp_path.c_str(), shard.final_path.c_str()) != 0) return IoError("renaming", shard.temp_path, errno);
    paths.push_back(shard.final_path);
  }
  impl_->committed = true;
  if (impl_->shards.size() > 1 || impl_->shards.front().final_path.filename() != "model.safetensors") {
    nlohmann::json index;
    size_t total = 0;
    for (const auto& [name, slot] : impl_->slots) {
      index["weight_map"][name] = impl_->shards[slot.shard].final_path.filename().string();
      total += slot.spec.NumBytes();
    }
    index["metadata"] = {{"total_size", total}};
    const std::filesystem::path index_path = impl_->dir / "model.safetensors.index.json";
    const std::filesystem::path temp = impl_->dir / fmt::format(".model.safetensors.index.json.tmp-{}", ::getpid());
    const std::string text = index.dump(2);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return IoError("creating", temp, errno);
    absl::Status written = WriteAll(fd, text.data(), text.size(), 0, temp);
    if (written.ok() && ::fsync(fd) != 0) written = IoError("syncing", temp, errno);
    ::close(fd);
    if (!written.ok()) {
      ::unlink(temp.c_str());
      return written;
    }
    if (::rename(temp.c_str(), index_path.c_str()) != 0) return IoError("renaming", temp, errno);
    paths.push_back(index_path);
  }
  const int dir_fd = ::open(impl_->dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return paths;
}

}  // namespace transmla
