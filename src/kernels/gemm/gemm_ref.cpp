// Scalar reference GEMM: the simple, obviously right loops every optimized path is tested against.
#include <cmath>

#include "kernels/activations/activations_scalar.hpp"
#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_ref.hpp"
#include "mlpkit/gemm.hpp"

namespace mlpkit {
namespace {

// act(z) in double, by the scalar reference the activation kernels are tested against (the gelu
// family in long double), with the limits activations.hpp promises: gelu(−Inf) = −0 (x·Φ(x) → 0),
// not −Inf·0 = NaN; relu(NaN) = NaN.
double activate_ref(Activation f, double z, double leaky_slope) {
  if (std::isinf(z) && (f == Activation::gelu || f == Activation::gelu_tanh)) return z > 0 ? z : -0.0;
  return detail::scalar::forward<double>(f, z, leaky_slope);
}

// One element of alpha·op(A)·op(B) + beta·C in double; beta = 0 does not read C.
template <class T>
double element_ref(Trans ta, Trans tb, std::size_t i, std::size_t j, std::size_t k, T alpha, const T* a,
                   std::size_t lda, const T* b, std::size_t ldb, T beta, const T* c, std::size_t ldc) {
  double z = 0;  // alpha·(empty sum) = 0 also for alpha = ±Inf or NaN, as in CBLAS
  if (alpha != T(0) && k != 0) {
    double sum = 0;
    for (std::size_t p = 0; p < k; ++p) {
      const double x = ta == Trans::no ? a[i * lda + p] : a[p * lda + i];
      const double y = tb == Trans::no ? b[p * ldb + j] : b[j * ldb + p];
      sum += x * y;
    }
    z = static_cast<double>(alpha) * sum;
  }
  if (beta != T(0)) z += static_cast<double>(beta) * static_cast<double>(c[i * ldc + j]);
  return z;
}

}  // namespace

template <class T>
void gemm_ref(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
              const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  detail::check_gemm_arguments("gemm_ref", ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j)
      c[i * ldc + j] = static_cast<T>(element_ref(ta, tb, i, j, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

template <class T>
void gemm_ref(Trans ta, Trans tb, std::type_identity_t<T> alpha, MatrixView<const std::type_identity_t<T>> a,
              MatrixView<const std::type_identity_t<T>> b, std::type_identity_t<T> beta, MatrixView<T> c,
              const Epilogue<T>& epilogue) {
  const std::size_t k = detail::check_gemm_views("gemm_ref", ta, tb, a, b, c, epilogue);
  for (std::size_t i = 0; i < c.rows; ++i) {
    for (std::size_t j = 0; j < c.cols; ++j) {
      double z = element_ref(ta, tb, i, j, k, alpha, a.data, a.ld, b.data, b.ld, beta, c.data, c.ld);
      if (epilogue.bias != nullptr) z += static_cast<double>(epilogue.bias[i]);
      if (epilogue.pre_activation.data != nullptr) epilogue.pre_activation(i, j) = static_cast<T>(z);
      c(i, j) = static_cast<T>(activate_ref(epilogue.activation, z, static_cast<double>(epilogue.leaky_slope)));
    }
  }
}

template void gemm_ref<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,
                              const float*, std::size_t, float, float*, std::size_t);
template void gemm_ref<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double, const double*, std::size_t,
                               const double*, std::size_t, double, double*, std::size_t);
template void gemm_ref<float>(Trans, Trans, float, MatrixView<const float>, MatrixView<const float>, float,
                              MatrixView<float>, const Epilogue<float>&);
template void gemm_ref<double>(Trans, Trans, double, MatrixView<const double>, MatrixView<const double>, double,
                               MatrixView<double>, const Epilogue<double>&);

}  // namespace mlpkit
