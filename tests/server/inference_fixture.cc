#include "tests/server/inference_fixture.h"

#include <thread>

#include "tests/testing/run_command.h"
#include "tests/testing/test_paths.h"

namespace transmla::testing {

namespace fs = std::filesystem;
namespace v1 = transmla::v1;

fs::path InferenceServerTest::model_root_;

// Test processes run in parallel and share the models: each is built in a scratch folder and
// renamed into place (the first rename wins; the others drop their copy).
void InferenceServerTest::SetUpTestSuite() {
  if (!model_root_.empty()) return;
  model_root_ = fs::path(TRANSMLA_BINARY_DIR) / "test_models";
  fs::create_directories(model_root_);
  if (!fs::exists(model_root_ / "stories260K")) {
    const fs::path scratch = MakeTempDir("stories_copy");
    fs::copy(BundledModelDir(), scratch / "m", fs::copy_options::recursive);
    std::error_code ec;
    fs::rename(scratch / "m", model_root_ / "stories260K", ec);
    fs::remove_all(scratch, ec);
  }
  if (!fs::exists(model_root_ / "serving-test")) {
    const fs::path scratch = MakeTempDir("serving_test_model");
    const CommandResult made = RunCommand({TRANSMLA_SYNTHETIC_MODEL_BINARY, "--preset", "serving-test", "--out",
                                           (scratch / "m").string(), "--dtype", "f32"});
    ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
    std::error_code ec;
    fs::rename(scratch / "m", model_root_ / "serving-test", ec);
    fs::remove_all(scratch, ec);
  }
}

void InferenceServerTest::SetUp() { dir_ = MakeTempDir("inference_server"); }

void InferenceServerTest::StartServer(const std::vector<std::string>& loads, std::vector<std::string> extra_flags) {
  for (const std::string& load : loads) {
    extra_flags.push_back("--load");
    extra_flags.push_back(load);
  }
  server_ = ServerProcess::StartInference(model_root_, dir_, extra_flags);
  ASSERT_NE(server_, nullptr);
  stub_ = v1::InferenceService::NewStub(server_->Channel());
  for (const std::string& load : loads) WaitReady(load.substr(0, load.find('=')));
}

void InferenceServerTest::WaitReady(const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext context;
    v1::GetModelRequest request;
    request.set_name(name);
    v1::Model model;
    const grpc::Status status = stub_->GetModel(&context, request, &model);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (model.state() == v1::MODEL_STATE_READY) return;
    ASSERT_NE(model.state(), v1::MODEL_STATE_FAILED) << model.failure_reason();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL() << "model " << name << " did not become READY";
}

v1::GenerateRequest InferenceServerTest::Request(const std::string& model, const std::string& prompt,
                                                 int max_tokens) const {
  v1::GenerateRequest request;
  request.set_model(model);
  request.set_prompt(prompt);
  request.mutable_sampling()->set_max_tokens(max_tokens);
  return request;
}

}  // namespace transmla::testing
