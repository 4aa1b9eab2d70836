// Standardizer: statistics in double (Welford per chunk, Chan's merge across chunks), transform
// per (feature, segment), JSON persistence via nlohmann-json (kept out of the public header).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "kernels/normalization/normalization_kernels.hpp"
#include "kernels/streaming.hpp"
#include "mlpkit/normalization.hpp"
#include "runtime/checks.hpp"
#include "runtime/json_read.hpp"
#include "runtime/threads.hpp"

namespace mlpkit {
namespace detail {
namespace {

constexpr const char* kFormat = "mlpkit.standardizer";
constexpr int kFormatVersion = 1;

/** Elements per item of transform: rows are cut into fixed segments so a few long rows still spread over threads. */
constexpr std::size_t kTransformSegment = 16384;

template <class T>
constexpr const char* scalar_name() {
  return std::is_same_v<T, float> ? "float" : "double";
}

// Moments of every feature (row) of x. Items are (feature, chunk of kFitChunk examples) and the
// chunks of a feature are merged in chunk order, so the result never depends on the thread count.
template <class T>
std::vector<Moments> feature_moments(const char* function, MatrixView<const T> x) {
  const auto& kernels = active_normalization_kernels<T>();
  const std::size_t chunks = (x.cols + kFitChunk - 1) / kFitChunk;
  std::vector<Moments> partial(x.rows * chunks);
  parallel_for(x.rows * chunks, 4.0 * static_cast<double>(std::min(x.cols, kFitChunk)), [&](std::size_t item) {
    const std::size_t row = item / chunks, begin = item % chunks * kFitChunk;
    partial[item] = kernels.moments(x.row(row) + begin, std::min(kFitChunk, x.cols - begin));
  });
  std::vector<Moments> result(x.rows);
  for (std::size_t row = 0; row < x.rows; ++row) {
    Moments m = partial[row * chunks];
    for (std::size_t c = 1; c < chunks; ++c) m = merge_moments(m, partial[row * chunks + c]);
    result[row] = m;
  }
  // Any NaN or infinity in a row makes its moments non-finite, so only such rows need a scan; the
  // first of them holding a bad value names the first offending (feature, example).
  for (std::size_t row = 0; row < x.rows; ++row) {
    if (std::isfinite(result[row].mean) && std::isfinite(result[row].m2)) continue;
    const T* values = x.row(row);
    for (std::size_t j = 0; j < x.cols; ++j)
      if (!std::isfinite(values[j]))
        fail(function, "x holds a non-finite value (", values[j], ") at feature ", row, ", example ", j);
    fail(function, "the variance of feature ", row, " overflows (values too large for ", scalar_name<T>(), ")");
  }
  return result;
}

// The statistics are kept in double but published as T: a variance beyond T's range (float data
// near ±1e30, or chunks merged far apart) would read as Inf, and to_json's document would then not
// load back; such data are rejected like a non-finite value, before any state changes.
template <class T>
void check_statistics(const char* function, const std::vector<double>& variance) {
  for (std::size_t row = 0; row < variance.size(); ++row)
    if (!std::isfinite(static_cast<T>(variance[row])))
      fail(function, "the variance of feature ", row, " (", variance[row], ") overflows ", scalar_name<T>());
}

template <class T>
void check_transform_args(const char* function, const char* input_name, std::size_t features, bool fitted,
                          MatrixView<const T> x, MatrixView<T> out) {
  if (!fitted) fail(function, "called before fit (the standardizer has no statistics)");
  check_view(function, input_name, x);
  check_view(function, "out", out);
  if (x.rows != features)
    fail(function, input_name, " is ", x.rows, " × ", x.cols, " (", x.rows, " features) but the standardizer was fitted on ",
         features, " features (expects ", features, " × ", x.cols, ")");
  check_shape(function, "out", out, x.rows, x.cols);
  check_alias(function, "out", out, input_name, x);
}

// out[i][j] = ((x[i][j] − shift[i]) − shift_low[i]) · scale[i] + offset[i], over (row, segment) items.
template <class T>
void apply_per_feature(MatrixView<const T> x, MatrixView<T> out, const T* shift, const T* shift_low, const T* scale,
                       const T* offset) {
  if (x.empty()) return;
  const auto& kernels = active_normalization_kernels<T>();
  const bool stream = use_streaming_stores(x.rows * x.cols * sizeof(T));
  const std::size_t segments = (x.cols + kTransformSegment - 1) / kTransformSegment;
  parallel_for(x.rows * segments, 2.0 * static_cast<double>(std::min(x.cols, kTransformSegment)), [&](std::size_t item) {
    const std::size_t row = item / segments, begin = item % segments * kTransformSegment;
    const T zero = T(0);
    kernels.affine(x.row(row) + begin, std::min(kTransformSegment, x.cols - begin), shift ? shift[row] : zero,
                   shift_low ? shift_low[row] : zero, scale[row], offset ? offset[row] : zero, out.row(row) + begin,
                   stream);
  });
}

}  // namespace
}  // namespace detail

template <class T>
Standardizer<T>::Standardizer(T epsilon) : epsilon_(epsilon) {
  if (!(epsilon > T(0)) || !std::isfinite(epsilon))
    detail::fail("Standardizer", "epsilon (", epsilon, ") must be finite and greater than 0");
}

template <class T>
void Standardizer<T>::fit(MatrixView<const T> x) {
  constexpr const char* function = "Standardizer::fit";
  detail::check_view(function, "x", x);
  if (x.empty()) detail::fail(function, "x is ", x.rows, " × ", x.cols, " but needs at least one feature and one example");
  const auto moments = detail::feature_moments(function, x);
  std::vector<double> mean(x.rows), variance(x.rows);
  for (std::size_t i = 0; i < x.rows; ++i) {
    mean[i] = moments[i].mean;
    variance[i] = moments[i].m2 / moments[i].count;
  }
  detail::check_statistics<T>(function, variance);
  count_ = x.cols;
  mean_acc_ = std::move(mean);
  variance_acc_ = std::move(variance);
  publish();
}

template <class T>
void Standardizer<T>::partial_fit(MatrixView<const T> x) {
  constexpr const char* function = "Standardizer::partial_fit";
  detail::check_view(function, "x", x);
  if (fitted() && x.rows != features())
    detail::fail(function, "x is ", x.rows, " × ", x.cols, " (", x.rows, " features) but the standardizer was fitted on ",
                 features(), " features (expects ", features(), " × ", x.cols, ")");
  if (x.cols == 0) return;
  if (x.rows == 0) detail::fail(function, "x is 0 × ", x.cols, " but needs at least one feature");
  const auto moments = detail::feature_moments(function, x);
  const double seen = static_cast<double>(count_);
  std::vector<double> mean(x.rows), variance(x.rows);
  for (std::size_t i = 0; i < x.rows; ++i) {
    const detail::Moments merged = fitted() ? detail::merge_moments({seen, mean_acc_[i], variance_acc_[i] * seen}, moments[i])
                                            : moments[i];
    mean[i] = merged.mean;
    variance[i] = merged.m2 / merged.count;
  }
  detail::check_statistics<T>(function, variance);
  mean_acc_ = std::move(mean);
  variance_acc_ = std::move(variance);
  count_ += x.cols;
  publish();
}

template <class T>
void Standardizer<T>::publish() {
  const std::size_t n = mean_acc_.size();
  mean_.resize(n);
  variance_.resize(n);
  mean_low_.resize(n);
  scale_.resize(n);
  deviation_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    mean_[i] = static_cast<T>(mean_acc_[i]);
    mean_low_[i] = static_cast<T>(mean_acc_[i] - static_cast<double>(mean_[i]));
    variance_[i] = static_cast<T>(variance_acc_[i]);
    // A constant feature is shifted only: dividing its zero spread by √ε would amplify noise.
    const bool constant = variance_[i] == T(0);
    const double deviation = std::sqrt(variance_acc_[i] + static_cast<double>(epsilon_));
    scale_[i] = constant ? T(1) : static_cast<T>(1.0 / deviation);
    deviation_[i] = constant ? T(1) : static_cast<T>(deviation);
  }
}

