#include "core/io/safetensors.h"

#include <algorithm>
#include <cstring>

#include "core/io/hf_config.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace transmla {
namespace {

constexpr size_t kHeaderLengthBytes = 8;
// Larger headers are not produced by any writer; refusing them avoids huge allocations on garbage.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

absl::Status Invalid(std::string_view source, const std::string& what) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", source, what));
}

// Parses JSON rejecting duplicate keys in the top-level object (nlohmann keeps the last silently).
absl::StatusOr<nlohmann::json> ParseHeaderJson(std::string_view text, std::string_view source) {
  std::vector<std::string> top_keys;
  bool duplicate = false;
  std::string duplicate_name;
  nlohmann::json::parser_callback_t on_event = [&](int depth, nlohmann::json::parse_event_t event,
                                                   nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1) {
      const std::string key = parsed.get<std::string>();
      if (std::find(top_keys.begin(), top_keys.end(), key) != top_keys.end()) {
        duplicate = true;
        duplicate_name = key;
      }
      top_keys.push_back(key);
    }
    return true;
  };
  nlohmann::json header = nlohmann::json::parse(text.begin(), text.end(), on_event, /*allow_exceptions=*/false);
  if (header.is_discarded()) return Invalid(source, "header is not valid JSON");
  if (duplicate) return Invalid(source, fmt::format("duplicate tensor name \"{}\"", duplicate_name));
  if (!header.is_object()) return Invalid(source, "header is not a JSON object");
  return header;
}

absl::StatusOr<TensorView> ParseEntry(const std::string& name, const nlohmann::json& entry, const uint8_t* data,
                                      size_t data_size, std::string_view source) {
  if (!entry.is_object()) return Invalid(source, fmt::format("tensor {}: entry is not an object", name));
  const auto dtype_it = entry.find("dtype");
  const auto shape_it = entry.find("shape");
  const auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end() || !dtype_it->is_string()) return Invalid(source, fmt::format("tensor {}: missing dtype", name));
  if (shape_it == entry.end() || !shape_it->is_array()) return Invalid(source, fmt::format("tensor {}: missing shape", name));
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    return Invalid(source, fmt::format("tensor {}: data_offsets must be two non-negative integers", name));
  }
  TensorView view;
  view.name = name;
  absl::StatusOr<DType> dtype = ParseDType(dtype_it->get<std::string>());
  if (!dtype.ok()) return Invalid(source, fmt::format("tensor {}: {}", name, std::string(dtype.status().message())));
  view.dtype = *dtype;
  uint64_t elements = 1;
  for (const auto& dim : *shape_it) {
    if (!dim.is_number_unsigned()) return Invalid(source, fmt::format("tensor {}: shape entries must be non-negative integers", name));
    const uint64_t d = dim.get<uint64_t>();
    if (d != 0 && elements > (uint64_t{1} << 62) / d) return Invalid(source, fmt::format("tensor {}: shape too large", name));
    elements *= d;
    view.shape.push_back(static_cast<int64_t>(d));
  }
  const uint64_t begin = (*offsets_it)[0].get<uint64_t>();
  const uint64_t end = (*offsets_it)[1].get<uint64_t>();
  if (begin > end) return Invalid(source, fmt::format("tensor {}: data_offsets begin {} > end {}", name, begin, end));
  if (end > data_size) {
    return Invalid(source, fmt::format("tensor {}: data_offsets end {} beyond the data section ({} bytes)", name, end,
                                       data_size));
  }
  if (end - begin != elements * DTypeSize(view.dtype)) {
    return Invalid(source, fmt::format("tensor {}: {} bytes do not match shape x dtype ({} x {} bytes)", name,
                                       end - begin, elements, DTypeSize(view.dtype)));
  }
  view.data = data + begin;
  view.nbytes = static_cast<size_t>(end - begin);
  return view;
}

}  // namespace

