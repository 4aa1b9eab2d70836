// import_onnx: the bytes parsed as an onnx::ModelProto, the graph read as a chain of layers
// (onnx_chain.cpp), then an Mlp whose θ is filled from the initializers.
#include "mlpkit/onnx.hpp"

#include <climits>
#include <fstream>
#include <iterator>
#include <type_traits>

#include "model/finite.hpp"
#include "model/onnx/onnx_chain.hpp"
#include "runtime/checks.hpp"

namespace mlpkit {
namespace detail::onnx_import {
namespace {

onnx::ModelProto parse_model(const ErrorContext& where, std::string_view bytes) {
  onnx::ModelProto model;
  if (bytes.size() > static_cast<std::size_t>(INT_MAX))
    fail_in(where, concat("the file has ", bytes.size(), " bytes; protobuf reads at most 2 GiB"));
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    fail_in(where, "not an ONNX model (the bytes do not parse as an onnx.ModelProto)");
  if (!model.has_graph() || model.graph().node_size() == 0) fail_in(where, "the ONNX model holds no graph (or no node)");
  return model;
}

std::string read_file(const ErrorContext& where, const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail_in(where, "cannot open the file");
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) fail_in(where, "cannot read the file");
  return bytes;
}

template <class T>
Model<T> build(const ErrorContext& where, std::string_view bytes, const ModelLoadOptions& options) {
  const onnx::ModelProto model = parse_model(where, bytes);
  GraphIndex graph(where, model.graph());
  const OnnxChain chain = read_chain(graph);
  constexpr Dtype own = std::is_same_v<T, float> ? Dtype::f32 : Dtype::f64;
  if (chain.dtype != own && !options.convert_precision)
    fail_in(where, concat("the graph is ", chain.dtype == Dtype::f32 ? "FLOAT" : "DOUBLE", " but this is a Model<",
                          std::is_same_v<T, float> ? "float" : "double",
                          "> (set ModelLoadOptions::convert_precision to convert it)"));
  Mlp<T> net(convert_config<T>(chain.config), skip_init);
  for (std::size_t l = 1; l <= chain.layers.size(); ++l) {
    const OnnxLayer& layer = chain.layers[l - 1];
    copy_tensor(layer.weight, layer.transposed, layer.rows, layer.cols, net.weights(l).data);
    T* bias = net.bias(l).data;
    if (layer.bias)
      copy_tensor(*layer.bias, false, layer.rows, 1, bias);
    else
      std::fill(bias, bias + layer.rows, T(0));
  }
  if (!options.allow_nonfinite) check_finite(where, net);
  return Model<T>(std::move(net));
}

}  // namespace
}  // namespace detail::onnx_import

template <class T>
Model<T> import_onnx(const std::filesystem::path& path, const ModelLoadOptions& options) {
  const detail::ErrorContext where{"import_onnx", path.string()};
  return detail::onnx_import::build<T>(where, detail::onnx_import::read_file(where, path), options);
}

template <class T>
Model<T> import_onnx_bytes(std::string_view bytes, const ModelLoadOptions& options) {
  return detail::onnx_import::build<T>({"import_onnx_bytes", ""}, bytes, options);
}

ModelFileInfo read_onnx_info(const std::filesystem::path& path) {
  const detail::ErrorContext where{"read_onnx_info", path.string()};
  const onnx::ModelProto model = detail::onnx_import::parse_model(where, detail::onnx_import::read_file(where, path));
  detail::onnx_import::GraphIndex graph(where, model.graph());
  const auto chain = detail::onnx_import::read_chain(graph);
  ModelFileInfo info;
  info.dtype = detail::dtype_name(chain.dtype);
  info.config = chain.config;
  for (const auto& layer : chain.layers) info.parameter_count += layer.rows * (layer.cols + 1);
  return info;
}

template Model<float> import_onnx<float>(const std::filesystem::path&, const ModelLoadOptions&);
template Model<double> import_onnx<double>(const std::filesystem::path&, const ModelLoadOptions&);
template Model<float> import_onnx_bytes<float>(std::string_view, const ModelLoadOptions&);
template Model<double> import_onnx_bytes<double>(std::string_view, const ModelLoadOptions&);

}  // namespace mlpkit