template <class T>
void Standardizer<T>::transform(MatrixView<const T> x, MatrixView<T> out) const {
  detail::check_transform_args("Standardizer::transform", "x", features(), fitted(), x, out);
  detail::apply_per_feature<T>(x, out, mean_.data(), mean_low_.data(), scale_.data(), nullptr);
}

template <class T>
void Standardizer<T>::inverse_transform(MatrixView<const T> z, MatrixView<T> out) const {
  detail::check_transform_args("Standardizer::inverse_transform", "z", features(), fitted(), z, out);
  detail::apply_per_feature<T>(z, out, nullptr, nullptr, deviation_.data(), mean_.data());
}

template <class T>
std::string Standardizer<T>::to_json() const {
  if (!fitted()) detail::fail("Standardizer::to_json", "called before fit (the standardizer has no statistics)");
  // The double statistics are stored (not the T copies), so partial_fit can go on after a load;
  // nlohmann-json writes the shortest text that reads back to the same double.
  nlohmann::json j;
  j["format"] = detail::kFormat;
  j["version"] = detail::kFormatVersion;
  j["scalar"] = detail::scalar_name<T>();
  j["epsilon"] = static_cast<double>(epsilon_);
  j["count"] = count_;
  j["features"] = features();
  j["mean"] = mean_acc_;
  j["variance"] = variance_acc_;
  return j.dump(1);
}

