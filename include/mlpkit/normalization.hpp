#pragma once
/** @file
 * Normalization: input standardization with statistics reused at test time, batch norm and
 * layer norm (forward and backward).
 *
 * Layout of every matrix here: features are rows, examples are columns (`X` is `n_x × m`,
 * row-major with `ld >= cols`). Batch norm normalizes each feature (a row) over the batch; layer
 * norm normalizes each example (a column) over its features. Every function is dispatched to the
 * active ISA and multithreaded; results are bitwise identical for any thread count (they may
 * differ in the last bits between ISAs, whose SIMD widths differ).
 */
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mlpkit/export.hpp"
#include "mlpkit/matrix.hpp"

namespace mlpkit MLPKIT_API {

/**
 * Per-feature standardization z = (x − μ) / √(σ² + ε), with μ and σ² = (1/m) Σ (x − μ)² (the
 * biased variance) learned by fit / partial_fit on training data and reused unchanged on test
 * data. A feature whose variance is exactly 0 (a constant feature) gets scale 1, so it maps to
 * x − μ (0 on the training data) instead of being divided by √ε.
 *
 * Statistics are accumulated in double for both float and double input (Welford within a chunk,
 * Chan's pairwise merge across chunks; never E[x²] − E[x]²), so data with a large offset keeps
 * its digits. The statistics can be saved to and loaded from a versioned JSON document.
 */
template <class T>
class Standardizer {
 public:
  /** An unfitted standardizer. Throws mlpkit::Error unless epsilon is finite and > 0. */
  explicit Standardizer(T epsilon = T(1e-8));

  /**
   * Learns μ and σ² of every feature from x (features × examples), replacing any earlier state.
   * Throws mlpkit::Error for an invalid view, an empty x, a non-finite value (the message
   * names the first offending feature and example) or a variance beyond the range of T; the
   * state is then unchanged.
   */
  void fit(MatrixView<const T> x);

  /**
   * Adds the examples of x (features × examples) to the statistics, as if fit had seen all data
   * so far at once (up to rounding). The first call sets the feature count; later calls must
   * match it. x with 0 examples changes nothing. Throws as fit does, and for a feature-count
   * mismatch (naming both counts); the state is then unchanged.
   */
  void partial_fit(MatrixView<const T> x);

  /**
   * out = (x − μ) / √(σ² + ε) per feature (scale 1 for a constant feature). x, out: features ×
   * examples with the same shape; out may be x itself (in place), other overlap is not allowed.
   * Throws mlpkit::Error before fit, for invalid views, when out overlaps x without being x
   * (same data and ld), or when x's feature count differs from the fitted one (naming both shapes).
   */
  void transform(MatrixView<const T> x, MatrixView<T> out) const;

  /** out = z · √(σ² + ε) + μ (z + μ for a constant feature): the inverse of transform. Throws as transform. */
  void inverse_transform(MatrixView<const T> z, MatrixView<T> out) const;

  /** μ per feature (empty before fit). */
  std::span<const T> mean() const { return mean_; }
  /** σ² per feature, biased (divided by the example count); empty before fit. */
  std::span<const T> variance() const { return variance_; }
  /** True once statistics from at least one example exist. */
  bool fitted() const { return count_ > 0; }
  /** The number of features (0 before fit). */
  std::size_t features() const { return mean_.size(); }
  /** The number of examples the statistics were learned from. */
  std::uint64_t count() const { return count_; }
  /** ε added to σ² before the square root. */
  T epsilon() const { return epsilon_; }
  /**
   * μ and σ² per feature as accumulated, in double (mean() and variance() are these rounded to T).
   * What to_json and model files store, so that a standardizer rebuilt by from_statistics
   * transforms bitwise as this one does.
   */
  std::span<const double> mean_statistics() const { return mean_acc_; }
  /** σ² per feature as accumulated, in double (see mean_statistics()). */
  std::span<const double> variance_statistics() const { return variance_acc_; }

  /**
   * A fitted standardizer from saved statistics: mean and variance (double, one per feature, as
   * mean_statistics() and variance_statistics() return them), the example count and ε. Throws
   * mlpkit::Error when the lengths differ or are 0, count is 0, a statistic is not finite in T, a
   * variance is negative, or ε is not finite and > 0 (naming the field and index).
   */
  static Standardizer from_statistics(std::span<const double> mean, std::span<const double> variance,
                                      std::uint64_t count, double epsilon);

  /**
   * The statistics as a JSON document: `{"format": "mlpkit.standardizer", "version": 1,
   * "scalar": "float"|"double", "epsilon", "count", "features", "mean": [...], "variance": [...]}`,
   * numbers written so that they read back exactly. Throws mlpkit::Error before fit.
   */
  std::string to_json() const;
  /**
   * A standardizer from to_json's document; mean() and variance() equal the saved ones bitwise.
   * Throws mlpkit::Error for malformed JSON, a different format, version or scalar type, sizes
   * that disagree, non-finite or negative values.
   */
  static Standardizer from_json(std::string_view json);
  /** Writes to_json() to `path`. Throws mlpkit::Error before fit or when the file cannot be written. */
  void save(const std::filesystem::path& path) const;
  /** Reads a file written by save. Throws mlpkit::Error when it cannot be read or is corrupt or truncated. */
  static Standardizer load(const std::filesystem::path& path);

 private:
  void publish();  // refreshes the T-valued members from the double state

