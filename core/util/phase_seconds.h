// Wall-clock seconds per named phase of a piece of work, for reports that say where time went.
#ifndef TRANSMLA_CORE_UTIL_PHASE_SECONDS_H_
#define TRANSMLA_CORE_UTIL_PHASE_SECONDS_H_

#include <chrono>
#include <map>
#include <string>

#include "nlohmann/json.hpp"

namespace transmla {

class PhaseSeconds {
 public:
  using Clock = std::chrono::steady_clock;

  // Adds the time since `since` to `phase` and returns now, the start of whatever follows.
  Clock::time_point Add(const std::string& phase, Clock::time_point since) {
    const Clock::time_point now = Clock::now();
    seconds_[phase] += std::chrono::duration<double>(now - since).count();
    return now;
  }

  nlohmann::json ToJson() const { return nlohmann::json(seconds_); }

 private:
  std::map<std::string, double> seconds_;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_UTIL_PHASE_SECONDS_H_
