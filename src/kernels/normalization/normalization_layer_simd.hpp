#pragma once
// Layer norm kernels over one column panel (included by normalization_simd.hpp). Statistics run
// down the columns, so a panel is swept row by row (long contiguous runs the hardware prefetchers
// follow, helped by software prefetch) with per-column accumulators in L1; the panel is sized to
// stay in L2 for the second pass (see layer_norm_panel), so memory sees one read of x and one write of y.
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstdint>

#include "kernels/normalization/normalization_kernels.hpp"
#include "kernels/simd/simd.hpp"

namespace mlpkit::detail::simd::normalization {

// A panel's row segment is too short for the hardware prefetchers to ramp up before the sweep
// jumps to the next row, so the first pass requests the segment a few rows ahead itself.
inline constexpr std::size_t kPrefetchRows = 4;

template <class Arch, class T>
void prefetch_segment(const T* row, std::size_t bytes) {
  const char* p = reinterpret_cast<const char*>(row);
  for (std::size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(p + offset, 0, 3);
}

/**
 * Two per-column arrays of a panel (zeroed over `width` columns) in one buffer, the second 64 bytes
 * further than a multiple of 4 KiB: at the same 4 KiB offset, every load from the second array
 * would wait for the store to the first (4K aliasing).
 */
template <class T>
struct PanelColumns {
  explicit PanelColumns(std::size_t width) {
    for (std::size_t j = 0; j < width; ++j) first[j] = second[j] = T(0);
  }
  PanelColumns(const PanelColumns&) = delete;
  PanelColumns& operator=(const PanelColumns&) = delete;

  alignas(64) T storage[2 * kLayerNormMaxPanel + 64 / sizeof(T)];
  T* const first = storage;
  T* const second = storage + kLayerNormMaxPanel + 64 / sizeof(T);
};

template <class Arch, class T>
void layer_norm_forward_block(MatrixView<const T> x, const T* gamma, const T* beta, T epsilon, MatrixView<T> y,
                              T* mean, T* inv_std, bool stream) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t w = batch::size;
  const std::size_t rows = x.rows, width = x.cols, full = width / w * w;
  PanelColumns<T> columns(width);  // μ[j] and M2[j]
  T* mu = columns.first;
  T* m2 = columns.second;

  // Pass 1: Welford down each column; after row i every column has seen i + 1 values, so 1/(i+1)
  // is one broadcast: delta = x − μ, μ += delta/(i+1), M2 += delta·(x − μ).
  for (std::size_t i = 0; i < rows; ++i) {
    const T* xi = x.row(i);
    if (i + kPrefetchRows < rows) prefetch_segment<Arch, T>(x.row(i + kPrefetchRows), width * sizeof(T));
    const T r = T(1) / static_cast<T>(i + 1);
    const batch rb(r);
    for (std::size_t j = 0; j < full; j += w) {
      const batch v = batch::load_unaligned(xi + j);
      const batch m = batch::load_aligned(mu + j);
      const batch delta = v - m;
      const batch m_new = ops::fmadd(delta, rb, m);
      m_new.store_aligned(mu + j);
      ops::fmadd(delta, v - m_new, batch::load_aligned(m2 + j)).store_aligned(m2 + j);
    }
    for (std::size_t j = full; j < width; ++j) {
      const T delta = xi[j] - mu[j];
      mu[j] += delta * r;
      m2[j] += delta * (xi[j] - mu[j]);
    }
  }
  const T count = static_cast<T>(rows);
  for (std::size_t j = 0; j < width; ++j) {
    m2[j] = T(1) / std::sqrt(m2[j] / count + epsilon);  // from here on: inv_std
    mean[j] = mu[j];
    inv_std[j] = m2[j];
  }

  // Pass 2: y = γ[i] · (x − μ[j]) · inv_std[j] + β[i], reading the panel back from cache.
  for (std::size_t i = 0; i < rows; ++i) {
    const T* xi = x.row(i);
    T* yi = y.row(i);
    const batch g(gamma[i]), b(beta[i]);
    std::size_t j = 0;
    if (stream)
      for (; j < width && reinterpret_cast<std::uintptr_t>(yi + j) % (w * sizeof(T)) != 0; ++j)
        yi[j] = (xi[j] - mu[j]) * m2[j] * gamma[i] + beta[i];
    for (; j + w <= width; j += w) {
      const batch out =
          ops::fmadd((batch::load_unaligned(xi + j) - batch::load_unaligned(mu + j)) * batch::load_unaligned(m2 + j), g, b);
      if (stream) ops::store_stream<Arch, T>(yi + j, out);
      else out.store_unaligned(yi + j);
    }
    for (; j < width; ++j) yi[j] = (xi[j] - mu[j]) * m2[j] * gamma[i] + beta[i];
  }
  if (stream) ops::stream_fence<Arch>();  // non-temporal stores are weakly ordered: publish them before returning
}

template <class Arch, class T>
void layer_norm_backward_block(MatrixView<const T> x, MatrixView<const T> dy, const T* gamma, const T* mean,
                               const T* inv_std, MatrixView<T> dx, T* dgamma, T* dbeta, bool stream) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t w = batch::size;
  const std::size_t rows = x.rows, width = x.cols, full = width / w * w;
  PanelColumns<T> columns(width);  // Σ_i g (g = dy · γ) and Σ_i g · x̂
  T* sum_g = columns.first;
  T* sum_g_xhat = columns.second;

