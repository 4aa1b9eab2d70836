#pragma once
// The input of the harnesses that read model files (fuzz_model, fuzz_onnx): the file's bytes, then
// one byte of options (last, so a mutated file stays whole in front): 1 allow_nonfinite,
// 2 convert_precision, 4 through a file on disk, 8 into float (else double).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "mlpkit/model.hpp"

namespace mlpkit::fuzz {

struct ModelFuzzInput {
  std::string bytes;
  ModelLoadOptions options;
  bool through_file = false;
  bool as_float = false;
};

inline ModelFuzzInput model_fuzz_input(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto flags = in.ConsumeIntegral<std::uint8_t>();  // FuzzedDataProvider takes integers from the end
  ModelFuzzInput input;
  input.options.allow_nonfinite = (flags & 1) != 0;
  input.options.convert_precision = (flags & 2) != 0;
  input.through_file = (flags & 4) != 0;
  input.as_float = (flags & 8) != 0;
  input.bytes = in.ConsumeRemainingBytesAsString();
  return input;
}

}  // namespace mlpkit::fuzz
