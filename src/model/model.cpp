// Model: an Mlp with its input statistics, saved to and loaded from a safetensors file. Loading
// validates the whole header first, then copies tensor bytes (never parses them) into θ chunk by
// chunk, checking each chunk for finiteness while it is still in cache.
#include "mlpkit/model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/vector/vector_kernels.hpp"
#include "model/finite.hpp"
#include "model/model_file.hpp"
#include "model/model_metadata.hpp"
#include "model/safetensors.hpp"
#include "runtime/checks.hpp"

namespace mlpkit {
namespace detail {
namespace {

static_assert(std::endian::native == std::endian::little, "model files hold little-endian tensors, copied as they are");

template <class T>
constexpr Dtype dtype_of() {
  return std::is_same_v<T, float> ? Dtype::f32 : Dtype::f64;
}
template <class T>
constexpr const char* scalar_name() {
  return std::is_same_v<T, float> ? "float" : "double";
}

/** Copies `bytes` bytes of tensor data starting at data offset `begin` to `destination`. */
using TensorSource = std::function<void(std::uint64_t begin, std::uint64_t bytes, void* destination)>;

template <class T, class Stored>
void read_converted(const TensorSource& source, std::uint64_t begin, T* out, std::size_t n) {
  std::vector<Stored> stored(n);
  source(begin, n * sizeof(Stored), stored.data());
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(stored[i]);
}

// Elements per call of the dot kernel in chunk_finite (its zeros stay in L1: 16 KiB of double).
constexpr std::size_t kDotElements = 2048;

// Whether values[0, n) are all finite, at the speed of the SIMD dot kernel of current_isa():
// dot(values, 0) is NaN exactly when some value is NaN or ±Inf (finite·0 = ±0, but ±Inf·0 and
// NaN·0 are NaN, and a NaN survives every later addition).
template <class T>
bool chunk_finite(const T* values, std::size_t n) {
  alignas(64) static constexpr T kZeros[kDotElements] = {};
  const auto& kernels = active_vector_kernels<T>();
  for (std::size_t i = 0; i < n; i += kDotElements)
    if (std::isnan(kernels.dot(values + i, kZeros, std::min(kDotElements, n - i)))) return false;
  return true;
}

// Tensor `t` of θ from its record: same dtype, read chunk by chunk and each chunk checked (when
// `check`) right after it lands; another dtype, read whole and converted, then checked. Throws
// naming the entry at the first non-finite value, before reading further.
template <class T>
void read_tensor(const ErrorContext& where, const TensorSource& source, const TensorRecord& record, const TensorInfo& t,
                 T* out, bool check) {
  const std::size_t n = t.rows * t.cols;
  if (record.dtype != dtype_of<T>()) {
    if (record.dtype == Dtype::f32)
      read_converted<T, float>(source, record.begin, out, n);
    else
      read_converted<T, double>(source, record.begin, out, n);
    if (check) check_finite(where, t, out);
    return;
  }
  const std::size_t chunk = check ? kModelReadChunkBytes / sizeof(T) : std::max<std::size_t>(n, 1);  // unchecked: one read
  for (std::size_t i = 0; i < n; i += chunk) {
    const std::size_t count = std::min(chunk, n - i);
    source(record.begin + i * sizeof(T), count * sizeof(T), out + i);
    if (check && !chunk_finite(out + i, count)) check_finite(where, t, out, i + count);
  }
}

void read_statistics(const TensorSource& source, const TensorRecord& record, double* out, std::size_t n) {
  if (record.dtype == Dtype::f64)
    source(record.begin, n * sizeof(double), out);
  else
    read_converted<double, float>(source, record.begin, out, n);
}

// The model a validated header describes, its tensors read from `source`; θ takes over the storage
// of `reuse` (when given and of the same size).
template <class T>
Model<T> build_model(const ErrorContext& where, const SafetensorsHeader& header, const ModelLoadOptions& options,
                     const TensorSource& source, Mlp<T>* reuse = nullptr) {
  const ModelHeader model = read_model_header(where, header);
  if (model.dtype != dtype_of<T>() && !options.convert_precision)
    fail_in(where, concat("the weights are ", dtype_name(model.dtype), " but this is a Model<", scalar_name<T>(),
                          "> (set ModelLoadOptions::convert_precision to convert them)"));
  // Everything is validated: from here on only reading, which fails only when the source does or a
  // weight is not finite; the model under construction is then dropped.
  Mlp<T> net = reuse != nullptr ? Mlp<T>(convert_config<T>(model.config), skip_init, std::move(*reuse))
                                : Mlp<T>(convert_config<T>(model.config), skip_init);
  net.set_step(model.step);
  T* theta = net.parameters().data();
  for (const auto& t : net.tensors())
    read_tensor(where, source, header.tensors.at(t.name), t, theta + t.offset, !options.allow_nonfinite);
  std::optional<Standardizer<T>> inputs;
  if (model.has_inputs) {
    const std::size_t n = model.config.dims.front();
    std::vector<double> mean(n), variance(n);
    read_statistics(source, header.tensors.at(kInputsMean), mean.data(), n);
    read_statistics(source, header.tensors.at(kInputsVariance), variance.data(), n);
    try {
      inputs = Standardizer<T>::from_statistics(mean, variance, model.inputs_count, model.inputs_epsilon);
    } catch (const Error& e) {
      fail_in(where, std::string("the input statistics are invalid (") + e.what() + ")");
    }
  }
  Model<T> result(std::move(net), std::move(inputs));
  result.user_metadata = model.user_metadata;
  return result;
}

template <class T>
Model<T> load_file(const ErrorContext& where, const std::filesystem::path& path, const ModelLoadOptions& options, Mlp<T>* reuse) {
  const ModelFileReader file(where, path);
  const SafetensorsHeader header = file.read_header();
  // Tensor bytes go straight from the file into θ: one copy, no staging buffer.
  const std::uint64_t data = header.data_start;
  return build_model<T>(
      where, header, options, [&](std::uint64_t begin, std::uint64_t size, void* out) { file.read_at(data + begin, size, out); },
      reuse);
}

}  // namespace
}  // namespace detail

template <class T>
Model<T>::Model(Mlp<T> network, std::optional<Standardizer<T>> inputs)
    : network_(std::move(network)), inputs_(std::move(inputs)) {
  if (inputs_ && !inputs_->fitted()) detail::fail("Model", "inputs is not fitted (the standardizer has no statistics)");
  if (inputs_ && inputs_->features() != network_.config().dims.front())
    detail::fail("Model", "inputs were fitted on ", inputs_->features(), " features but the network has n[0] = ",
                 network_.config().dims.front(), " inputs");
}

template <class T>
void Model<T>::predict(MatrixView<const T> x, MatrixView<T> out) const {
  if (!inputs_) return network_.predict(x, out);
  detail::check_view("Model::predict", "x", x);
  Matrix<T> standardized(x.rows, x.cols);
  inputs_->transform(x, standardized.view());
  network_.predict(standardized.view(), out);
}

template <class T>
Matrix<T> Model<T>::predict(MatrixView<const T> x) const {
  Matrix<T> out(network_.config().dims.back(), x.cols);
  predict(x, out.view());
  return out;
}

template <class T>
std::string Model<T>::to_bytes() const {
  const detail::ErrorContext where{"Model::to_bytes", ""};
  std::optional<std::pair<double, std::uint64_t>> statistics;
  if (inputs_) statistics.emplace(static_cast<double>(inputs_->epsilon()), inputs_->count());
  const auto metadata =
      detail::model_metadata(where, convert_config<double>(network_.config()), network_.step(), statistics, user_metadata);
  std::vector<detail::TensorBytes> tensors;
  const T* theta = network_.parameters().data();
  for (const auto& t : network_.tensors())
    tensors.push_back({t.name, detail::dtype_of<T>(), {t.rows, t.cols}, theta + t.offset});
  if (inputs_) {
    const std::uint64_t n = inputs_->features();
    tensors.push_back({detail::kInputsMean, detail::Dtype::f64, {n}, inputs_->mean_statistics().data()});
    tensors.push_back({detail::kInputsVariance, detail::Dtype::f64, {n}, inputs_->variance_statistics().data()});
  }
  return detail::write_safetensors(where, tensors, metadata);
}

template <class T>
void Model<T>::save(const std::filesystem::path& path) const {
  std::string bytes;
  try {
    bytes = to_bytes();
  } catch (const Error& e) {
    const std::string message = e.what();
    detail::fail("Model::save", message.substr(message.find(": ") + 2));
  }
  detail::write_atomically("Model::save", path, bytes);
}

template <class T>
Model<T> Model<T>::from_bytes(std::string_view bytes, const ModelLoadOptions& options) {
  const detail::ErrorContext where{"Model::from_bytes", ""};
  const std::uint64_t length = detail::header_length(where, bytes, bytes.size());
  const auto header = detail::parse_header(where, bytes.substr(detail::kLengthBytes, length), bytes.size());
  const char* data = bytes.data() + header.data_start;
  return detail::build_model<T>(where, header, options, [data](std::uint64_t begin, std::uint64_t size, void* out) {
    if (size != 0) std::memcpy(out, data + begin, size);
  });
}

template <class T>
Model<T> Model<T>::load(const std::filesystem::path& path, const ModelLoadOptions& options) {
  return detail::load_file<T>({"Model::load", path.string()}, path, options, nullptr);
}

template <class T>
Model<T> Model<T>::reload(const std::filesystem::path& path, Model previous, const ModelLoadOptions& options) {
  return detail::load_file<T>({"Model::reload", path.string()}, path, options, &previous.network());
}

ModelFileInfo read_model_info(const std::filesystem::path& path) {
  const detail::ErrorContext where{"read_model_info", path.string()};
  const detail::ModelFileReader file(where, path);
  const auto model = detail::read_model_header(where, file.read_header());
  ModelFileInfo info;
  info.dtype = detail::dtype_name(model.dtype);
  info.config = model.config;
  for (std::size_t l = 1; l < model.config.dims.size(); ++l)
    info.parameter_count += model.config.dims[l] * (model.config.dims[l - 1] + 1);
  info.has_inputs = model.has_inputs;
  info.user_metadata = model.user_metadata;
  return info;
}

template class Model<float>;
template class Model<double>;

}  // namespace mlpkit
