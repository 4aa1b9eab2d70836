#pragma once
// Normalization kernels written once against xsimd and compiled per ISA (see isa/<isa>.cpp).
// Everything here is a template over the arch tag, so no symbol is shared between ISA objects
// (which is also why merge_moments is not called here: an inline non-template could be emitted
// as a weak symbol by each ISA object).
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/normalization/normalization_kernels.hpp"
#include "kernels/simd/simd.hpp"

namespace mlpkit::detail::simd::normalization {

template <class Arch, class T>
xsimd::batch<double, Arch> load_as_double(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    return ops::load_widened<Arch>(p);
  } else {
    return xsimd::batch<double, Arch>::load_unaligned(p);
  }
}

// Welford per lane: all lanes see the same count k, so 1/k is one scalar broadcast and the update
// needs no division per element. Four accumulator sets hide the FMA latency of mean → delta → mean.
// Float input is widened to double: with a large offset (mean 1e6) a float mean loses its digits.
template <class Arch, class T>
Moments moments(const T* x, std::size_t n) {
  using dbatch = xsimd::batch<double, Arch>;
  constexpr std::size_t w = dbatch::size;
  constexpr std::size_t sets = 4;
  dbatch mean[sets], m2[sets];
  for (std::size_t s = 0; s < sets; ++s) mean[s] = m2[s] = dbatch(0.0);
  double k = 0;
  std::size_t i = 0;
  for (; i + sets * w <= n; i += sets * w) {
    k += 1;
    const dbatch r(1.0 / k);
    for (std::size_t s = 0; s < sets; ++s) {
      const dbatch v = load_as_double<Arch>(x + i + s * w);
      const dbatch delta = v - mean[s];
      mean[s] = ops::fmadd(delta, r, mean[s]);
      m2[s] = ops::fmadd(delta, v - mean[s], m2[s]);
    }
  }
  Moments result;
  if (k > 0) {
    // Every lane holds k values, so the merges form a tree of equal counts c, where Chan's formula
    // needs no division: mean = (a + b)/2, M2 = M2a + M2b + δ²·c/2. The tree's order is fixed.
    double c = k;
    const auto merge_equal = [&](dbatch& mean_a, dbatch& m2_a, const dbatch& mean_b, const dbatch& m2_b) {
      const dbatch delta = mean_b - mean_a;
      mean_a = (mean_a + mean_b) * dbatch(0.5);
      m2_a = (m2_a + m2_b) + delta * delta * dbatch(0.5 * c);
    };
    merge_equal(mean[0], m2[0], mean[1], m2[1]);
    merge_equal(mean[2], m2[2], mean[3], m2[3]);
    c *= 2;
    merge_equal(mean[0], m2[0], mean[2], m2[2]);
    c *= 2;
    alignas(64) double lane_mean[w];
    alignas(64) double lane_m2[w];
    mean[0].store_aligned(lane_mean);
    m2[0].store_aligned(lane_m2);
    for (std::size_t half = w / 2; half >= 1; half /= 2, c *= 2) {
      for (std::size_t l = 0; l < half; ++l) {
        const double delta = lane_mean[l + half] - lane_mean[l];
        lane_mean[l] = (lane_mean[l] + lane_mean[l + half]) * 0.5;
        lane_m2[l] = (lane_m2[l] + lane_m2[l + half]) + delta * delta * (0.5 * c);
      }
    }
    result = {c, lane_mean[0], lane_m2[0]};
  }
  if (i < n) {
    // The few values past the last full step: their own two-pass moments, merged once.
    const double tail_count = static_cast<double>(n - i);
    double tail_sum = 0;  // of x − x[i]: exact for a constant feature, whose σ² must come out exactly 0
    for (std::size_t j = i; j < n; ++j) tail_sum += static_cast<double>(x[j]) - static_cast<double>(x[i]);
    const double tail_mean = static_cast<double>(x[i]) + tail_sum / tail_count;
    double tail_m2 = 0;
    for (std::size_t j = i; j < n; ++j) {
      const double d = static_cast<double>(x[j]) - tail_mean;
      tail_m2 += d * d;
    }
    if (result.count == 0) {
      result = {tail_count, tail_mean, tail_m2};
    } else {
      const double count = result.count + tail_count;
      const double delta = tail_mean - result.mean;
      const double weight = tail_count / count;
      result = {count, result.mean + delta * weight, result.m2 + tail_m2 + delta * delta * result.count * weight};
    }
  }
  return result;
}

