// Fuzzes the ONNX importer: import_onnx_bytes<T> (and import_onnx / read_onnx_info through a file)
// of arbitrary bytes (the input is an ONNX file, its last byte the options) must either throw
// mlpkit::Error or give a model whose architecture read_onnx_info reports alike, that survives
// to_bytes → from_bytes bit for bit and predicts without crashing; never UB, never another exception.
// The seed corpus holds graphs exported by torch.onnx.export (tests/fuzz/make_onnx_seeds.py).
#include <filesystem>
#include <string>

#include "fuzz_model_input.hpp"
#include "fuzz_support.hpp"
#include "mlpkit/onnx.hpp"

using namespace mlpkit;

namespace {

template <class T>
void import(const fuzz::ModelFuzzInput& in) {
  if (!in.through_file) {
    (void)fuzz::check_round_trip(import_onnx_bytes<T>(in.bytes, in.options), in.options);
    return;
  }
  fuzz::with_file(in.bytes, "mlpkit_fuzz_onnx_", ".onnx", [&](const std::filesystem::path& path) {
    const ModelFileInfo info = read_onnx_info(path);
    const Model<T> model = import_onnx<T>(path, in.options);
    MLPKIT_FUZZ_CHECK(info.config.dims == model.network().config().dims, "read_onnx_info and import_onnx disagree on dims");
    MLPKIT_FUZZ_CHECK(info.config.loss == model.network().config().loss, "read_onnx_info and import_onnx disagree on the loss");
    (void)fuzz::check_round_trip(model, in.options);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz::read_model_input(data, size, [](auto zero, const fuzz::ModelFuzzInput& in) { import<decltype(zero)>(in); });
}
