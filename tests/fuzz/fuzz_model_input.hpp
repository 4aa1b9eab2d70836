#pragma once
// The input of the harnesses that read model files (fuzz_model, fuzz_onnx): the file's bytes, then
// one byte of options (last, so a mutated file stays whole in front): 1 allow_nonfinite,
// 2 convert_precision, 4 through a file on disk, 8 into float (else double).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

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

/**
 * Decodes the input and runs read(T{}, input) with T float or double as its flags say. mlpkit::Error
 * is the documented outcome for bytes that are no model (malformed, truncated, inconsistent,
 * non-finite, not importable); anything else escapes to the fuzzer.
 */
template <class Read>
int read_model_input(const std::uint8_t* data, std::size_t size, Read&& read) {
  const ModelFuzzInput input = model_fuzz_input(data, size);
  try {
    if (input.as_float)
      read(float{}, input);
    else
      read(double{}, input);
  } catch (const Error&) {
  }
  return 0;
}

/** Writes `bytes` to a file of this process named `stem` + `extension`, runs use(path) and removes the file, also when use throws. */
template <class Use>
void with_file(const std::string& bytes, const std::string& stem, const std::string& extension, Use&& use) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / (stem + std::to_string(::getpid()) + extension);
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  try {
    use(path);
  } catch (...) {
    std::filesystem::remove(path);
    throw;
  }
  std::filesystem::remove(path);
}

/** The model survives to_bytes → from_bytes with its dims and θ bit for bit, and predicts; returns the copy read back. */
template <class T>
Model<T> check_round_trip(const Model<T>& model, const ModelLoadOptions& options) {
  Model<T> again = Model<T>::from_bytes(model.to_bytes(), options);
  const std::span<const T> theta = model.network().parameters(), back = again.network().parameters();
  MLPKIT_FUZZ_CHECK(again.network().config().dims == model.network().config().dims, "round trip changed dims");
  MLPKIT_FUZZ_CHECK(back.size() == theta.size() && (theta.empty() || std::memcmp(back.data(), theta.data(), theta.size_bytes()) == 0),
                    "round trip changed θ");
  const std::size_t inputs = model.network().config().dims.front();
  const std::vector<T> x(inputs * 2, T(0.5));
  (void)model.predict({x.data(), inputs, 2, 2});
  return again;
}

}  // namespace mlpkit::fuzz
