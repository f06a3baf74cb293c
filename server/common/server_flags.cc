#include "server/common/server_flags.h"

#include <charconv>
#include <fstream>
#include <map>
#include <set>

#include "fmt/format.h"

namespace transmla::server {
namespace {

enum Services { kConversionOnly = 1, kInferenceOnly = 2, kBoth = 3 };

struct FlagSpec {
  const char* name;
  bool repeatable;
  Services services;
  const char* help;
};

constexpr FlagSpec kFlags[] = {
    {"listen", false, kBoth, "HOST:PORT to serve gRPC on (port 0: any free port)"},
    {"model-root", true, kBoth, "directory whose models requests may read (repeatable)"},
    {"artifact-root", false, kConversionOnly, "directory where job outputs are written"},
    {"state-dir", false, kConversionOnly, "directory of the job database"},
    {"concurrency", false, kConversionOnly, "jobs converting at once"},
    {"queue-limit", false, kBoth, "waiting jobs/requests beyond which new ones are RESOURCE_EXHAUSTED"},
    {"max-attempts", false, kConversionOnly, "server restarts a running job survives before it is failed"},
    {"load", true, kInferenceOnly, "NAME=PATH: load this model at start (repeatable)"},
    {"device", false, kInferenceOnly, "cpu|cuda|auto: where models run"},
    {"gpu-dtype", false, kInferenceOnly, "auto|bf16|f16|f32: how the GPU holds weights and KV cache"},
    {"threads", false, kInferenceOnly, "CPU threads each model's steps use (0: all cores; set it when serving several models)"},
    {"max-batch", false, kInferenceOnly, "sequences of one model decoding together at most"},
    {"max-kv-bytes", false, kInferenceOnly, "KV-cache bytes per model (0: unlimited)"},
    {"tls-cert", false, kBoth, "PEM server certificate chain (enables TLS)"},
    {"tls-key", false, kBoth, "PEM private key of --tls-cert"},
    {"tls-client-ca", false, kBoth, "PEM CA that client certificates must chain to (enables mTLS)"},
    {"auth-token", true, kBoth, "bearer token accepted on service calls (repeatable)"},
    {"auth-token-file", false, kBoth, "file with one accepted bearer token per line"},
    {"metrics-port", false, kBoth, "Prometheus /metrics port (0: any free port, -1: off)"},
    {"metrics-address", false, kBoth, "address the metrics endpoint binds"},
    {"log-level", false, kBoth, "trace|debug|info|warn|error"},
    {"log-format", false, kBoth, "text|json"},
    {"shutdown-grace-seconds", false, kBoth, "how long SIGTERM waits for running work to finish"},
    {"ready-file", false, kBoth, "write {\"port\":..,\"metrics_port\":..} here once serving"},
    {"config", false, kBoth, "file of \"name = value\" lines"},
};

using Values = std::map<std::string, std::vector<std::string>>;

bool Serves(const FlagSpec& f, ServiceKind kind) {
  return (f.services & (kind == ServiceKind::kConversion ? kConversionOnly : kInferenceOnly)) != 0;
}

const FlagSpec* FindFlag(const std::string& name, ServiceKind kind) {
  for (const FlagSpec& f : kFlags) {
    if (name == f.name && Serves(f, kind)) return &f;
  }
  return nullptr;
}

std::string Trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

absl::Status ParseCommandLine(const std::vector<std::string>& args, ServiceKind kind, Values* out) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) return absl::InvalidArgumentError(fmt::format("unexpected argument \"{}\"", arg));
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(fmt::format("--{} needs a value", name));
      value = args[++i];
    }
    if (FindFlag(name, kind) == nullptr) return absl::InvalidArgumentError(fmt::format("unknown flag --{}", name));
    (*out)[name].push_back(value);
  }
  return absl::OkStatus();
}