  T epsilon_;
  std::uint64_t count_ = 0;
  std::vector<double> mean_acc_, variance_acc_;  // running statistics in double
  std::vector<T> mean_, variance_;
  std::vector<T> mean_low_;   // mean_acc_ − mean_, so transform subtracts the double mean in two steps
  std::vector<T> scale_;      // 1 / √(σ² + ε), or 1 for a constant feature
  std::vector<T> deviation_;  // √(σ² + ε), or 1 for a constant feature
};

extern template class Standardizer<float>;
extern template class Standardizer<double>;

/**
 * What the backward pass of batch or layer norm needs from its forward pass; owned by the caller,
 * (re)sized by the forward pass. Batch norm: one entry per feature; layer norm: one per example.
 */
template <class T>
struct NormalizationCache {
  std::vector<T> mean;     ///< μ used to normalize
  std::vector<T> inv_std;  ///< 1 / √(σ² + ε) used to normalize
  bool batch_statistics = false;  ///< true when μ, σ² came from the data (training), false for running statistics
};

/** Options of batch_norm_forward. */
template <class T>
struct BatchNormOptions {
  bool training = true;  ///< true: normalize with batch statistics and update the running ones; false: use running ones
  T momentum = T(0.1);   ///< running ← (1 − momentum) · running + momentum · batch; in [0, 1]
  T epsilon = T(1e-5);   ///< added to σ² before the square root; > 0
};

/**
 * Batch norm forward: y[i][j] = γ[i] · (x[i][j] − μ[i]) / √(σ²[i] + ε) + β[i], per feature i (a
 * row) over the batch j (the columns).
 *
 * Training: μ, σ² = (1/m) Σ_j (x − μ)² are the batch's, and running_mean / running_variance are
 * updated with the momentum (with this biased σ²). Inference: μ, σ² are running_mean and
 * running_variance, which are left unchanged. cache receives μ and 1/√(σ² + ε) per feature.
 *
 * x, y: n × m (y may be x itself, same ld; other overlap throws); gamma, beta, running_mean,
 * running_variance: n each.
 * Throws mlpkit::Error for invalid views, mismatched shapes or lengths (naming both), m = 0 in
 * training, ε ≤ 0 or a momentum outside [0, 1].
 */
template <class T>
MLPKIT_API void batch_norm_forward(MatrixView<const T> x, std::span<const T> gamma, std::span<const T> beta,
                        std::span<T> running_mean, std::span<T> running_variance, MatrixView<T> y,
                        NormalizationCache<T>& cache, const BatchNormOptions<T>& options = {});

/**
 * Batch norm backward, from the forward pass's x and cache: dβ[i] = Σ_j dy, dγ[i] = Σ_j dy · x̂ and
 * dx (with x̂ = (x − μ) · inv_std). After a training forward, dx accounts for μ and σ² depending on
 * the batch: dx = γ · inv_std / m · (m · dy − dβ − x̂ · dγ); after an inference forward, dx = γ · inv_std · dy.
 *
 * x, dy, dx: n × m (dx may be dy or x itself, same ld; other overlap throws); gamma, dgamma,
 * dbeta: n; cache: from batch_norm_forward on x.
 * Throws mlpkit::Error for invalid views or mismatched shapes, lengths or cache size.
 */
template <class T>
MLPKIT_API void batch_norm_backward(MatrixView<const T> x, MatrixView<const T> dy, std::span<const T> gamma,
                         const NormalizationCache<T>& cache, MatrixView<T> dx, std::span<T> dgamma,
                         std::span<T> dbeta);

/** Options of layer_norm_forward (as BatchNormOptions are batch_norm_forward's). */
template <class T>
struct LayerNormOptions {
  T epsilon = T(1e-5);  ///< added to σ² before the square root; > 0
};

/**
 * Layer norm forward: y[i][j] = γ[i] · (x[i][j] − μ[j]) / √(σ²[j] + ε) + β[i], with μ[j] and
 * σ²[j] = (1/n) Σ_i (x[i][j] − μ[j])² per example j (a column) over its n features. The same in
 * training and inference. cache receives μ and 1/√(σ² + ε) per example.
 *
 * x, y: n × m (y may be x itself, same ld; other overlap throws); gamma, beta: n each. Throws
 * mlpkit::Error for invalid views, mismatched shapes or lengths, n = 0 with m > 0, or ε ≤ 0.
 */
template <class T>
MLPKIT_API void layer_norm_forward(MatrixView<const T> x, std::span<const T> gamma, std::span<const T> beta,
                        MatrixView<T> y, NormalizationCache<T>& cache, const LayerNormOptions<T>& options = {});

/**
 * The earlier form, with ε as an argument: the same as
 * `layer_norm_forward(x, gamma, beta, y, cache, LayerNormOptions<T>{epsilon})`.
 */
template <class T>
[[deprecated("pass epsilon in LayerNormOptions: layer_norm_forward(x, gamma, beta, y, cache, {epsilon})")]]
MLPKIT_API void layer_norm_forward(MatrixView<const T> x, std::span<const T> gamma, std::span<const T> beta, T epsilon,
                        MatrixView<T> y, NormalizationCache<T>& cache);

/**
 * Layer norm backward, from the forward pass's x and cache: per example j, with x̂ = (x − μ[j]) ·
 * inv_std[j] and g = dy · γ: dx = inv_std[j] / n · (n · g − Σ_i g − x̂ · Σ_i g · x̂); per feature i,
 * dγ[i] = Σ_j dy · x̂ and dβ[i] = Σ_j dy.
 *
 * x, dy, dx: n × m (dx may be dy or x itself, same ld; other overlap throws); gamma, dgamma,
 * dbeta: n; cache: from layer_norm_forward on x.
 * Throws mlpkit::Error for invalid views or mismatched shapes, lengths or cache size.
 */
template <class T>
MLPKIT_API void layer_norm_backward(MatrixView<const T> x, MatrixView<const T> dy, std::span<const T> gamma,
                         const NormalizationCache<T>& cache, MatrixView<T> dx, std::span<T> dgamma,
                         std::span<T> dbeta);

}  // namespace mlpkit