template <class T>
Standardizer<T> Standardizer<T>::from_json(std::string_view json) {
  constexpr const char* function = "Standardizer::from_json";
  try {
    const nlohmann::json j = nlohmann::json::parse(json.begin(), json.end());
    if (!j.is_object() || j.value("format", std::string()) != detail::kFormat)
      detail::fail(function, "the document is not an mlpkit standardizer (no \"format\": \"", detail::kFormat, "\")");
    const int version = detail::json_integer<int>(function, j, "version");
    if (version != detail::kFormatVersion)
      detail::fail(function, "version ", version, " is not supported (this build reads version ", detail::kFormatVersion, ")");
    const std::string scalar = j.at("scalar").get<std::string>();
    if (scalar != detail::scalar_name<T>())
      detail::fail(function, "the statistics are for ", scalar, " but this is a Standardizer<", detail::scalar_name<T>(), ">");
    const double epsilon = j.at("epsilon").get<double>();
    const auto count = detail::json_integer<std::uint64_t>(function, j, "count");
    const auto features = detail::json_integer<std::size_t>(function, j, "features");
    if (count == 0) detail::fail(function, "count must be a positive integer");
    const auto mean = j.at("mean").get<std::vector<double>>();
    const auto variance = j.at("variance").get<std::vector<double>>();
    if (mean.size() != features || variance.size() != features)
      detail::fail(function, "mean has ", mean.size(), " and variance ", variance.size(), " values but features is ", features);
    try {
      return from_statistics(mean, variance, count, epsilon);
    } catch (const Error& e) {  // the same checks, reported under from_json's name
      const std::string message = e.what();
      detail::fail(function, message.substr(message.find(": ") + 2));
    }
  } catch (const nlohmann::json::exception& e) {
    detail::fail(function, "malformed or truncated document (", e.what(), ")");
  }
}

template <class T>
Standardizer<T> Standardizer<T>::from_statistics(std::span<const double> mean, std::span<const double> variance,
                                                 std::uint64_t count, double epsilon) {
  constexpr const char* function = "Standardizer::from_statistics";
  if (mean.size() != variance.size() || mean.empty())
    detail::fail(function, "mean has ", mean.size(), " and variance ", variance.size(),
                 " values but both need one per feature (at least one)");
  if (count == 0) detail::fail(function, "count must be a positive integer");
  const auto representable = [](double v) { return std::isfinite(v) && std::isfinite(static_cast<T>(v)); };
  for (std::size_t i = 0; i < mean.size(); ++i) {
    if (!representable(mean[i])) detail::fail(function, "mean[", i, "] (", mean[i], ") is not a finite ", detail::scalar_name<T>());
    if (!representable(variance[i]) || variance[i] < 0)
      detail::fail(function, "variance[", i, "] (", variance[i], ") is not a finite, non-negative ", detail::scalar_name<T>());
  }
  if (!representable(epsilon) || static_cast<T>(epsilon) <= T(0))
    detail::fail(function, "epsilon (", epsilon, ") must be finite and greater than 0");
  Standardizer result(static_cast<T>(epsilon));
  result.count_ = count;
  result.mean_acc_.assign(mean.begin(), mean.end());
  result.variance_acc_.assign(variance.begin(), variance.end());
  result.publish();
  return result;
}

template <class T>
void Standardizer<T>::save(const std::filesystem::path& path) const {
  if (!fitted()) detail::fail("Standardizer::save", "called before fit (the standardizer has no statistics)");
  const std::string text = to_json();
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text << '\n';
  file.close();
  if (!file) detail::fail("Standardizer::save", "cannot write ", path);
}

template <class T>
Standardizer<T> Standardizer<T>::load(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) detail::fail("Standardizer::load", "cannot open ", path);
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) detail::fail("Standardizer::load", "cannot read ", path);
  try {
    return from_json(text.str());
  } catch (const Error& e) {
    detail::fail("Standardizer::load", path, ": ", e.what());
  }
}

template class Standardizer<float>;
template class Standardizer<double>;

}  // namespace mlpkit
