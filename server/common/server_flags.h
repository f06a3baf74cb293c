#ifndef TRANSMLA_SERVER_COMMON_SERVER_FLAGS_H_
#define TRANSMLA_SERVER_COMMON_SERVER_FLAGS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace transmla::server {

// Which binary the flags are for: each accepts its own flags and the common ones.
enum class ServiceKind { kConversion, kInference };

// Settings of a service binary. Each can come from, in increasing precedence: its default, a
// config file (--config FILE: "name = value" lines, '#' comments, repeatable names repeated), the
// environment (TRANSMLA_<NAME> with '-' as '_', upper case; repeatable values separated by ','),
// and the command line (--name VALUE or --name=VALUE). A repeatable setting takes all its values
// from the highest source that sets it.
struct ServerFlags {
  std::string listen = "0.0.0.0:50051";        // --listen HOST:PORT (port 0: any free port)
  std::vector<std::string> model_roots;        // --model-root DIR (repeatable; required): readable models
  std::string artifact_root;                   // --artifact-root DIR (required): where outputs are written
  std::string state_dir;                       // --state-dir DIR (required): the job database
  int concurrency = 1;                         // --concurrency N: jobs converting at once (1..64)
  int queue_limit = 64;                        // --queue-limit N: queued jobs beyond which SubmitJob is RESOURCE_EXHAUSTED
  int max_attempts = 3;                        // --max-attempts N: restarts a job survives before it is FAILED
  std::string tls_cert;                        // --tls-cert PEM: server certificate chain (TLS on when set)
  std::string tls_key;                         // --tls-key PEM: its private key
  std::string tls_client_ca;                   // --tls-client-ca PEM: require client certificates signed by it (mTLS)
  std::vector<std::string> auth_tokens;        // --auth-token T (repeatable) and lines of --auth-token-file FILE
  int metrics_port = 9464;                     // --metrics-port N: Prometheus /metrics (0: any free port, -1: off)
  std::string metrics_address = "0.0.0.0";     // --metrics-address HOST
  std::string log_level = "info";              // --log-level trace|debug|info|warn|error
  std::string log_format = "text";             // --log-format text|json
  double shutdown_grace_seconds = 10;          // --shutdown-grace-seconds S: SIGTERM waits this long for running jobs
  std::string ready_file;                      // --ready-file PATH: JSON with the bound ports, written once serving
  // Inference only.
  std::vector<std::string> loads;              // --load NAME=PATH (repeatable): models loaded at start
  std::string device = "auto";                 // --device cpu|cuda|auto
  std::string gpu_dtype = "auto";              // --gpu-dtype auto|bf16|f16|f32
  int threads = 0;                             // --threads N: CPU threads per model's steps (0: all cores)
  int max_batch = 32;                          // --max-batch N: sequences of one model decoding together
  int64_t max_kv_bytes = 0;                    // --max-kv-bytes N: KV-cache budget per model (0: unlimited)
};

using GetEnv = std::function<const char*(const char*)>;

// Parses argv (argv[0] is the program) with the sources above. Fails with InvalidArgument naming
// the flag (unknown flag, missing value, bad number, out of range, missing required setting).
absl::StatusOr<ServerFlags> ParseServerFlags(const std::vector<std::string>& args, const GetEnv& getenv,
                                             ServiceKind kind = ServiceKind::kConversion);

// One line per flag, for --help.
std::string ServerFlagsUsage(ServiceKind kind = ServiceKind::kConversion);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_COMMON_SERVER_FLAGS_H_
