#ifndef TRANSMLA_TESTS_SERVER_SERVER_PROCESS_H_
#define TRANSMLA_TESTS_SERVER_SERVER_PROCESS_H_

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "transmla/v1/conversion_service.grpc.pb.h"

namespace transmla::testing {

// A real transmla-convert-server (or transmla-inference-server) process on a loopback port chosen by the kernel (--listen
// 127.0.0.1:0; the bound ports come back through --ready-file). Its log goes to <state_dir>/server.log.
class ServerProcess {
 public:
  struct Options {
    std::filesystem::path model_root;
    std::filesystem::path artifact_root;
    std::filesystem::path state_dir;
    int concurrency = 1;
    std::vector<std::string> extra_flags;
  };

  // Starts the server and waits (up to 60 s) until it serves. Returns nullptr after ADD_FAILURE.
  static std::unique_ptr<ServerProcess> Start(const Options& options);
  // The same for transmla-inference-server; its ready file and log live in `scratch`.
  static std::unique_ptr<ServerProcess> StartInference(const std::filesystem::path& model_root,
                                                       const std::filesystem::path& scratch,
                                                       const std::vector<std::string>& extra_flags);
  ~ServerProcess();  // SIGKILL if still running

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }

  std::shared_ptr<grpc::Channel> Channel() const;
  std::unique_ptr<transmla::v1::ConversionService::Stub> Stub() const;

  // Sends `signal` and waits for the exit; returns the exit status (128+signal when killed), or
  // -1 when it did not exit within `timeout_s`.
  int Stop(int signal, double timeout_s = 60);
  void Signal(int signal);
  std::string Log() const;

 private:
  ServerProcess(pid_t pid, std::filesystem::path log) : pid_(pid), log_(std::move(log)) {}
  static std::unique_ptr<ServerProcess> Launch(std::vector<std::string> args, const std::filesystem::path& scratch);

  pid_t pid_;
  std::filesystem::path log_;
  int port_ = 0;
  int metrics_port_ = -1;
};

// Fetches http://127.0.0.1:port/path with a plain socket (the metrics endpoint). Empty on failure.
std::string HttpGet(int port, const std::string& path);

}  // namespace transmla::testing

#endif  // TRANSMLA_TESTS_SERVER_SERVER_PROCESS_H_
