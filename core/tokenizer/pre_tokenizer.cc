#include "core/tokenizer/pre_tokenizer.h"

#include "core/tokenizer/byte_level.h"

namespace transmla {
namespace {

std::string ReplaceAll(std::string_view text, std::string_view pattern, std::string_view content) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t hit; !pattern.empty() && (hit = text.find(pattern, pos)) != std::string_view::npos;
       pos = hit + pattern.size()) {
    out.append(text.substr(pos, hit - pos)).append(content);
  }
  out.append(text.substr(pos));
  return out;
}

void ByteLevelStep(const PreTokenizerStep& step, std::string piece, std::vector<std::string>* out) {
  if (step.add_prefix_space && (piece.empty() || piece[0] != ' ')) piece.insert(0, " ");
  std::vector<std::string_view> words;
  if (step.regex) {
    step.regex->Split(piece, &words);
  } else if (!piece.empty()) {
    words.push_back(piece);
  }
  for (std::string_view word : words) {
    std::string mapped;
    AppendByteLevelChars(word, &mapped);
    out->push_back(std::move(mapped));
  }
}

void MetaspaceStep(const PreTokenizerStep& step, const std::string& piece, bool first_piece,
                   std::vector<std::string>* out) {
  std::string text = ReplaceAll(piece, " ", step.replacement);
  const bool prefix = step.prepend == PreTokenizerStep::Prepend::kAlways ||
                      (step.prepend == PreTokenizerStep::Prepend::kFirst && first_piece);
  if (prefix && text.compare(0, step.replacement.size(), step.replacement) != 0) text.insert(0, step.replacement);
  if (!step.split) {
    if (!text.empty()) out->push_back(std::move(text));
    return;
  }
  // Behavior MergedWithNext: each replacement char starts a new word.
  size_t word_start = 0;
  for (size_t hit = text.find(step.replacement, 1); hit != std::string::npos;
       hit = text.find(step.replacement, hit + step.replacement.size())) {
    if (hit > word_start) out->push_back(text.substr(word_start, hit - word_start));
    word_start = hit;
  }
  if (word_start < text.size()) out->push_back(text.substr(word_start));
}

}  // namespace

void Normalize(const std::vector<NormalizerStep>& steps, std::string* text) {
  for (const NormalizerStep& step : steps) {
    switch (step.kind) {
      case NormalizerStep::Kind::kPrepend:
        if (!text->empty()) text->insert(0, step.content);
        break;
      case NormalizerStep::Kind::kReplace:
        *text = ReplaceAll(*text, step.pattern, step.content);
        break;
    }
  }
}

std::vector<std::string> PreTokenize(const std::vector<PreTokenizerStep>& steps, std::string segment,
                                     bool at_input_start) {
  std::vector<std::string> pieces;
  pieces.push_back(std::move(segment));
  for (const PreTokenizerStep& step : steps) {
    std::vector<std::string> next;
    next.reserve(pieces.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      switch (step.kind) {
        case PreTokenizerStep::Kind::kSplit: {
          std::vector<std::string_view> parts;
          step.regex->Split(pieces[i], &parts);
          for (std::string_view part : parts) next.emplace_back(part);
          break;
        }
        case PreTokenizerStep::Kind::kByteLevel:
          ByteLevelStep(step, std::move(pieces[i]), &next);
          break;
        case PreTokenizerStep::Kind::kMetaspace:
          MetaspaceStep(step, pieces[i], at_input_start && i == 0, &next);
          break;
      }
    }
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace transmla
