#pragma once
// The scalar reference GEMM that tests and fuzz harnesses check gemm against. Not public API (a test
// helper): declared here, in mlpkit's internal headers, and hidden in a shared library.
#include <cstddef>
#include <type_traits>

#include "mlpkit/gemm.hpp"

namespace mlpkit {

/**
 * The scalar reference GEMM the optimized one is tested against: the same contract as gemm
 * (including beta = 0 not reading C), single-threaded, products accumulated in double.
 * Throws as gemm does.
 */
template <class T>
void gemm_ref(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
              const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

/**
 * The scalar reference of the view form with epilogue: gemm_ref, then bias, pre_activation and
 * the activation element by element (computed in double, rounded once to T; the precise reference
 * whatever epilogue.accuracy says). Throws as gemm does.
 */
template <class T>
void gemm_ref(Trans ta, Trans tb, std::type_identity_t<T> alpha, MatrixView<const std::type_identity_t<T>> a,
              MatrixView<const std::type_identity_t<T>> b, std::type_identity_t<T> beta, MatrixView<T> c,
              const Epilogue<T>& epilogue = {});

}  // namespace mlpkit
