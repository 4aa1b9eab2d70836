// Model: an Mlp with its input statistics, saved to and loaded from a safetensors file. Loading
// validates the whole header first, then copies tensor bytes (never parses them) into a new model.
#include "mlpkit/model.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <type_traits>
#include <vector>

#include "model/finite.hpp"
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

template <class T>
void read_tensor(const TensorSource& source, const TensorRecord& record, T* out, std::size_t n) {
  if (record.dtype == dtype_of<T>())
    source(record.begin, n * sizeof(T), out);
  else if (record.dtype == Dtype::f32)
    read_converted<T, float>(source, record.begin, out, n);
  else
    read_converted<T, double>(source, record.begin, out, n);
}

template <class T>
Model<T> build_model(const ErrorContext& where, const SafetensorsHeader& header, const ModelLoadOptions& options,
                     const TensorSource& source) {
  const ModelHeader model = read_model_header(where, header);
  if (model.dtype != dtype_of<T>() && !options.convert_precision)
    fail_in(where, concat("the weights are ", dtype_name(model.dtype), " but this is a Model<", scalar_name<T>(),
                          "> (set ModelLoadOptions::convert_precision to convert them)"));
  // Everything is validated: from here on only reading, which fails only when the source does.
  Mlp<T> net(convert_config<T>(model.config), skip_init);
  net.set_step(model.step);
  T* theta = net.parameters().data();
  for (const auto& t : net.tensors()) read_tensor(source, header.tensors.at(t.name), theta + t.offset, t.rows * t.cols);
  if (!options.allow_nonfinite) check_finite(where, net);
  std::optional<Standardizer<T>> inputs;
  if (model.has_inputs) {
    const std::size_t n = model.config.dims.front();
    std::vector<double> mean(n), variance(n);
    read_tensor(source, header.tensors.at(kInputsMean), mean.data(), n);
    read_tensor(source, header.tensors.at(kInputsVariance), variance.data(), n);
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

// The header of a file, read through an open stream: length, then exactly that many bytes of JSON.
SafetensorsHeader read_file_header(const ErrorContext& where, std::ifstream& file, std::uint64_t file_size) {
  char first[kLengthBytes] = {};
  file.read(first, static_cast<std::streamsize>(std::min<std::uint64_t>(kLengthBytes, file_size)));
  const std::uint64_t length = header_length(where, std::string_view(first, kLengthBytes), file_size);
  std::string json(length, '\0');
  if (!file.read(json.data(), static_cast<std::streamsize>(length))) fail_in(where, "cannot read the header");
  return parse_header(where, json, file_size);
}

std::ifstream open_model_file(const ErrorContext& where, const std::filesystem::path& path, std::uint64_t& file_size) {
  std::error_code ec;
  file_size = std::filesystem::file_size(path, ec);
  std::ifstream file(path, std::ios::binary);
  if (ec || !file) fail_in(where, "cannot open the file (" + (ec ? ec.message() : std::string(std::strerror(errno))) + ")");
  return file;
}

// Writes the bytes to a fresh file next to `path`, syncs it and renames it over `path`: readers see
// the old file or the whole new one, never a torn one.
void write_atomically(const char* function, const std::filesystem::path& path, const std::string& bytes) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path temporary = path;
  temporary += concat(".tmp-", ::getpid(), "-", counter.fetch_add(1));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail(function, "cannot write ", path, " (", std::strerror(errno), ")");
  std::size_t written = 0;
  bool ok = true;
  while (ok && written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<std::size_t>(n);
  }
  const int error = ok ? 0 : errno;
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  std::error_code ec;
  if (ok) std::filesystem::rename(temporary, path, ec);
  if (!ok || ec) {
    const std::string reason = ec ? ec.message() : std::strerror(error != 0 ? error : errno);
    std::filesystem::remove(temporary, ec);
    fail(function, "cannot write ", path, " (", reason, ")");
  }
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
  const detail::ErrorContext where{"Model::load", path.string()};
  std::uint64_t file_size = 0;
  std::ifstream file = detail::open_model_file(where, path, file_size);
  const auto header = detail::read_file_header(where, file, file_size);
  // Tensor bytes go straight from the file into θ: one copy, no staging buffer.
  return detail::build_model<T>(where, header, options, [&](std::uint64_t begin, std::uint64_t size, void* out) {
    file.seekg(static_cast<std::streamoff>(header.data_start + begin));
    if (!file.read(static_cast<char*>(out), static_cast<std::streamsize>(size)))
      detail::fail_in(where, detail::concat("cannot read ", size, " bytes at offset ", header.data_start + begin,
                                            " (the file shrank while loading?)"));
  });
}

ModelFileInfo read_model_info(const std::filesystem::path& path) {
  const detail::ErrorContext where{"read_model_info", path.string()};
  std::uint64_t file_size = 0;
  std::ifstream file = detail::open_model_file(where, path, file_size);
  const auto model = detail::read_model_header(where, detail::read_file_header(where, file, file_size));
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
