// Writes our engine's logits for the reference sequences of a safetensors file (ids_0, ids_1, ...)
// as logits_0, logits_1, ... so that another implementation can be compared with ours.
//
//   build/tools/dump_logits --model DIR --ids reference_logits.safetensors --out ours.safetensors
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "core/engine/model_loader.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_store.h"

namespace {

std::string Arg(int argc, char** argv, const std::string& flag) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return "";
}

int Fail(const std::string& message) {
  std::cerr << "dump_logits: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model_path = Arg(argc, argv, "--model"), ids_path = Arg(argc, argv, "--ids"),
                    out_path = Arg(argc, argv, "--out");
  if (model_path.empty() || ids_path.empty() || out_path.empty()) {
    return Fail("usage: dump_logits --model DIR --ids FILE --out FILE");
  }
  auto model = transmla::LoadModel(model_path);
  if (!model.ok()) return Fail(std::string(model.status().message()));
  auto ids_store = transmla::TensorStore::OpenSafetensors(ids_path);
  if (!ids_store.ok()) return Fail(std::string(ids_store.status().message()));
  const int64_t vocab = model->engine->config().vocab_size;
  std::vector<transmla::TensorSpec> specs;
  std::vector<std::vector<float>> all;
  for (int i = 0;; ++i) {
    const transmla::TensorView* view = ids_store->Find("ids_" + std::to_string(i));
    if (view == nullptr) break;
    std::vector<int32_t> ids(view->NumElements());
    for (size_t t = 0; t < ids.size(); ++t) {
      int64_t v;
      std::memcpy(&v, view->data + 8 * t, 8);
      ids[t] = static_cast<int32_t>(v);
    }
    auto seq = model->engine->NewSequence();
    std::vector<std::vector<float>> logits;
    if (auto s = model->engine->Forward({{seq.get(), ids, true}}, &logits); !s.ok()) return Fail(std::string(s.message()));
    specs.push_back({"logits_" + std::to_string(i), transmla::DType::kF32,
                     {static_cast<int64_t>(ids.size()), vocab}});
    all.push_back(std::move(logits[0]));
  }
  const std::filesystem::path out(out_path);
  std::filesystem::create_directories(out.parent_path().empty() ? "." : out.parent_path());
  auto writer = transmla::SafetensorsWriter::Create(out.parent_path().empty() ? "." : out.parent_path(), specs);
  if (!writer.ok()) return Fail(std::string(writer.status().message()));
  for (size_t i = 0; i < all.size(); ++i) {
    if (auto s = (*writer)->WriteFloats(specs[i].name, all[i].data(), all[i].size()); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }
  auto files = (*writer)->Commit();
  if (!files.ok()) return Fail(std::string(files.status().message()));
  std::filesystem::rename(files->front(), out);
  std::cout << "wrote " << all.size() << " logit tensors to " << out << "\n";
  return 0;
}
