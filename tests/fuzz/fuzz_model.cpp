// Fuzzes the model-file reader: Model<T>::from_bytes, Model<T>::load and reload of arbitrary bytes (the
// input is a file, its last byte the options) must either throw mlpkit::Error or give a model that
// survives to_bytes → from_bytes bit for bit and predicts without crashing; never UB, never another
// exception. The seed corpus holds real files (float and double, with and without input statistics).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_model_input.hpp"
#include "fuzz_support.hpp"
#include "mlpkit/model.hpp"

using namespace mlpkit;

namespace {

template <class T>
bool same_bits(std::span<const T> a, std::span<const T> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}

template <class T>
void check_loaded(const Model<T>& model, const ModelLoadOptions& options) {
  const Model<T> again = Model<T>::from_bytes(model.to_bytes(), options);
  MLPKIT_FUZZ_CHECK(again.network().config().dims == model.network().config().dims, "round trip changed dims");
  MLPKIT_FUZZ_CHECK(same_bits(again.network().parameters(), model.network().parameters()), "round trip changed θ");
  MLPKIT_FUZZ_CHECK(again.network().step() == model.network().step(), "round trip changed the step");
  MLPKIT_FUZZ_CHECK(again.inputs().has_value() == model.inputs().has_value(), "round trip lost the statistics");
  if (model.inputs()) {
    MLPKIT_FUZZ_CHECK(same_bits(again.inputs()->mean_statistics(), model.inputs()->mean_statistics()), "round trip changed μ");
    MLPKIT_FUZZ_CHECK(same_bits(again.inputs()->variance_statistics(), model.inputs()->variance_statistics()),
                      "round trip changed σ²");
  }
  const std::size_t inputs = model.network().config().dims.front();
  const std::vector<T> x(inputs * 2, T(0.5));
  (void)model.predict({x.data(), inputs, 2, 2});
}

template <class T>
void parse_bytes(const std::string& bytes, const ModelLoadOptions& options, bool through_file) {
  try {
    if (!through_file) {
      check_loaded(Model<T>::from_bytes(bytes, options), options);
      return;
    }
    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("mlpkit_fuzz_model_" + std::to_string(::getpid()) + ".safetensors");
    {
      std::ofstream file(path, std::ios::binary | std::ios::trunc);
      file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    try {
      (void)read_model_info(path);
      Model<T> loaded = Model<T>::load(path, options);
      check_loaded(loaded, options);
      // reload over the loaded model (its θ storage reused) gives the same model.
      const std::vector<T> theta(loaded.network().parameters().begin(), loaded.network().parameters().end());
      const Model<T> reloaded = Model<T>::reload(path, std::move(loaded), options);
      MLPKIT_FUZZ_CHECK(same_bits<T>(reloaded.network().parameters(), theta), "reload gave another θ than load");
    } catch (const Error&) {
      std::filesystem::remove(path);
      throw;
    }
    std::filesystem::remove(path);
  } catch (const Error&) {
    // The documented outcome for a malformed, truncated, inconsistent or non-finite file.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::ModelFuzzInput in = fuzz::model_fuzz_input(data, size);
  in.as_float ? parse_bytes<float>(in.bytes, in.options, in.through_file) : parse_bytes<double>(in.bytes, in.options, in.through_file);
  return 0;
}
