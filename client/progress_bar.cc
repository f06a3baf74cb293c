#include "client/progress_bar.h"

#include <unistd.h>

#include <cstdio>

#include "fmt/format.h"

namespace transmla::cli {

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), enabled_(::isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(int64_t done, int64_t total, const std::string& detail) {
  if (!enabled_ || total <= 0) return;
  constexpr int kWidth = 30;
  const double fraction = static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(fraction * kWidth);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 ? elapsed * (static_cast<double>(total - done) / static_cast<double>(done)) : 0.0;
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
