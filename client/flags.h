#ifndef TRANSMLA_CLIENT_FLAGS_H_
#define TRANSMLA_CLIENT_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace transmla::cli {

// A subcommand's flags: `--name value`, `--name=value`, and booleans (`--json`). Every flag a
// command reads must be declared, so a misspelt flag is an error naming it, not silently ignored.
class Flags {
 public:
  // `value_flags` take a value (repeatable ones collect all), `bool_flags` take none.
  static absl::StatusOr<Flags> Parse(const std::vector<std::string>& args, const std::set<std::string>& value_flags,
                                     const std::set<std::string>& bool_flags);

  bool Has(const std::string& name) const { return values_.count(name) > 0 || bools_.count(name) > 0; }
  bool Bool(const std::string& name) const { return bools_.count(name) > 0; }
  // The last value given for `name`, or nullopt.
  std::optional<std::string> Get(const std::string& name) const;
  std::vector<std::string> GetAll(const std::string& name) const;
  // The value of a flag the command cannot run without; InvalidArgument("missing --name") otherwise.
  absl::StatusOr<std::string> Required(const std::string& name) const;
  absl::StatusOr<int64_t> Int(const std::string& name, int64_t fallback) const;
  absl::StatusOr<double> Double(const std::string& name, double fallback) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> bools_;
};

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_FLAGS_H_
