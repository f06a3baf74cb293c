#include "server/common/server_flags.h"

#include <charconv>
#include <fstream>
#include <map>
#include <set>

#include "fmt/format.h"

namespace transmla::server {
namespace {

struct FlagSpec {
  const char* name;
  bool repeatable;
  const char* help;
};

constexpr FlagSpec kFlags[] = {
    {"listen", false, "HOST:PORT to serve gRPC on (port 0: any free port)"},
    {"model-root", true, "directory whose models jobs may read (repeatable)"},
    {"artifact-root", false, "directory where job outputs are written"},
    {"state-dir", false, "directory of the job database"},
    {"concurrency", false, "jobs converting at once"},
    {"queue-limit", false, "queued jobs beyond which SubmitJob is refused"},
    {"max-attempts", false, "server restarts a running job survives before it is failed"},
    {"tls-cert", false, "PEM server certificate chain (enables TLS)"},
    {"tls-key", false, "PEM private key of --tls-cert"},
    {"tls-client-ca", false, "PEM CA that client certificates must chain to (enables mTLS)"},
    {"auth-token", true, "bearer token accepted on service calls (repeatable)"},
    {"auth-token-file", false, "file with one accepted bearer token per line"},
    {"metrics-port", false, "Prometheus /metrics port (0: any free port, -1: off)"},
    {"metrics-address", false, "address the metrics endpoint binds"},
    {"log-level", false, "trace|debug|info|warn|error"},
    {"log-format", false, "text|json"},
    {"shutdown-grace-seconds", false, "how long SIGTERM waits for running jobs before checkpointing them"},
    {"ready-file", false, "write {\"port\":..,\"metrics_port\":..} here once serving"},
    {"config", false, "file of \"name = value\" lines"},
};

using Values = std::map<std::string, std::vector<std::string>>;

const FlagSpec* FindFlag(const std::string& name) {
  for (const FlagSpec& f : kFlags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::string Trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

absl::Status ParseCommandLine(const std::vector<std::string>& args, Values* out) {
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
    if (FindFlag(name) == nullptr) return absl::InvalidArgumentError(fmt::format("unknown flag --{}", name));
    (*out)[name].push_back(value);
  }
  return absl::OkStatus();
}

absl::Status ParseConfigFile(const std::string& path, Values* out) {
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
    if (FindFlag(name) == nullptr || name == "config") {
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

void ReadEnvironment(const GetEnv& getenv, Values* out) {
  for (const FlagSpec& f : kFlags) {
    if (std::string(f.name) == "config") continue;
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

absl::StatusOr<ServerFlags> Interpret(const Values& v) {
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
  if (auto it = v.find("shutdown-grace-seconds"); it != v.end() && !it->second.empty()) {
    int seconds = 0;
    if (absl::Status s = ParseInt("shutdown-grace-seconds", it->second.back(), 0, 86400, &seconds); !s.ok()) return s;
    f.shutdown_grace_seconds = seconds;
  }
  if (absl::Status s = CheckListen(f.listen); !s.ok()) return s;
  if (f.model_roots.empty()) return absl::InvalidArgumentError("--model-root is required");
  if (f.artifact_root.empty()) return absl::InvalidArgumentError("--artifact-root is required");
  if (f.state_dir.empty()) return absl::InvalidArgumentError("--state-dir is required");
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

absl::StatusOr<ServerFlags> ParseServerFlags(const std::vector<std::string>& args, const GetEnv& getenv) {
  Values command_line;
  if (absl::Status s = ParseCommandLine(args, &command_line); !s.ok()) return s;
  Values merged;
  std::string config_path;
  if (auto it = command_line.find("config"); it != command_line.end()) {
    config_path = it->second.back();
  } else if (const char* env = getenv(EnvName("config").c_str()); env != nullptr) {
    config_path = env;
  }
  if (!config_path.empty()) {
    if (absl::Status s = ParseConfigFile(config_path, &merged); !s.ok()) return s;
  }
  Values environment;
  ReadEnvironment(getenv, &environment);
  // Later sources replace earlier ones name by name (a repeatable list is replaced whole).
  for (const Values* source : {&environment, &command_line}) {
    for (const auto& [name, values] : *source) merged[name] = values;
  }
  return Interpret(merged);
}

std::string ServerFlagsUsage() {
  std::string usage;
  for (const FlagSpec& f : kFlags) {
    usage += fmt::format("  --{:<24} {} (env {})\n", f.name, f.help, EnvName(f.name));
  }
  return usage;
}

}  // namespace transmla::server
