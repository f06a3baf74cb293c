#ifndef TRANSMLA_CLIENT_PROGRESS_BAR_H_
#define TRANSMLA_CLIENT_PROGRESS_BAR_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace transmla::cli {

// A one-line progress bar on stderr, drawn only when stderr is a terminal (pipes and logs stay
// clean): label, bar, done/total, percent, rate and ETA.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  void Update(int64_t done, int64_t total, const std::string& detail = "");
  // Ends the line (if one was drawn).
  void Finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_PROGRESS_BAR_H_
