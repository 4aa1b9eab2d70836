// Scalar reference activation kernels: the simple path every SIMD kernel is tested against.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/activations/activations_kernels.hpp"
#include "kernels/activations/activations_scalar.hpp"

namespace mlpkit::detail {
namespace {

template <class T>
void forward_ref(Activation f, const T* x, T* y, std::size_t n, T slope, bool /*stream*/) {
  for (std::size_t i = 0; i < n; ++i) y[i] = scalar::forward(f, x[i], slope);
}

template <class T>
void backward_ref(Activation f, const T* x, const T* dy, T* dx, std::size_t n, T slope, bool /*stream*/) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = scalar::backward(f, x[i], dy[i], slope);
}

template <class T>
void backward_from_output_ref(Activation f, const T* y, const T* dy, T* dx, std::size_t n, T slope,
                              bool /*stream*/) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = scalar::backward_from_output(f, y[i], dy[i], slope);
}

// Column by column, in double: max, then Σ e^{z−max}, then the normalized values.
template <class T>
void softmax_columns_ref(const T* z, std::size_t ldz, T* out, std::size_t ldo, std::size_t rows, std::size_t cols,
                         bool log) {
  for (std::size_t j = 0; j < cols; ++j) {
    double max = -std::numeric_limits<double>::infinity();
    bool has_nan = false;
    for (std::size_t i = 0; i < rows; ++i) {
      const double v = static_cast<double>(z[i * ldz + j]);
      has_nan = has_nan || std::isnan(v);
      max = std::max(max, v);
    }
    if (has_nan) max = std::numeric_limits<double>::quiet_NaN();
    const double shift = max;  // +Inf or all −Inf make z − max NaN: such a column has no softmax
    double total = 0;
    for (std::size_t i = 0; i < rows; ++i) total += std::exp(static_cast<double>(z[i * ldz + j]) - shift);
    const double log_total = std::log(total);
    for (std::size_t i = 0; i < rows; ++i) {
      const double shifted = static_cast<double>(z[i * ldz + j]) - shift;
      out[i * ldo + j] = static_cast<T>(log ? shifted - log_total : std::exp(shifted) / total);
    }
  }
}

template <class T>
void exp_ref(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<T>(std::exp(static_cast<double>(x[i])));
}

template <class T>
void softplus_neg_abs_ref(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<T>(std::log1p(std::exp(-std::abs(static_cast<double>(x[i])))));
}

}  // namespace

template <class T>
const ActivationKernels<T>& activation_kernels_ref() {
  static constexpr ActivationKernels<T> table{&forward_ref<T>, &forward_ref<T>, &backward_ref<T>, &backward_from_output_ref<T>,
                                              &softmax_columns_ref<T>, &exp_ref<T>, &softplus_neg_abs_ref<T>};
  return table;
}

template const ActivationKernels<float>& activation_kernels_ref<float>();
template const ActivationKernels<double>& activation_kernels_ref<double>();

}  // namespace mlpkit::detail
