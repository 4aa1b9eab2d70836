#pragma once
/** @file
 * General matrix multiply, C = alpha·op(A)·op(B) + beta·C, row-major with CBLAS semantics, with an
 * optional epilogue (bias per row and activation) fused into the store of C.
 *
 * Results are bitwise identical for any thread count (work is split over output tiles, never over
 * K, and block sizes never depend on the thread count); they may differ between ISAs.
 */
#include <cstddef>
#include <type_traits>

#include "mlpkit/activations.hpp"
#include "mlpkit/export.hpp"
#include "mlpkit/matrix.hpp"

namespace mlpkit MLPKIT_API {

/**
 * What gemm applies to each element of C after the product, in the same store:
 * `Z[i][j] = alpha·(op(A)·op(B))[i][j] + beta·C[i][j] + bias[i]`, then `C[i][j] = act(Z[i][j])`.
 *
 * - `bias`: null (no bias) or m elements, one per row of C (features are rows in mlpkit).
 * - `activation`, `leaky_slope`: the activation; `leaky_slope` is used by Activation::leaky_relu only.
 * - `pre_activation`: when its `data` is non-null, an m × n view that receives Z (before the
 *   activation), as backward passes need it; it may not overlap C unless it is C itself (same
 *   data and ld), else gemm throws.
 * - `accuracy`: the tier of the activation (see Accuracy); fused or not, the values are those of
 *   activation_forward in the same tier.
 */
template <class T>
struct Epilogue {
  const T* bias = nullptr;                       ///< m elements added to the rows of C, or null
  Activation activation = Activation::identity;  ///< applied to Z last
  T leaky_slope = T(0.01);                       ///< of Activation::leaky_relu
  MatrixView<T> pre_activation{};                ///< receives Z when its data is non-null
  Accuracy accuracy = Accuracy::precise;         ///< the tier of the activation
};

/**
 * C = alpha·op(A)·op(B) + beta·C, row-major, as CBLAS `cblas_?gemm(CblasRowMajor, …)`.
 *
 * op(A) is m × k: A is m × k (lda ≥ k) for Trans::no, k × m (lda ≥ m) for Trans::yes.
 * op(B) is k × n: B is k × n (ldb ≥ n) for Trans::no, n × k (ldb ≥ k) for Trans::yes.
 * C is m × n, ldc ≥ n. With beta = 0, C is never read (NaN in C does not propagate); with
 * k = 0 or alpha = 0, A and B are not read and C = beta·C (also for alpha = ±Inf or NaN when
 * k = 0, as in CBLAS). m, n or k of 0 are valid.
 *
 * Throws mlpkit::Error (naming the argument and values) when a leading dimension is smaller
 * than the row it describes, a pointer is null while its matrix is not empty, or a size product
 * overflows std::size_t.
 */
template <class T>
MLPKIT_API void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
          const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

/**
 * C = act(alpha·op(A)·op(B) + beta·C + bias), the epilogue fused into the store of C.
 *
 * Shapes: op(A) is c.rows × k and op(B) is k × c.cols, where op(X) is X for Trans::no and Xᵀ
 * for Trans::yes (so `a` is m × k or k × m, `b` is k × n or n × k). See Epilogue for bias and
 * pre_activation. T is deduced from c alone, so non-const views (and a double literal alpha for
 * float data) are accepted for a and b.
 *
 * Throws mlpkit::Error when the shapes of a, b, c (or epilogue.pre_activation) do not match, when
 * a view is invalid (ld < cols, null data with a non-empty shape, overflowing size), when
 * epilogue.pre_activation partially overlaps c, or when epilogue.activation is not an Activation or
 * epilogue.accuracy not an Accuracy.
 * A null bias means no bias.
 */
template <class T>
MLPKIT_API void gemm(Trans ta, Trans tb, std::type_identity_t<T> alpha,
                     const MatrixView<const std::type_identity_t<T>>& a,
                     const MatrixView<const std::type_identity_t<T>>& b, std::type_identity_t<T> beta,
                     const MatrixView<T>& c, const Epilogue<T>& epilogue = {});

}  // namespace mlpkit
