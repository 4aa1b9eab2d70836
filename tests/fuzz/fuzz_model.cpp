// Fuzzes the model-file reader: Model<T>::from_bytes, Model<T>::load and reload of arbitrary bytes (the
// input is a file, its last byte the options) must either throw mlpkit::Error or give a model that
// survives to_bytes → from_bytes bit for bit and predicts without crashing; never UB, never another
// exception. The seed corpus holds real files (float and double, with and without input statistics).
#include <filesystem>
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
  const Model<T> again = fuzz::check_round_trip(model, options);
  MLPKIT_FUZZ_CHECK(again.network().step() == model.network().step(), "round trip changed the step");
  MLPKIT_FUZZ_CHECK(again.inputs().has_value() == model.inputs().has_value(), "round trip lost the statistics");
  if (model.inputs()) {
    MLPKIT_FUZZ_CHECK(same_bits(again.inputs()->mean_statistics(), model.inputs()->mean_statistics()), "round trip changed μ");
    MLPKIT_FUZZ_CHECK(same_bits(again.inputs()->variance_statistics(), model.inputs()->variance_statistics()),
                      "round trip changed σ²");
  }
}

template <class T>
void parse_bytes(const fuzz::ModelFuzzInput& in) {
  if (!in.through_file) {
    check_loaded(Model<T>::from_bytes(in.bytes, in.options), in.options);
    return;
  }
  fuzz::with_file(in.bytes, "mlpkit_fuzz_model_", ".safetensors", [&](const std::filesystem::path& path) {
    (void)read_model_info(path);
    Model<T> loaded = Model<T>::load(path, in.options);
    check_loaded(loaded, in.options);
    // reload over the loaded model (its θ storage reused) gives the same model.
    const std::vector<T> theta(loaded.network().parameters().begin(), loaded.network().parameters().end());
    const Model<T> reloaded = Model<T>::reload(path, std::move(loaded), in.options);
    MLPKIT_FUZZ_CHECK(same_bits<T>(reloaded.network().parameters(), theta), "reload gave another θ than load");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz::read_model_input(data, size, [](auto zero, const fuzz::ModelFuzzInput& in) { parse_bytes<decltype(zero)>(in); });
}
