#pragma once
// Normalization kernels: one table of single-threaded kernels per ISA, plus the scalar reference.
// The public code (standardizer.cpp, normalization.cpp) checks arguments, splits the work into
// items with fixed sizes and goes parallel; the kernels only see rows, chunks and column blocks.
#include <cstddef>

#include "mlpkit/matrix.hpp"
#include "runtime/kernel_tables.hpp"

namespace mlpkit::detail {

/** Welford statistics of a run of values: count, mean and M2 = Σ (x − mean)², all in double. */
struct Moments {
  double count = 0;
  double mean = 0;
  double m2 = 0;
};

/** Chan et al.'s pairwise merge: the moments of the union of a's and b's values. */
inline Moments merge_moments(const Moments& a, const Moments& b) {
  if (a.count == 0) return b;
  if (b.count == 0) return a;
  const double count = a.count + b.count;
  const double delta = b.mean - a.mean;
  const double weight_b = b.count / count;
  return {count, a.mean + delta * weight_b, a.m2 + b.m2 + delta * delta * a.count * weight_b};
}

/** Single-threaded normalization kernels of one ISA (or the scalar reference). */
template <class T>
struct NormalizationKernels {
  /** Moments of x[0..n) (Welford per SIMD lane, lanes merged in a fixed order). */
  Moments (*moments)(const T* x, std::size_t n);
  /**
   * y[j] = ((x[j] − shift) − shift_low) · scale + offset for j < n. shift + shift_low is a mean
   * split in two T values (float data with a large offset keeps its digits: x − shift is exact
   * for x near shift). With stream, full SIMD stores to aligned addresses bypass the cache
   * (fenced before returning). y may be x.
   */
  void (*affine)(const T* x, std::size_t n, T shift, T shift_low, T scale, T offset, T* y, bool stream);
  /** sums[0] = Σ dy[j], sums[1] = Σ dy[j] · (x[j] − mean). */
  void (*backward_sums)(const T* x, const T* dy, std::size_t n, T mean, T* sums);
  /** dx[j] = p · dy[j] + q · (x[j] − mean) + r. dx may be dy. */
  void (*backward_apply)(const T* x, const T* dy, std::size_t n, T mean, T p, T q, T r, T* dx);
  /**
   * Layer norm forward of a column panel (x.cols ≤ kLayerNormMaxPanel): per column j, mean[j],
   * inv_std[j] = 1/√(σ²[j] + epsilon) over the rows, y = gamma[i] · (x − mean[j]) · inv_std[j] + beta[i].
   * With stream, y is written with non-temporal stores (fenced before returning).
   */
  void (*layer_norm_forward_block)(MatrixView<const T> x, const T* gamma, const T* beta, T epsilon,
                                   MatrixView<T> y, T* mean, T* inv_std, bool stream);
  /**
   * Layer norm backward of a column panel: dx as in layer_norm_backward, and per row i the
   * panel's partial sums dgamma[i] = Σ_j dy · x̂, dbeta[i] = Σ_j dy (overwritten). stream as for
   * the forward.
   */
  void (*layer_norm_backward_block)(MatrixView<const T> x, MatrixView<const T> dy, const T* gamma,
                                    const T* mean, const T* inv_std, MatrixView<T> dx, T* dgamma,
                                    T* dbeta, bool stream);
};

// normalization_kernels<Arch, T>() (normalization_simd.hpp), normalization_kernels_ref<T>() and
// active_normalization_kernels<T>().
MLPKIT_DECLARE_KERNEL_TABLES(NormalizationKernels, normalization);

/** The widest layer norm panel: its two per-column accumulator arrays stay in L1 (16 KiB for double). */
inline constexpr std::size_t kLayerNormMaxPanel = 1024;

/**
 * Columns of a layer norm panel for `rows` rows of `elem_size` bytes in an `cols`-wide matrix: a
 * multiple of 64 columns whose rows × columns stay within ~800 KiB, so the second pass reads the
 * panel back from L2 (measured on 784 rows: 1 KiB per row beats 256 B, whose strided first pass
 * is slow, and 2.5 KiB or whole rows, which spill to L3 or memory), at most kLayerNormMaxPanel,
 * and narrow enough to give a small matrix at least 4 panels to spread over threads. Depends on
 * the shape only, never on the thread count.
 */
inline std::size_t layer_norm_panel(std::size_t rows, std::size_t cols, std::size_t elem_size) {
  constexpr std::size_t budget = std::size_t{800} << 10, step = 64;
  std::size_t panel = budget / (rows * elem_size + 1) / step * step;
  const std::size_t quarter = (cols / 4 + step - 1) / step * step;
  if (quarter < panel) panel = quarter;
  if (panel > kLayerNormMaxPanel) panel = kLayerNormMaxPanel;
  return panel < step ? step : panel;
}

/** Elements per chunk of a row reduction: fixed, so the sum order never depends on threads. */
inline constexpr std::size_t kNormChunk = 4096;

/** Examples per chunk when fitting a Standardizer: one (feature, chunk) is one parallel item. */
inline constexpr std::size_t kFitChunk = 16384;

}  // namespace mlpkit::detail