absl::Status ParseConfigFile(const std::string& path, ServiceKind kind, Values* out) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(fmt::format("--config: cannot read {}", path));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string content = Trim(line.substr(0, line.find('#')));
    if (content.empty()) continue;
    const size_t eq = content.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(fmt::format("--config {}:{}: expected \"name = value\"", path, number));
    }
    const std::string name = Trim(content.substr(0, eq));
    if (FindFlag(name, kind) == nullptr || name == "config") {
      return absl::InvalidArgumentError(fmt::format("--config {}:{}: unknown setting \"{}\"", path, number, name));
    }
    (*out)[name].push_back(Trim(content.substr(eq + 1)));
  }
  return absl::OkStatus();
}

std::string EnvName(const std::string& flag) {
  std::string name = "TRANSMLA_";
  for (char c : flag) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

void ReadEnvironment(const GetEnv& getenv, ServiceKind kind, Values* out) {
  for (const FlagSpec& f : kFlags) {
    if (std::string(f.name) == "config" || !Serves(f, kind)) continue;
    const char* value = getenv(EnvName(f.name).c_str());
    if (value == nullptr) continue;
    std::vector<std::string>& values = (*out)[f.name];
    if (!f.repeatable) {
      values.push_back(value);
      continue;
    }
    std::string item;
    for (const char* p = value;; ++p) {
      if (*p == ',' || *p == '\0') {
        if (!Trim(item).empty()) values.push_back(Trim(item));
        item.clear();
        if (*p == '\0') break;
      } else {
        item += *p;
      }
    }
  }
}

absl::Status ParseInt(const std::string& flag, const std::string& text, int min, int max, int* out) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return absl::InvalidArgumentError(fmt::format("--{} must be an integer in [{}, {}], got \"{}\"", flag, min, max, text));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status CheckListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !ParseInt("listen", listen.substr(colon + 1), 0, 65535, &port).ok()) {
    return absl::InvalidArgumentError(fmt::format("--listen must be HOST:PORT, got \"{}\"", listen));
  }
  return absl::OkStatus();
}

absl::Status ReadTokenFile(const std::string& path, std::vector<std::string>* tokens) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(fmt::format("--auth-token-file: cannot read {}", path));
  std::string line;
  while (std::getline(in, line)) {
    if (!Trim(line).empty()) tokens->push_back(Trim(line));
  }
  return absl::OkStatus();
}

