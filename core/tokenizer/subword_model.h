#ifndef TRANSMLA_CORE_TOKENIZER_SUBWORD_MODEL_H_
#define TRANSMLA_CORE_TOKENIZER_SUBWORD_MODEL_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/tokenizer/vocab.h"

namespace transmla {

// The last stage of encoding: turns one normalized, pre-tokenized piece into ids.
class SubwordModel {
 public:
  virtual ~SubwordModel() = default;

  // Appends the ids of `word` to `ids`.
  virtual void Encode(std::string_view word, std::vector<int32_t>* ids) const = 0;

  virtual const Vocab& vocab() const = 0;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_SUBWORD_MODEL_H_