absl::Status ParseSafetensors(const uint8_t* data, size_t size, std::string_view source,
                              std::map<std::string, TensorView, std::less<>>* tensors,
                              std::map<std::string, std::string>* metadata) {
  if (size < kHeaderLengthBytes) return Invalid(source, fmt::format("truncated file ({} bytes)", size));
  uint64_t header_len = 0;
  std::memcpy(&header_len, data, kHeaderLengthBytes);  // little-endian on every platform we build for
  if (header_len > size - kHeaderLengthBytes || header_len > kMaxHeaderBytes) {
    return Invalid(source, fmt::format("header length {} beyond the file ({} bytes)", header_len, size));
  }
  const std::string_view text(reinterpret_cast<const char*>(data + kHeaderLengthBytes), header_len);
  ASSIGN_OR_RETURN(nlohmann::json header, ParseHeaderJson(text, source));
  const uint8_t* body = data + kHeaderLengthBytes + header_len;
  const size_t body_size = size - kHeaderLengthBytes - header_len;
  std::vector<std::pair<size_t, size_t>> ranges;
  std::vector<std::string> names;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return Invalid(source, "__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) return Invalid(source, fmt::format("__metadata__.{} is not a string", key));
        (*metadata)[key] = value.get<std::string>();
      }
      continue;
    }
    ASSIGN_OR_RETURN(TensorView view, ParseEntry(name, entry, body, body_size, source));
    if (tensors->count(name) != 0) return Invalid(source, fmt::format("duplicate tensor name \"{}\"", name));
    ranges.emplace_back(view.data - body, view.data - body + view.nbytes);
    names.push_back(name);
    tensors->emplace(name, std::move(view));
  }
  std::vector<size_t> order(ranges.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
  for (size_t k = 1; k < order.size(); ++k) {
    const auto& prev = ranges[order[k - 1]];
    const auto& cur = ranges[order[k]];
    if (cur.first < prev.second && cur.first != cur.second && prev.first != prev.second) {
      return Invalid(source, fmt::format("tensors {} and {} overlap", names[order[k - 1]], names[order[k]]));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::path target = path;
  if (std::filesystem::is_directory(path, ec)) {
    if (std::filesystem::exists(path / "model.safetensors.index.json", ec)) {
      target = path / "model.safetensors.index.json";
    } else if (std::filesystem::exists(path / "model.safetensors", ec)) {
      target = path / "model.safetensors";
    } else {
      return absl::NotFoundError(fmt::format("no model.safetensors or model.safetensors.index.json in {}", path.string()));
    }
  }
  SafetensorsFile file;
  const bool is_index = target.filename().string().size() > 5 &&
                        target.filename().string().substr(target.filename().string().size() - 5) == ".json";
  if (!is_index) {
    ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(target));
    file.files_.push_back(std::make_unique<MappedFile>(std::move(mapped)));
    RETURN_IF_ERROR(ParseSafetensors(file.files_.back()->data(), file.files_.back()->size(), target.string(),
                                     &file.tensors_, &file.metadata_));
    return file;
  }
  ASSIGN_OR_RETURN(nlohmann::json index, ReadJsonFile(target));
  const auto map_it = index.find("weight_map");
  if (!index.is_object() || map_it == index.end() || !map_it->is_object()) {
    return Invalid(target.string(), "no weight_map object");
  }
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, shard] : map_it->items()) {
    if (!shard.is_string()) return Invalid(target.string(), fmt::format("weight_map.{} is not a string", name));
    const std::string shard_name = shard.get<std::string>();
    if (shard_name.find('/') != std::string::npos || shard_name == "..") {
      return Invalid(target.string(), fmt::format("shard name \"{}\" leaves the folder", shard_name));
    }
    by_shard[shard_name].push_back(name);
  }
  for (const auto& [shard, names] : by_shard) {
    ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(target.parent_path() / shard));
    file.files_.push_back(std::make_unique<MappedFile>(std::move(mapped)));
    std::map<std::string, TensorView, std::less<>> shard_tensors;
    RETURN_IF_ERROR(ParseSafetensors(file.files_.back()->data(), file.files_.back()->size(),
                                     (target.parent_path() / shard).string(), &shard_tensors, &file.metadata_));
    for (const std::string& name : names) {
      auto it = shard_tensors.find(name);
      if (it == shard_tensors.end()) {
        return Invalid(target.string(), fmt::format("tensor {} is not in its shard {}", name, shard));
      }
      file.tensors_.emplace(name, it->second);
    }
  }
  return file;
}

const TensorView* SafetensorsFile::Find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

absl::StatusOr<TensorView> SafetensorsFile::Get(std::string_view name) const {
  const TensorView* view = Find(name);
  if (view == nullptr) return absl::NotFoundError(fmt::format("missing tensor {}", name));
  return *view;
}

std::vector<std::string> SafetensorsFile::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, view] : tensors_) names.push_back(name);
  return names;
}

}  // namespace transmla
