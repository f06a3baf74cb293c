#include "client/progress_bar.h"

#include <unistd.h>

#include <cstdio>

#include "fmt/format.h"

namespace transmla::cli {

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)),
      terminal_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      logged_at_(start_) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(int64_t done, int64_t total, const std::string& detail) {
  if (total <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double fraction = static_cast<double>(done) / static_cast<double>(total);
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = done > 0 ? elapsed * (static_cast<double>(total - done) / static_cast<double>(done)) : 0.0;
  if (!terminal_) {
    const bool first = logged_done_ == 0 && done > 0;
    const bool due = std::chrono::duration<double>(now - logged_at_).count() >= 10.0;
    if (done == logged_done_ || !(first || due || done == total)) return;
    std::fprintf(stderr, "%s: %lld/%lld %.0f%% %.1fs ETA %.1fs %s\n", label_.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), 100.0 * fraction, elapsed, eta, detail.c_str());
    logged_done_ = done;
    logged_at_ = now;
    return;
  }
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::fprintf(stderr, "\r%s [%s%s] %lld/%lld %3.0f%% %.1fs ETA %.1fs %s\033[K", label_.c_str(),
               std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
               static_cast<long long>(done), static_cast<long long>(total), 100.0 * fraction, elapsed, eta,
               detail.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace transmla::cli
