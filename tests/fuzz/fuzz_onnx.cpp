// Fuzzes the ONNX importer: import_onnx_bytes<T> (and import_onnx / read_onnx_info through a file)
// of arbitrary bytes (the input is an ONNX file, its last byte the options) must either throw
// mlpkit::Error or give a model whose architecture read_onnx_info reports alike, that survives
// to_bytes → from_bytes bit for bit and predicts without crashing; never UB, never another exception.
// The seed corpus holds graphs exported by torch.onnx.export (tests/fuzz/make_onnx_seeds.py).
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_model_input.hpp"
#include "fuzz_support.hpp"
#include "mlpkit/onnx.hpp"

using namespace mlpkit;

namespace {

template <class T>
void check_imported(const Model<T>& model, const ModelLoadOptions& options) {
  const Model<T> again = Model<T>::from_bytes(model.to_bytes(), options);
  const auto theta = model.network().parameters(), back = again.network().parameters();
  MLPKIT_FUZZ_CHECK(again.network().config().dims == model.network().config().dims, "round trip changed dims");
  MLPKIT_FUZZ_CHECK(back.size() == theta.size() && std::memcmp(back.data(), theta.data(), theta.size_bytes()) == 0,
                    "round trip changed θ");
  const std::size_t inputs = model.network().config().dims.front();
  const std::vector<T> x(inputs * 2, T(0.5));
  (void)model.predict({x.data(), inputs, 2, 2});
}

template <class T>
void import_through_file(const std::string& bytes, const ModelLoadOptions& options) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("mlpkit_fuzz_onnx_" + std::to_string(::getpid()) + ".onnx");
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  try {
    const ModelFileInfo info = read_onnx_info(path);
    const Model<T> model = import_onnx<T>(path, options);
    MLPKIT_FUZZ_CHECK(info.config.dims == model.network().config().dims, "read_onnx_info and import_onnx disagree on dims");
    MLPKIT_FUZZ_CHECK(info.config.loss == model.network().config().loss, "read_onnx_info and import_onnx disagree on the loss");
    check_imported(model, options);
  } catch (const Error&) {
    std::filesystem::remove(path);
    throw;
  }
  std::filesystem::remove(path);
}

template <class T>
void import(const std::string& bytes, const ModelLoadOptions& options, bool through_file) {
  try {
    if (through_file)
      import_through_file<T>(bytes, options);
    else
      check_imported(import_onnx_bytes<T>(bytes, options), options);
  } catch (const Error&) {
    // The documented outcome for bytes that are no ONNX model or a graph mlpkit does not import.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::ModelFuzzInput in = fuzz::model_fuzz_input(data, size);
  in.as_float ? import<float>(in.bytes, in.options, in.through_file) : import<double>(in.bytes, in.options, in.through_file);
  return 0;
}