absl::Status CheckLoads(const std::vector<std::string>& loads) {
  for (const std::string& load : loads) {
    const size_t eq = load.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == load.size()) {
      return absl::InvalidArgumentError(fmt::format("--load must be NAME=PATH, got \"{}\"", load));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerFlags> Interpret(const Values& v, ServiceKind kind) {
  ServerFlags f;
  auto one = [&](const char* name, std::string* out) {
    if (auto it = v.find(name); it != v.end() && !it->second.empty()) *out = it->second.back();
  };
  auto integer = [&](const char* name, int min, int max, int* out) -> absl::Status {
    if (auto it = v.find(name); it != v.end() && !it->second.empty()) return ParseInt(name, it->second.back(), min, max, out);
    return absl::OkStatus();
  };
  one("listen", &f.listen);
  if (auto it = v.find("model-root"); it != v.end()) f.model_roots = it->second;
  one("artifact-root", &f.artifact_root);
  one("state-dir", &f.state_dir);
  if (absl::Status s = integer("concurrency", 1, 64, &f.concurrency); !s.ok()) return s;
  if (absl::Status s = integer("queue-limit", 1, 1000000, &f.queue_limit); !s.ok()) return s;
  if (absl::Status s = integer("max-attempts", 1, 100, &f.max_attempts); !s.ok()) return s;
  if (absl::Status s = integer("metrics-port", -1, 65535, &f.metrics_port); !s.ok()) return s;
  one("tls-cert", &f.tls_cert);
  one("tls-key", &f.tls_key);
  one("tls-client-ca", &f.tls_client_ca);
  if (auto it = v.find("auth-token"); it != v.end()) f.auth_tokens = it->second;
  if (auto it = v.find("auth-token-file"); it != v.end() && !it->second.empty()) {
    if (absl::Status s = ReadTokenFile(it->second.back(), &f.auth_tokens); !s.ok()) return s;
  }
  one("metrics-address", &f.metrics_address);
  one("log-level", &f.log_level);
  one("log-format", &f.log_format);
  one("ready-file", &f.ready_file);
  if (auto it = v.find("load"); it != v.end()) f.loads = it->second;
  one("device", &f.device);
  one("gpu-dtype", &f.gpu_dtype);
  if (absl::Status s = integer("threads", 0, 4096, &f.threads); !s.ok()) return s;
  if (absl::Status s = integer("max-batch", 1, 4096, &f.max_batch); !s.ok()) return s;
  if (auto it = v.find("max-kv-bytes"); it != v.end() && !it->second.empty()) {
    const std::string& text = it->second.back();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), f.max_kv_bytes);
    if (ec != std::errc() || end != text.data() + text.size() || f.max_kv_bytes < 0) {
      return absl::InvalidArgumentError(fmt::format("--max-kv-bytes must be an integer >= 0, got \"{}\"", text));
    }
  }
  if (auto it = v.find("shutdown-grace-seconds"); it != v.end() && !it->second.empty()) {
    int seconds = 0;
    if (absl::Status s = ParseInt("shutdown-grace-seconds", it->second.back(), 0, 86400, &seconds); !s.ok()) return s;
    f.shutdown_grace_seconds = seconds;
  }
  if (absl::Status s = CheckListen(f.listen); !s.ok()) return s;
  if (f.model_roots.empty()) return absl::InvalidArgumentError("--model-root is required");
  if (kind == ServiceKind::kConversion) {
    if (f.artifact_root.empty()) return absl::InvalidArgumentError("--artifact-root is required");
    if (f.state_dir.empty()) return absl::InvalidArgumentError("--state-dir is required");
  } else {
    if (absl::Status s = CheckLoads(f.loads); !s.ok()) return s;
    if (f.device != "cpu" && f.device != "cuda" && f.device != "auto") {
      return absl::InvalidArgumentError(fmt::format("--device must be cpu, cuda or auto, got \"{}\"", f.device));
    }
  }
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (!f.tls_client_ca.empty() && f.tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.count(f.log_level)) {
    return absl::InvalidArgumentError(fmt::format("--log-level must be trace|debug|info|warn|error, got \"{}\"", f.log_level));
  }
  if (f.log_format != "text" && f.log_format != "json") {
    return absl::InvalidArgumentError(fmt::format("--log-format must be text or json, got \"{}\"", f.log_format));
  }
  return f;
}

}  // namespace

absl::StatusOr<ServerFlags> ParseServerFlags(const std::vector<std::string>& args, const GetEnv& getenv,
                                             ServiceKind kind) {
  Values command_line;
  if (absl::Status s = ParseCommandLine(args, kind, &command_line); !s.ok()) return s;
  Values merged;
  std::string config_path;
  if (auto it = command_line.find("config"); it != command_line.end()) {
    config_path = it->second.back();
  } else if (const char* env = getenv(EnvName("config").c_str()); env != nullptr) {
    config_path = env;
  }
  if (!config_path.empty()) {
    if (absl::Status s = ParseConfigFile(config_path, kind, &merged); !s.ok()) return s;
  }
  Values environment;
  ReadEnvironment(getenv, kind, &environment);
  // Later sources replace earlier ones name by name (a repeatable list is replaced whole).
  for (const Values* source : {&environment, &command_line}) {
    for (const auto& [name, values] : *source) merged[name] = values;
  }
  return Interpret(merged, kind);
}

std::string ServerFlagsUsage(ServiceKind kind) {
  std::string usage;
  for (const FlagSpec& f : kFlags) {
    if (!Serves(f, kind)) continue;
    usage += fmt::format("  --{:<24} {} (env {})\n", f.name, f.help, EnvName(f.name));
  }
  return usage;
}

}  // namespace transmla::server