  // Pass 1: column sums for dx and this panel's row sums for dγ, dβ.
  for (std::size_t i = 0; i < rows; ++i) {
    const T* xi = x.row(i);
    const T* dyi = dy.row(i);
    if (i + kPrefetchRows < rows) {
      prefetch_segment<Arch, T>(x.row(i + kPrefetchRows), width * sizeof(T));
      prefetch_segment<Arch, T>(dy.row(i + kPrefetchRows), width * sizeof(T));
    }
    const batch g(gamma[i]);
    batch row_dgamma(T(0)), row_dbeta(T(0));
    for (std::size_t j = 0; j < full; j += w) {
      const batch d = batch::load_unaligned(dyi + j);
      const batch xhat = (batch::load_unaligned(xi + j) - batch::load_unaligned(mean + j)) * batch::load_unaligned(inv_std + j);
      const batch gd = d * g;
      (batch::load_aligned(sum_g + j) + gd).store_aligned(sum_g + j);
      ops::fmadd(gd, xhat, batch::load_aligned(sum_g_xhat + j)).store_aligned(sum_g_xhat + j);
      row_dgamma = ops::fmadd(d, xhat, row_dgamma);
      row_dbeta += d;
    }
    T dgamma_i = xsimd::hadd(row_dgamma), dbeta_i = xsimd::hadd(row_dbeta);
    for (std::size_t j = full; j < width; ++j) {
      const T xhat = (xi[j] - mean[j]) * inv_std[j];
      const T gd = dyi[j] * gamma[i];
      sum_g[j] += gd;
      sum_g_xhat[j] += gd * xhat;
      dgamma_i += dyi[j] * xhat;
      dbeta_i += dyi[j];
    }
    dgamma[i] = dgamma_i;
    dbeta[i] = dbeta_i;
  }

  // dx = inv_std/n · (n·g − Σg − x̂·Σg·x̂) = g·inv_std − (b + x̂·c), b = inv_std·Σg/n, c = inv_std·Σg·x̂/n.
  const T count = static_cast<T>(rows);
  for (std::size_t j = 0; j < width; ++j) {
    sum_g[j] = inv_std[j] * sum_g[j] / count;
    sum_g_xhat[j] = inv_std[j] * sum_g_xhat[j] / count;
  }
  // Pass 2: dx, reading the panel back from cache.
  for (std::size_t i = 0; i < rows; ++i) {
    const T* xi = x.row(i);
    const T* dyi = dy.row(i);
    T* dxi = dx.row(i);
    const batch g(gamma[i]);
    const auto scalar = [&](std::size_t j) {
      const T xhat = (xi[j] - mean[j]) * inv_std[j];
      dxi[j] = dyi[j] * gamma[i] * inv_std[j] - (sum_g[j] + xhat * sum_g_xhat[j]);
    };
    std::size_t j = 0;
    if (stream)
      for (; j < width && reinterpret_cast<std::uintptr_t>(dxi + j) % (w * sizeof(T)) != 0; ++j) scalar(j);
    for (; j + w <= width; j += w) {
      const batch sc = batch::load_unaligned(inv_std + j);
      const batch xhat = (batch::load_unaligned(xi + j) - batch::load_unaligned(mean + j)) * sc;
      const batch gd = batch::load_unaligned(dyi + j) * g;
      const batch correction = ops::fmadd(xhat, batch::load_unaligned(sum_g_xhat + j), batch::load_unaligned(sum_g + j));
      const batch out = xsimd::fms(gd, sc, correction);
      if (stream) ops::store_stream<Arch, T>(dxi + j, out);
      else out.store_unaligned(dxi + j);
    }
    for (; j < width; ++j) scalar(j);
  }
  if (stream) ops::stream_fence<Arch>();  // non-temporal stores are weakly ordered: publish them before returning
}

}  // namespace mlpkit::detail::simd::normalization
