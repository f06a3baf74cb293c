// Conversion at scale: converts a (synthetic) checkpoint data-free and compares the wall time with
// the floor of just reading every input tensor and writing an output of the same size, in the same
// run; each phase runs in a child process so its peak RSS is its own.
//
//   build/tools/make_synthetic_model --preset llama3-8b --out /tmp/llama3-8b --dtype bf16
//   build/bench/convert_scale_bench --model /tmp/llama3-8b --out /tmp/llama3-8b-mla
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/convert/converter.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_store.h"
#include "core/util/mapped_file.h"

namespace {

using Clock = std::chrono::steady_clock;

// Reads every tensor (widening to float, as the converter does) and writes it back out: the I/O
// a conversion cannot avoid.
int CopyPhase(const std::string& model, const std::string& out) {
  auto store = transmla::TensorStore::OpenSafetensors(model);
  if (!store.ok()) return 1;
  std::filesystem::remove_all(out);
  std::filesystem::create_directories(out);
  std::vector<transmla::TensorSpec> specs;
  for (const std::string& name : store->Names()) {
    const transmla::TensorView* v = store->Find(name);
    specs.push_back({name, v->dtype, v->shape});
  }
  transmla::SafetensorsWriterOptions options;
  options.max_shard_bytes = size_t{4} << 30;
  auto writer = transmla::SafetensorsWriter::Create(out, specs, options);
  if (!writer.ok()) return 1;
  std::vector<float> values;
  for (const std::string& name : store->Names()) {
    const transmla::TensorView* v = store->Find(name);
    if (!transmla::ConvertToFloat(*v, &values).ok()) return 1;
    if (!(*writer)->WriteFloats(name, values.data(), values.size()).ok()) return 1;
    transmla::DropResidentPages(v->data, v->nbytes);
  }
  return (*writer)->Commit().ok() ? 0 : 1;
}

int ConvertPhase(const std::string& model, const std::string& out) {
  transmla::convert::ConversionOptions options;
  options.force = true;
  auto report = transmla::convert::ConvertModel(model, out, options);
  if (!report.ok()) {
    std::fprintf(stderr, "convert: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  std::printf("report: kv values/token/layer %d -> %d, parameters %lld -> %lld\n",
              (*report)["kv_values_per_token_per_layer"]["before"].get<int>(),
              (*report)["kv_values_per_token_per_layer"]["after"].get<int>(),
              (*report)["parameters"]["before"].get<long long>(), (*report)["parameters"]["after"].get<long long>());
  return 0;
}

struct PhaseResult {
  double seconds = 0;
  double peak_rss_gib = 0;
  int status = 0;
};

PhaseResult RunPhase(const char* self, const std::string& phase, const std::string& model, const std::string& out) {
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(self, self, "--phase", phase.c_str(), "--model", model.c_str(), "--out", out.c_str(), nullptr);
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  PhaseResult r;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.peak_rss_gib = usage.ru_maxrss / (1024.0 * 1024.0);  // ru_maxrss is in KiB
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string phase, model, out;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--phase") phase = argv[i + 1];
    if (flag == "--model") model = argv[i + 1];
    if (flag == "--out") out = argv[i + 1];
  }
  if (model.empty() || out.empty()) {
    std::fprintf(stderr, "usage: convert_scale_bench --model DIR --out DIR\n");
    return 2;
  }
  if (phase == "copy") return CopyPhase(model, out);
  if (phase == "convert") return ConvertPhase(model, out);
  const PhaseResult copy = RunPhase(argv[0], "copy", model, out + ".copy");
  std::filesystem::remove_all(out + ".copy");
  const PhaseResult convert = RunPhase(argv[0], "convert", model, out);
  std::printf("| phase | wall s | peak RSS GiB | status |\n|---|---|---|---|\n");
  std::printf("| read input + write same-size output (floor) | %.1f | %.2f | %d |\n", copy.seconds, copy.peak_rss_gib,
              copy.status);
  std::printf("| convert (deepseek, data-free) | %.1f | %.2f | %d |\n", convert.seconds, convert.peak_rss_gib,
              convert.status);
  std::printf("ratio convert / floor: %.2fx\n", convert.seconds / copy.seconds);
  return copy.status != 0 || convert.status != 0;
}
