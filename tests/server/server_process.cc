#include "tests/server/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace transmla::testing {
namespace fs = std::filesystem;

std::unique_ptr<ServerProcess> ServerProcess::Start(const Options& options) {
  std::vector<std::string> args = {TRANSMLA_SERVER_BINARY,
                                   "--model-root", options.model_root.string(),
                                   "--artifact-root", options.artifact_root.string(),
                                   "--state-dir", options.state_dir.string(),
                                   "--concurrency", std::to_string(options.concurrency)};
  args.insert(args.end(), options.extra_flags.begin(), options.extra_flags.end());
  return Launch(std::move(args), options.state_dir);
}

std::unique_ptr<ServerProcess> ServerProcess::StartInference(const fs::path& model_root, const fs::path& scratch,
                                                             const std::vector<std::string>& extra_flags) {
  std::vector<std::string> args = {TRANSMLA_INFERENCE_SERVER_BINARY, "--model-root", model_root.string()};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  return Launch(std::move(args), scratch);
}

std::unique_ptr<ServerProcess> ServerProcess::Launch(std::vector<std::string> args, const fs::path& scratch) {
  fs::create_directories(scratch);
  const fs::path ready = scratch / "ready.json";
  const fs::path log = scratch / "server.log";
  fs::remove(ready);
  for (const char* flag : {"--listen", "127.0.0.1:0", "--metrics-port", "0", "--metrics-address", "127.0.0.1",
                           "--log-level", "debug", "--ready-file"}) {
    args.push_back(flag);
  }
  args.push_back(ready.string());
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::unique_ptr<ServerProcess> server(new ServerProcess(pid, log));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      ADD_FAILURE() << "server exited during start:\n" << server->Log();
      return nullptr;
    }
    std::ifstream in(ready);
    if (in) {
      const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
      if (!j.is_discarded()) {
        server->port_ = j["port"].get<int>();
        server->metrics_port_ = j["metrics_port"].get<int>();
        return server;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "server did not become ready:\n" << server->Log();
  return nullptr;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

std::shared_ptr<grpc::Channel> ServerProcess::Channel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

std::unique_ptr<transmla::v1::ConversionService::Stub> ServerProcess::Stub() const {
  return transmla::v1::ConversionService::NewStub(Channel());
}

void ServerProcess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

int ServerProcess::Stop(int signal, double timeout_s) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, static_cast<size_t>(n));
  close(fd);
  return response;
}

}  // namespace transmla::testing
