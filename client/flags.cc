#include "client/flags.h"

#include <cstdlib>

#include "fmt/format.h"

namespace transmla::cli {

absl::StatusOr<Flags> Flags::Parse(const std::vector<std::string>& args, const std::set<std::string>& value_flags,
                                   const std::set<std::string>& bool_flags) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) return absl::InvalidArgumentError(fmt::format("unexpected argument \"{}\"", arg));
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (bool_flags.count(name) > 0) {
      if (value) return absl::InvalidArgumentError(fmt::format("--{} takes no value", name));
      flags.bools_.insert(name);
    } else if (value_flags.count(name) > 0) {
      if (!value) {
        if (i + 1 >= args.size()) return absl::InvalidArgumentError(fmt::format("--{} needs a value", name));
        value = args[++i];
      }
      flags.values_[name].push_back(*value);
    } else {
      return absl::InvalidArgumentError(fmt::format("unknown flag --{}", name));
    }
  }
  return flags;
}

std::optional<std::string> Flags::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Flags::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

absl::StatusOr<std::string> Flags::Required(const std::string& name) const {
  std::optional<std::string> v = Get(name);
  if (!v) return absl::InvalidArgumentError(fmt::format("missing --{}", name));
  return *v;
}

absl::StatusOr<int64_t> Flags::Int(const std::string& name, int64_t fallback) const {
  std::optional<std::string> v = Get(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0') return absl::InvalidArgumentError(fmt::format("--{} must be an integer, got \"{}\"", name, *v));
  return static_cast<int64_t>(parsed);
}

absl::StatusOr<double> Flags::Double(const std::string& name, double fallback) const {
  std::optional<std::string> v = Get(name);
  if (!v) return fallback;
  char* end = nullptr;
  const double parsed = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0') return absl::InvalidArgumentError(fmt::format("--{} must be a number, got \"{}\"", name, *v));
  return parsed;
}

}  // namespace transmla::cli
