#ifndef TRANSMLA_CORE_IO_TENSOR_STORE_H_
#define TRANSMLA_CORE_IO_TENSOR_STORE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/io/tensor.h"

namespace transmla {

// Named tensors under Hugging Face names, whatever file they came from: views into memory maps
// (kept alive by the store) or buffers the store owns (tensors that had to be transformed on load,
// e.g. GGUF's interleaved Q/K rows). Movable, not copyable.
class TensorStore {
 public:
  TensorStore() = default;
  TensorStore(TensorStore&&) = default;
  TensorStore& operator=(TensorStore&&) = default;

  // Opens a safetensors checkpoint (file, index or folder) as a store of zero-copy views.
  static absl::StatusOr<TensorStore> OpenSafetensors(const std::filesystem::path& path);

  // Adds a view whose bytes are kept alive by something passed to KeepAlive (or outlive the store).
  // Replaces an existing tensor of the same name.
  void AddView(TensorView view);
  // Adds a tensor whose bytes the store owns.
  void AddOwned(std::string name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes);
  void KeepAlive(std::shared_ptr<const void> owner) { owners_.push_back(std::move(owner)); }

  const TensorView* Find(std::string_view name) const;
  // The tensor `name`, or NotFound("missing tensor <name>").
  absl::StatusOr<TensorView> Get(std::string_view name) const;
  // The tensor `name` checked to have `shape`, else InvalidArgument naming both shapes.
  absl::StatusOr<TensorView> Get(std::string_view name, const std::vector<int64_t>& shape) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, TensorView, std::less<>> tensors_;
  std::vector<std::shared_ptr<const void>> owners_;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_TENSOR_STORE_H_
