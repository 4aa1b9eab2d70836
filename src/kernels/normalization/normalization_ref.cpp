// Scalar reference normalization kernels: the simple path every SIMD kernel is tested against.
#include <cmath>

#include "kernels/normalization/normalization_kernels.hpp"

namespace mlpkit::detail {
namespace {

template <class T>
Moments moments_ref(const T* x, std::size_t n) {
  Moments m;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]);
    m.count += 1;
    const double delta = v - m.mean;
    m.mean += delta / m.count;
    m.m2 += delta * (v - m.mean);
  }
  return m;
}

template <class T>
void affine_ref(const T* x, std::size_t n, T shift, T shift_low, T scale, T offset, T* y, bool /*stream*/) {
  for (std::size_t i = 0; i < n; ++i) y[i] = ((x[i] - shift) - shift_low) * scale + offset;
}

template <class T>
void backward_sums_ref(const T* x, const T* dy, std::size_t n, T mean, T* sums) {
  double sum_dy = 0, sum_centered = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sum_dy += static_cast<double>(dy[i]);
    sum_centered += static_cast<double>(dy[i]) * (static_cast<double>(x[i]) - static_cast<double>(mean));
  }
  sums[0] = static_cast<T>(sum_dy);
  sums[1] = static_cast<T>(sum_centered);
}

template <class T>
void backward_apply_ref(const T* x, const T* dy, std::size_t n, T mean, T p, T q, T r, T* dx) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = p * dy[i] + (q * (x[i] - mean) + r);
}

template <class T>
void layer_norm_forward_block_ref(MatrixView<const T> x, const T* gamma, const T* beta, T epsilon, MatrixView<T> y,
                                  T* mean, T* inv_std, bool /*stream*/) {
  const double count = static_cast<double>(x.rows);
  for (std::size_t j = 0; j < x.cols; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < x.rows; ++i) s += static_cast<double>(x(i, j));
    const double mu = s / count;
    double ss = 0;
    for (std::size_t i = 0; i < x.rows; ++i) ss += (static_cast<double>(x(i, j)) - mu) * (static_cast<double>(x(i, j)) - mu);
    const double scale = 1.0 / std::sqrt(ss / count + static_cast<double>(epsilon));
    mean[j] = static_cast<T>(mu);
    inv_std[j] = static_cast<T>(scale);
    for (std::size_t i = 0; i < x.rows; ++i)
      y(i, j) = static_cast<T>((static_cast<double>(x(i, j)) - mu) * scale * static_cast<double>(gamma[i]) +
                               static_cast<double>(beta[i]));
  }
}

template <class T>
void layer_norm_backward_block_ref(MatrixView<const T> x, MatrixView<const T> dy, const T* gamma, const T* mean,
                                   const T* inv_std, MatrixView<T> dx, T* dgamma, T* dbeta, bool /*stream*/) {
  const double count = static_cast<double>(x.rows);
  for (std::size_t i = 0; i < x.rows; ++i) {
    double dg = 0, db = 0;
    for (std::size_t j = 0; j < x.cols; ++j) {
      const double xhat = (static_cast<double>(x(i, j)) - static_cast<double>(mean[j])) * static_cast<double>(inv_std[j]);
      dg += static_cast<double>(dy(i, j)) * xhat;
      db += static_cast<double>(dy(i, j));
    }
    dgamma[i] = static_cast<T>(dg);
    dbeta[i] = static_cast<T>(db);
  }
  for (std::size_t j = 0; j < x.cols; ++j) {
    const double mu = static_cast<double>(mean[j]), scale = static_cast<double>(inv_std[j]);
    double sum_g = 0, sum_g_xhat = 0;
    for (std::size_t i = 0; i < x.rows; ++i) {
      const double g = static_cast<double>(dy(i, j)) * static_cast<double>(gamma[i]);
      sum_g += g;
      sum_g_xhat += g * (static_cast<double>(x(i, j)) - mu) * scale;
    }
    for (std::size_t i = 0; i < x.rows; ++i) {
      const double g = static_cast<double>(dy(i, j)) * static_cast<double>(gamma[i]);
      const double xhat = (static_cast<double>(x(i, j)) - mu) * scale;
      dx(i, j) = static_cast<T>(scale / count * (count * g - sum_g - xhat * sum_g_xhat));
    }
  }
}

}  // namespace

template <class T>
const NormalizationKernels<T>& normalization_kernels_ref() {
  static constexpr NormalizationKernels<T> table{
      &moments_ref<T>, &affine_ref<T>, &backward_sums_ref<T>, &backward_apply_ref<T>,
      &layer_norm_forward_block_ref<T>, &layer_norm_backward_block_ref<T>};
  return table;
}

template const NormalizationKernels<float>& normalization_kernels_ref<float>();
template const NormalizationKernels<double>& normalization_kernels_ref<double>();

}  // namespace mlpkit::detail
