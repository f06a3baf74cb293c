#include "core/convert/options.h"

#include "fmt/format.h"

namespace transmla::convert {

absl::StatusOr<Mode> ParseMode(const std::string& name) {
  if (name == "exact") return Mode::kExact;
  if (name == "deepseek") return Mode::kDeepseek;
  return absl::InvalidArgumentError(fmt::format("unknown mode \"{}\" (expected exact or deepseek)", name));
}

std::string ModeName(Mode mode) { return mode == Mode::kExact ? "exact" : "deepseek"; }

}  // namespace transmla::convert
