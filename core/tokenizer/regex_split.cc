#include "core/tokenizer/regex_split.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace transmla {

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

absl::StatusOr<RegexSplitter> RegexSplitter::Create(std::string_view pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // MATCH_INVALID_UTF: user text may hold invalid UTF-8; such bytes just never match.
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code,
                                   &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return absl::InvalidArgumentError(fmt::format("cannot compile pre-tokenizer regex '{}' at offset {}: {}",
                                                  std::string(pattern), error_offset,
                                                  reinterpret_cast<const char*>(message)));
  }
  // JIT is an optimisation only: when unavailable, pcre2_match interprets the pattern.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  auto compiled = std::make_shared<Compiled>();
  compiled->code = code;
  return RegexSplitter(std::move(compiled));
}

void RegexSplitter::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  if (text.empty()) return;
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(compiled_->code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t gap_start = 0;
  size_t offset = 0;
  while (offset < text.size()) {
    const int rc = pcre2_match(compiled_->code, subject, text.size(), offset, 0, match, nullptr);
    if (rc < 0) break;  // no further match (or a matching error): the rest is one gap
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (begin > gap_start) pieces->push_back(text.substr(gap_start, begin - gap_start));
    if (end > begin) {
      pieces->push_back(text.substr(begin, end - begin));
      gap_start = end;
      offset = end;
    } else {
      // An empty match splits nothing; step past one byte so the scan always advances.
      gap_start = begin;
      offset = begin + 1;
    }
  }
  if (gap_start < text.size()) pieces->push_back(text.substr(gap_start));
  pcre2_match_data_free(match);
}

}  // namespace transmla