template <class Arch, class T>
void affine(const T* x, std::size_t n, T shift, T shift_low, T scale, T offset, T* y, bool stream) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t w = batch::size;
  const batch s(shift), sl(shift_low), c(scale), o(offset);
  std::size_t i = 0;
  if (stream) {
    // Non-temporal stores need aligned addresses; a row of a padded Matrix is aligned already.
    for (; i < n && reinterpret_cast<std::uintptr_t>(y + i) % (w * sizeof(T)) != 0; ++i)
      y[i] = ((x[i] - shift) - shift_low) * scale + offset;
    for (; i + 2 * w <= n; i += 2 * w) {
      ops::store_stream<Arch, T>(y + i, ops::fmadd((batch::load_unaligned(x + i) - s) - sl, c, o));
      ops::store_stream<Arch, T>(y + i + w, ops::fmadd((batch::load_unaligned(x + i + w) - s) - sl, c, o));
    }
  }
  for (; i + w <= n; i += w) ops::fmadd((batch::load_unaligned(x + i) - s) - sl, c, o).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = ((x[i] - shift) - shift_low) * scale + offset;
  if (stream) ops::stream_fence<Arch>();  // non-temporal stores are weakly ordered: publish them before returning
}

template <class Arch, class T>
void backward_sums(const T* x, const T* dy, std::size_t n, T mean, T* sums) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t w = batch::size;
  const batch m(mean);
  batch s0(T(0)), s1(T(0)), c0(T(0)), c1(T(0));
  std::size_t i = 0;
  for (; i + 2 * w <= n; i += 2 * w) {
    const batch g0 = batch::load_unaligned(dy + i), g1 = batch::load_unaligned(dy + i + w);
    s0 += g0;
    s1 += g1;
    c0 = ops::fmadd(g0, batch::load_unaligned(x + i) - m, c0);
    c1 = ops::fmadd(g1, batch::load_unaligned(x + i + w) - m, c1);
  }
  for (; i + w <= n; i += w) {
    const batch g = batch::load_unaligned(dy + i);
    s0 += g;
    c0 = ops::fmadd(g, batch::load_unaligned(x + i) - m, c0);
  }
  T sum_dy = xsimd::hadd(s0 + s1), sum_centered = xsimd::hadd(c0 + c1);
  for (; i < n; ++i) {
    sum_dy += dy[i];
    sum_centered += dy[i] * (x[i] - mean);
  }
  sums[0] = sum_dy;
  sums[1] = sum_centered;
}

template <class Arch, class T>
void backward_apply(const T* x, const T* dy, std::size_t n, T mean, T p, T q, T r, T* dx) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t w = batch::size;
  const batch m(mean), pb(p), qb(q), rb(r);
  std::size_t i = 0;
  for (; i + w <= n; i += w) {
    const batch centered = batch::load_unaligned(x + i) - m;
    ops::fmadd(pb, batch::load_unaligned(dy + i), ops::fmadd(qb, centered, rb)).store_unaligned(dx + i);
  }
  for (; i < n; ++i) dx[i] = p * dy[i] + (q * (x[i] - mean) + r);
}

}  // namespace mlpkit::detail::simd::normalization

#include "kernels/normalization/normalization_layer_simd.hpp"

namespace mlpkit::detail {

template <class Arch, class T>
const NormalizationKernels<T>& normalization_kernels() {
  static_assert(Arch::supported(), "compile this ISA's source with its flags (cmake/MlpkitCompileOptions.cmake)");
  namespace k = simd::normalization;
  static constexpr NormalizationKernels<T> table{
      &k::moments<Arch, T>,       &k::affine<Arch, T>, &k::backward_sums<Arch, T>, &k::backward_apply<Arch, T>,
      &k::layer_norm_forward_block<Arch, T>, &k::layer_norm_backward_block<Arch, T>};
  return table;
}

}  // namespace mlpkit::detail
