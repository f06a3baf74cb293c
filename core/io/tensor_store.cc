#include "core/io/tensor_store.h"

#include "absl/strings/str_join.h"
#include "core/io/safetensors.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {

absl::StatusOr<TensorStore> TensorStore::OpenSafetensors(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  auto shared = std::make_shared<SafetensorsFile>(std::move(file));
  TensorStore store;
  for (const std::string& name : shared->Names()) store.AddView(*shared->Find(name));
  store.KeepAlive(shared);
  return store;
}

void TensorStore::AddView(TensorView view) {
  std::string name = view.name;
  tensors_.insert_or_assign(std::move(name), std::move(view));
}

void TensorStore::AddOwned(std::string name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
  auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  TensorView view;
  view.name = std::move(name);
  view.dtype = dtype;
  view.shape = std::move(shape);
  view.data = owned->data();
  view.nbytes = owned->size();
  owners_.push_back(std::move(owned));
  AddView(std::move(view));
}

const TensorView* TensorStore::Find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

absl::StatusOr<TensorView> TensorStore::Get(std::string_view name) const {
  const TensorView* view = Find(name);
  if (view == nullptr) return absl::NotFoundError(fmt::format("missing tensor {}", name));
  return *view;
}

absl::StatusOr<TensorView> TensorStore::Get(std::string_view name, const std::vector<int64_t>& shape) const {
  ASSIGN_OR_RETURN(TensorView view, Get(name));
  if (view.shape != shape) {
    return absl::InvalidArgumentError(fmt::format("tensor {} has shape [{}], expected [{}]", name,
                                                  absl::StrJoin(view.shape, ","), absl::StrJoin(shape, ",")));
  }
  return view;
}

std::vector<std::string> TensorStore::Names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, view] : tensors_) names.push_back(name);
  return names;
}

}  // namespace transmla
