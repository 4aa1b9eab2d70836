// Public batch norm and layer norm API: argument checks, work split with fixed sizes, dispatch.
// Batch norm goes parallel over features (each row's reduction stays on one thread, in fixed
// chunks merged in order); layer norm over column panels (layer_norm_panel: a width from the shape
// alone), whose per-feature partial sums of dγ, dβ are combined in panel order, so every result is
// bitwise identical for any thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/normalization/normalization_kernels.hpp"
#include "kernels/streaming.hpp"
#include "mlpkit/normalization.hpp"
#include "mlpkit/runtime.hpp"
#include "runtime/checks.hpp"
#include "runtime/dispatch.hpp"
#include "runtime/threads.hpp"

namespace mlpkit {
namespace detail {

MLPKIT_DEFINE_ACTIVE_KERNELS(NormalizationKernels, normalization)

namespace {

template <class T>
void check_length(const char* function, const char* argument, std::size_t length, std::size_t expected,
                  const char* what, MatrixView<const T> x) {
  if (length != expected)
    fail(function, argument, " has ", length, " elements but must have ", expected, " (one per ", what, " of x, which is ",
         x.rows, " × ", x.cols, ")");
}

template <class T>
MatrixView<const T> span_view(std::span<const T> s) {
  return array_view(s.data(), s.size());
}

template <class T>
void check_epsilon(const char* function, T epsilon) {
  if (!(epsilon > T(0)) || !std::isfinite(epsilon)) fail(function, "epsilon (", epsilon, ") must be finite and greater than 0");
}

// Σ f(chunk) over fixed chunks of a row, accumulated in double in chunk order.
template <class ChunkReduce>
double chunked_row_sum(std::size_t n, ChunkReduce&& reduce_chunk) {
  double total = 0;
  for (std::size_t begin = 0; begin < n; begin += kNormChunk) total += reduce_chunk(begin, std::min(kNormChunk, n - begin));
  return total;
}

// The arguments batch norm and layer norm forward share: x, y (n × m, y may be x) and gamma, beta (n each).
template <class T>
void check_forward_args(const char* function, MatrixView<const T> x, std::span<const T> gamma, std::span<const T> beta,
                        MatrixView<T> y) {
  check_view(function, "x", x);
  check_view(function, "y", y);
  check_shape(function, "y", y, x.rows, x.cols);
  check_alias(function, "y", y, "x", x);
  check_length(function, "gamma", gamma.size(), x.rows, "feature", x);
  check_length(function, "beta", beta.size(), x.rows, "feature", x);
  check_all_disjoint<T>(function, {{"y", y}}, {{"gamma", span_view(gamma)}, {"beta", span_view(beta)}});
}

template <class T>
void check_backward_args(const char* function, MatrixView<const T> x, MatrixView<const T> dy, std::span<const T> gamma,
                         const NormalizationCache<T>& cache, MatrixView<T> dx, std::span<T> dgamma, std::span<T> dbeta,
                         std::size_t cache_size, const char* cache_what) {
  check_view(function, "x", x);
  check_view(function, "dy", dy);
  check_view(function, "dx", dx);
  check_shape(function, "dy", dy, x.rows, x.cols);
  check_shape(function, "dx", dx, x.rows, x.cols);
  check_length(function, "gamma", gamma.size(), x.rows, "feature", x);
  check_length(function, "dgamma", dgamma.size(), x.rows, "feature", x);
  check_length(function, "dbeta", dbeta.size(), x.rows, "feature", x);
  check_length(function, "cache.mean", cache.mean.size(), cache_size, cache_what, x);
  check_length(function, "cache.inv_std", cache.inv_std.size(), cache_size, cache_what, x);
  // Rows (or panels) run in parallel and read x, dy where dx is written: only exact aliasing is safe.
  check_alias(function, "dx", dx, "dy", dy);
  check_alias(function, "dx", dx, "x", x);
  const NamedView<T> gamma_view{"gamma", span_view(gamma)}, mean{"cache.mean", span_view<const T>(cache.mean)},
      inv_std{"cache.inv_std", span_view<const T>(cache.inv_std)};
  check_all_disjoint<T>(function, {{"dx", dx}}, {gamma_view, mean, inv_std});
  check_all_disjoint<T>(function, {{"dgamma", span_view<const T>(dgamma)}, {"dbeta", span_view<const T>(dbeta)}},
                        {{"x", x}, {"dy", dy}, {"dx", dx}, gamma_view, mean, inv_std});
}

}  // namespace
}  // namespace detail

template <class T>
void batch_norm_forward(MatrixView<const T> x, std::span<const T> gamma, std::span<const T> beta,
                        std::span<T> running_mean, std::span<T> running_variance, MatrixView<T> y,
                        NormalizationCache<T>& cache, const BatchNormOptions<T>& options) {
  constexpr const char* function = "batch_norm_forward";
  detail::check_forward_args(function, x, gamma, beta, y);
  const std::size_t n = x.rows, m = x.cols;
  detail::check_length(function, "running_mean", running_mean.size(), n, "feature", x);
  detail::check_length(function, "running_variance", running_variance.size(), n, "feature", x);
  // Each feature's running statistics are updated while other features' x, γ, β are still read.
  detail::check_all_disjoint<T>(
      function,
      {{"running_mean", detail::span_view<const T>(running_mean)},
       {"running_variance", detail::span_view<const T>(running_variance)}},
      {{"x", x}, {"y", y}, {"gamma", detail::span_view(gamma)}, {"beta", detail::span_view(beta)}});
  detail::check_epsilon(function, options.epsilon);
  if (!(options.momentum >= T(0) && options.momentum <= T(1)))
    detail::fail(function, "options.momentum (", options.momentum, ") must lie in [0, 1]");
  if (options.training && m == 0 && n > 0) detail::fail(function, "x is ", n, " × 0: training needs at least one example");
  if (!options.training)
    for (std::size_t i = 0; i < n; ++i)
      if (!(running_variance[i] >= T(0)) || !std::isfinite(running_variance[i]))
        detail::fail(function, "running_variance[", i, "] (", running_variance[i], ") is not a finite, non-negative value");

  cache.mean.resize(n);
  cache.inv_std.resize(n);
  cache.batch_statistics = options.training;
  const auto& kernels = detail::active_normalization_kernels<T>();
  const bool stream = detail::use_streaming_stores(n * m * sizeof(T));
  detail::parallel_for(n, 5.0 * static_cast<double>(m), [&](std::size_t i) {
    const T* xi = x.row(i);
    T mean, variance;
    if (options.training) {
      // Welford in double per chunk, chunks merged in order: one pass, and a constant feature gets
      // its exact mean (a float sum would leave an error that 1/√ε then amplifies).
      detail::Moments moments;
      for (std::size_t begin = 0; begin < m; begin += detail::kFitChunk)
        moments = detail::merge_moments(moments, kernels.moments(xi + begin, std::min(detail::kFitChunk, m - begin)));
      mean = static_cast<T>(moments.mean);
      variance = static_cast<T>(moments.m2 / moments.count);
      running_mean[i] = (T(1) - options.momentum) * running_mean[i] + options.momentum * mean;
      running_variance[i] = (T(1) - options.momentum) * running_variance[i] + options.momentum * variance;
    } else {
      mean = running_mean[i];
      variance = running_variance[i];
    }
    const T inv_std = T(1) / std::sqrt(variance + options.epsilon);
    cache.mean[i] = mean;
    cache.inv_std[i] = inv_std;
    kernels.affine(xi, m, mean, T(0), gamma[i] * inv_std, beta[i], y.row(i), stream);
  });
}

template <class T>
void batch_norm_backward(MatrixView<const T> x, MatrixView<const T> dy, std::span<const T> gamma,
                         const NormalizationCache<T>& cache, MatrixView<T> dx, std::span<T> dgamma, std::span<T> dbeta) {
  constexpr const char* function = "batch_norm_backward";
  detail::check_backward_args(function, x, dy, gamma, cache, dx, dgamma, dbeta, x.rows, "feature");
  const std::size_t n = x.rows, m = x.cols;
  const auto& kernels = detail::active_normalization_kernels<T>();
  detail::parallel_for(n, 7.0 * static_cast<double>(m), [&](std::size_t i) {
    const T* xi = x.row(i);
    const T* dyi = dy.row(i);
    const T mean = cache.mean[i];
    const double inv_std = static_cast<double>(cache.inv_std[i]);
    double sum_centered = 0;
    const double sum_dy = detail::chunked_row_sum(m, [&](std::size_t b, std::size_t len) {
      T sums[2];
      kernels.backward_sums(xi + b, dyi + b, len, mean, sums);
      sum_centered += static_cast<double>(sums[1]);
      return static_cast<double>(sums[0]);
    });
    const double sum_dy_xhat = sum_centered * inv_std;  // dγ = Σ dy · x̂
    dbeta[i] = static_cast<T>(sum_dy);
    dgamma[i] = static_cast<T>(sum_dy_xhat);
    // dx = k·(m·dy − dβ − x̂·dγ) with k = γ·inv_std/m, i.e. p·dy + q·(x − μ) + r.
    const double p = static_cast<double>(gamma[i]) * inv_std;
    double q = 0, r = 0;
    if (cache.batch_statistics && m > 0) {
      const double k = p / static_cast<double>(m);
      q = -k * sum_dy_xhat * inv_std;
      r = -k * sum_dy;
    }
    kernels.backward_apply(xi, dyi, m, mean, static_cast<T>(p), static_cast<T>(q), static_cast<T>(r), dx.row(i));
  });
}

template <class T>
void layer_norm_forward(MatrixView<const T> x, std::span<const T> gamma, std::span<const T> beta, MatrixView<T> y,
                        NormalizationCache<T>& cache, const LayerNormOptions<T>& options) {
  constexpr const char* function = "layer_norm_forward";
  detail::check_forward_args(function, x, gamma, beta, y);
  const std::size_t n = x.rows, m = x.cols;
  const T epsilon = options.epsilon;
  detail::check_epsilon(function, epsilon);
  if (n == 0 && m > 0) detail::fail(function, "x is 0 × ", m, ": an example needs at least one feature");

  cache.mean.resize(m);
  cache.inv_std.resize(m);
  cache.batch_statistics = true;
  if (m == 0) return;
  const auto& kernels = detail::active_normalization_kernels<T>();
  const bool stream = detail::use_streaming_stores(n * m * sizeof(T));
  const std::size_t block = detail::layer_norm_panel(n, m, sizeof(T));
  const std::size_t blocks = (m + block - 1) / block;
  detail::parallel_for(blocks, 8.0 * static_cast<double>(n * block), [&](std::size_t b) {
    const std::size_t begin = b * block, width = std::min(block, m - begin);
    kernels.layer_norm_forward_block({x.data + begin, n, width, x.ld}, gamma.data(), beta.data(), epsilon,
                                     {y.data + begin, n, width, y.ld}, cache.mean.data() + begin,
                                     cache.inv_std.data() + begin, stream);
  });
}

// The deprecated form forwards to the one above; defining and instantiating it is no use of it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <class T>
void layer_norm_forward(MatrixView<const T> x, std::span<const T> gamma, std::span<const T> beta, T epsilon,
                        MatrixView<T> y, NormalizationCache<T>& cache) {
  layer_norm_forward(x, gamma, beta, y, cache, LayerNormOptions<T>{epsilon});
}
#pragma GCC diagnostic pop

template <class T>
void layer_norm_backward(MatrixView<const T> x, MatrixView<const T> dy, std::span<const T> gamma,
                         const NormalizationCache<T>& cache, MatrixView<T> dx, std::span<T> dgamma, std::span<T> dbeta) {
  constexpr const char* function = "layer_norm_backward";
  detail::check_backward_args(function, x, dy, gamma, cache, dx, dgamma, dbeta, x.cols, "example");
  const std::size_t n = x.rows, m = x.cols;
  std::fill(dgamma.begin(), dgamma.end(), T(0));
  std::fill(dbeta.begin(), dbeta.end(), T(0));
  if (m == 0 || n == 0) return;
  const auto& kernels = detail::active_normalization_kernels<T>();
  const bool stream = detail::use_streaming_stores(n * m * sizeof(T));
  const std::size_t block = detail::layer_norm_panel(n, m, sizeof(T));
  const std::size_t blocks = (m + block - 1) / block;
  // An item is a fixed run of blocks (from the shape alone, never the thread count); its partial
  // dγ, dβ are summed in double and the items' partials are added in item order.
  const std::size_t blocks_per_item = std::max<std::size_t>(1, blocks / 64);
  const std::size_t items = (blocks + blocks_per_item - 1) / blocks_per_item;
  std::vector<double> partial(items * 2 * n, 0.0);
  detail::parallel_for(items, 10.0 * static_cast<double>(n * block * blocks_per_item), [&](std::size_t item) {
    std::vector<T> block_dgamma(n), block_dbeta(n);
    double* item_dgamma = partial.data() + item * 2 * n;
    double* item_dbeta = item_dgamma + n;
    const std::size_t last = std::min(blocks, (item + 1) * blocks_per_item);
    for (std::size_t b = item * blocks_per_item; b < last; ++b) {
      const std::size_t begin = b * block, width = std::min(block, m - begin);
      kernels.layer_norm_backward_block({x.data + begin, n, width, x.ld}, {dy.data + begin, n, width, dy.ld}, gamma.data(),
                                        cache.mean.data() + begin, cache.inv_std.data() + begin,
                                        {dx.data + begin, n, width, dx.ld}, block_dgamma.data(), block_dbeta.data(),
                                        stream);
      for (std::size_t i = 0; i < n; ++i) {
        item_dgamma[i] += static_cast<double>(block_dgamma[i]);
        item_dbeta[i] += static_cast<double>(block_dbeta[i]);
      }
    }
  });
  std::vector<double> total(2 * n, 0.0);
  for (std::size_t item = 0; item < items; ++item)
    for (std::size_t i = 0; i < 2 * n; ++i) total[i] += partial[item * 2 * n + i];
  for (std::size_t i = 0; i < n; ++i) {
    dgamma[i] = static_cast<T>(total[i]);
    dbeta[i] = static_cast<T>(total[n + i]);
  }
}

#define MLPKIT_INSTANTIATE_NORMALIZATION(T)                                                                             \
  template void batch_norm_forward<T>(MatrixView<const T>, std::span<const T>, std::span<const T>, std::span<T>,      \
                                      std::span<T>, MatrixView<T>, NormalizationCache<T>&, const BatchNormOptions<T>&); \
  template void batch_norm_backward<T>(MatrixView<const T>, MatrixView<const T>, std::span<const T>,                  \
                                       const NormalizationCache<T>&, MatrixView<T>, std::span<T>, std::span<T>);       \
  template void layer_norm_forward<T>(MatrixView<const T>, std::span<const T>, std::span<const T>, MatrixView<T>,     \
                                      NormalizationCache<T>&, const LayerNormOptions<T>&);                              \
  template void layer_norm_forward<T>(MatrixView<const T>, std::span<const T>, std::span<const T>, T, MatrixView<T>,  \
                                      NormalizationCache<T>&);                                                          \
  template void layer_norm_backward<T>(MatrixView<const T>, MatrixView<const T>, std::span<const T>,                  \
                                       const NormalizationCache<T>&, MatrixView<T>, std::span<T>, std::span<T>);       \
  template const detail::NormalizationKernels<T>& detail::active_normalization_kernels<T>();

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
MLPKIT_INSTANTIATE_NORMALIZATION(float)
MLPKIT_INSTANTIATE_NORMALIZATION(double)
#pragma GCC diagnostic pop
#undef MLPKIT_INSTANTIATE_NORMALIZATION

}  // namespace mlpkit
