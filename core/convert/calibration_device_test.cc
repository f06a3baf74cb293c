#include "core/convert/calibration_device.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace transmla::convert {
namespace {

class FakeRunner : public BlockRunner {
 public:
  absl::StatusOr<cpu::Mat> Run(const ModelConfig&, const TensorStore&, int64_t, const cpu::Mat& hidden,
                               absl::Span<const cpu::SequenceSlice>) override {
    return hidden;
  }
  std::string device() const override { return "fake:0"; }
};

// A GPU backend whose device is there or not, and that runs llama only.
GpuBackend FakeBackend(bool device_present) {
  GpuBackend b;
  b.name = "cuda";
  b.available = [device_present](std::string* why) {
    if (!device_present && why != nullptr) *why = "driver not loaded";
    return device_present;
  };
  b.supports = [](const ModelConfig& c) { return c.architecture == Architecture::kLlama; };
  b.create_block_runner = []() -> absl::StatusOr<std::unique_ptr<BlockRunner>> {
    return std::unique_ptr<BlockRunner>(std::make_unique<FakeRunner>());
  };
  return b;
}

ModelConfig Llama() {
  ModelConfig c;
  c.model_type = "llama";
  c.architecture = Architecture::kLlama;
  return c;
}

std::string DeviceOf(const std::string& device, const ModelConfig& config, const GpuBackend* gpu) {
  absl::StatusOr<std::unique_ptr<BlockRunner>> runner = MakeBlockRunner(device, config, gpu);
  EXPECT_TRUE(runner.ok()) << runner.status();
  return runner.ok() ? (*runner)->device() : "";
}

TEST(CalibrationDeviceTest, UnknownNamesAreInvalidArgument) {
  const GpuBackend gpu = FakeBackend(true);
  for (const char* name : {"", "gpu", "CUDA", "cuda:0", "tpu"}) {
    const absl::Status s = CheckCalibrationDevice(name, Llama(), &gpu);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_NE(s.message().find("auto, cpu or cuda"), std::string::npos) << s;
    EXPECT_EQ(MakeBlockRunner(name, Llama(), &gpu).status().code(), absl::StatusCode::kInvalidArgument) << name;
  }
}

TEST(CalibrationDeviceTest, CudaWithoutAUsableGpuIsFailedPreconditionSayingWhy) {
  const GpuBackend absent = FakeBackend(false), present = FakeBackend(true);
  ModelConfig deepseek;
  deepseek.model_type = "deepseek_v3";
  deepseek.architecture = Architecture::kDeepseekV3;
  const struct {
    const GpuBackend* gpu;
    ModelConfig config;
    const char* why;
  } cases[] = {{nullptr, Llama(), "no GPU backend"},
               {&absent, Llama(), "driver not loaded"},
               {&present, deepseek, "does not run model_type deepseek_v3"}};
  for (const auto& c : cases) {
    const absl::Status s = CheckCalibrationDevice("cuda", c.config, c.gpu);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_NE(s.message().find(c.why), std::string::npos) << s;
    EXPECT_EQ(MakeBlockRunner("cuda", c.config, c.gpu).status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(DeviceOf("auto", c.config, c.gpu), "cpu") << "auto falls back where cuda is refused: " << c.why;
  }
}

TEST(CalibrationDeviceTest, AutoTakesAUsableGpuAndCpuInsistsOnTheCpu) {
  const GpuBackend gpu = FakeBackend(true);
  EXPECT_TRUE(CheckCalibrationDevice("cuda", Llama(), &gpu).ok());
  EXPECT_EQ(DeviceOf("cuda", Llama(), &gpu), "fake:0");
  EXPECT_EQ(DeviceOf("auto", Llama(), &gpu), "fake:0");
  EXPECT_EQ(DeviceOf("cpu", Llama(), &gpu), "cpu");
  EXPECT_EQ(DeviceOf("cpu", Llama(), nullptr), "cpu");
}

}  // namespace
}  // namespace transmla::convert
