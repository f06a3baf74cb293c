#ifndef TRANSMLA_CLIENT_PROGRESS_BAR_H_
#define TRANSMLA_CLIENT_PROGRESS_BAR_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace transmla::cli {

// Progress on stderr: label, done/total, percent, elapsed time and ETA. On a terminal, one line
// redrawn with a bar; otherwise (pipes, job logs) a plain line at the first step, then at most
// every 10 seconds and at the end, so a log shows how far a killed job got.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  void Update(int64_t done, int64_t total, const std::string& detail = "");
  // Ends the line (if one was drawn).
  void Finish();

 private:
  std::string label_;
  bool terminal_;
  bool drawn_ = false;
  int64_t logged_done_ = 0;
  std::chrono::steady_clock::time_point start_, logged_at_;
};

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_PROGRESS_BAR_H_
