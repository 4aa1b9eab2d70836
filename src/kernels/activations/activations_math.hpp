#pragma once
// Vector elementary functions for the activation kernels, accurate to about 0.5–1 ULP each so that
// sigmoid and tanh stay within 2 ULP: exp_any by Cody–Waite reduction x = k·ln2 + r,
// |r| ≤ ln2/2, and a Taylor polynomial long enough for T (degree 7 float, 13 double); sigmoid and
// tanh (activations_sigmoid_tanh.hpp) use their own, faster minimax / table forms of e^a, a ≤ 0.
// xsimd's own functions are not used here: they are less accurate (double erf) or slower (tanh).
// Everything is a template over the arch tag: no symbol is shared between ISA objects.
#include <xsimd/xsimd.hpp>

// GCC 12 reports the deliberately undefined pass-through operand of the AVX-512 shifts inlined from
// xsimd as "maybe uninitialized": a known false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/simd/simd.hpp"

namespace mlpkit::detail::simd {

// The SIMD layer's fused operations and arch test, under the names the activation kernels use.
using ops::fmadd;
using ops::fmsub;
using ops::fnmadd;
using ops::is_avx512;
using ops::opaque;

/**
 * Horner's rule over sizeof...(I) + 1 coefficients, highest degree first, `coefficient(k)` the batch of
 * the k-th (a constant broadcast, or per lane from a table: the fast gelu's pieces).
 */
// Unrolled at compile time (a fold over the indices): GCC kept the 23-term double GELU chain as a run-time
// loop reading each coefficient from memory (precise double gelu at 0.27 G items/s, 4096, one thread).
template <class Arch, class T, class Coefficient, std::size_t... I>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> horner_steps(const xsimd::batch<T, Arch>& t,
                                                                 const Coefficient& coefficient,
                                                                 std::index_sequence<I...>) {
  xsimd::batch<T, Arch> p = coefficient(std::size_t{0});
  ((p = fmadd(p, t, coefficient(I + 1))), ...);
  return p;
}

/** Σ c_k t^k by Horner's rule, coefficients highest degree first. */
template <class Arch, class T, std::size_t N>
inline xsimd::batch<T, Arch> horner(const xsimd::batch<T, Arch>& t, const std::array<T, N>& highest_first) {
  const auto coefficient = [&highest_first](std::size_t k) { return xsimd::batch<T, Arch>(highest_first[k]); };
  return horner_steps(t, coefficient, std::make_index_sequence<N - 1>{});
}

/**
 * Σ c_k t^k (coefficients highest degree first) as E(t²) + t·O(t²): two Horner chains of half the
 * length, for the long double-precision polynomials whose single chain of dependent FMAs, not the
 * FMA count, bounds the speed.
 */
template <class Arch, class T, std::size_t N>
inline xsimd::batch<T, Arch> horner_even_odd(const xsimd::batch<T, Arch>& t, const std::array<T, N>& highest_first) {
  using B = xsimd::batch<T, Arch>;
  const B t2 = t * t;
  // c_{N−1} is the highest degree; the chain holding it starts there, the other one a step below.
  B high(highest_first[0]), low(highest_first[1]);
  for (std::size_t i = 2; i + 1 < N; i += 2) {
    high = fmadd(high, t2, B(highest_first[i]));
    low = fmadd(low, t2, B(highest_first[i + 1]));
  }
  // One explicit FMA to finish: left as a product and a sum, GCC contracted them in some inlined copies
  // and not in others, so the epilogue and activation_forward differed in the last bit.
  if constexpr (N % 2 == 1) return fmadd(t, low, fmadd(high, t2, B(highest_first[N - 1])));
  else return fmadd(high, t, low);
}

template <class T>
using IntFor = std::conditional_t<std::is_same_v<T, float>, std::int32_t, std::int64_t>;

// Constants per precision; plain constexpr functions, so nothing becomes a shared data symbol.
template <class T>
constexpr T kLog2e = T(1.4426950408889634074);
template <class T>
constexpr T ln2_hi() {  // trailing zero bits: k·ln2_hi is exact for the k that occur
  if constexpr (std::is_same_v<T, float>) return 0.693359375F;
  else return 0.693147180369123816490;
}
template <class T>
constexpr T ln2_lo() {
  if constexpr (std::is_same_v<T, float>) return -2.12194440e-4F;
  else return 1.90821492927058770002e-10;
}
template <class T>
constexpr T shifter() {  // 1.5·2^mantissa: adding it rounds to an integer kept in the low bits
  if constexpr (std::is_same_v<T, float>) return 12582912.0F;
  else return 6755399441055744.0;
}
template <class T>
constexpr int mantissa_bits() { return std::is_same_v<T, float> ? 23 : 52; }
template <class T>
constexpr T exp_fast_limit() {  // |x| below it: 2^k is a normal number, no special value occurs
  if constexpr (std::is_same_v<T, float>) return 87.0F;
  else return 708.0;
}

/** q(r) = 1/2! + r/3! + … so that e^r − 1 ≈ r + r²·q(r) for |r| ≤ ln2/2 (truncation below 0.1 ULP). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp_tail(const xsimd::batch<T, Arch>& r) {
  using B = xsimd::batch<T, Arch>;
  B q;
  if constexpr (std::is_same_v<T, float>) {
    q = fmadd(B(1.0F / 5040.0F), r, B(1.0F / 720.0F));
    q = fmadd(q, r, B(1.0F / 120.0F));
    q = fmadd(q, r, B(1.0F / 24.0F));
    q = fmadd(q, r, B(1.0F / 6.0F));
    q = fmadd(q, r, B(0.5F));
  } else {
    q = fmadd(B(1.0 / 6227020800.0), r, B(1.0 / 479001600.0));
    q = fmadd(q, r, B(1.0 / 39916800.0));
    q = fmadd(q, r, B(1.0 / 3628800.0));
    q = fmadd(q, r, B(1.0 / 362880.0));
    q = fmadd(q, r, B(1.0 / 40320.0));
    q = fmadd(q, r, B(1.0 / 5040.0));
    q = fmadd(q, r, B(1.0 / 720.0));
    q = fmadd(q, r, B(1.0 / 120.0));
    q = fmadd(q, r, B(1.0 / 24.0));
    q = fmadd(q, r, B(1.0 / 6.0));
    q = fmadd(q, r, B(0.5));
  }
  return q;
}

/**
 * 2^k·e^r with one final rounding: 1 + r is split exactly into hi + lo, so neither the rounding of
 * 1 + r nor that of e^r − 1 shows up as a 0.5-ULP step (about 0.6 ULP in all).
 */
template <class Arch, class T>
inline xsimd::batch<T, Arch> scaled_exp_reduced(const xsimd::batch<T, Arch>& r, const xsimd::batch<T, Arch>& scale) {
  const auto hi = T(1) + r;
  const auto lo = (T(1) - hi) + r;  // Fast2Sum, |r| < 1
  return fmadd(hi, scale, fmadd(r * r, exp_tail(r), lo) * scale);
}

/** 2^k for integral k (as T) in the normal exponent range, built from the exponent bits. */
template <class Arch, class T>
inline xsimd::batch<T, Arch> pow2_integral(const xsimd::batch<T, Arch>& k) {
  using I = xsimd::batch<IntFor<T>, Arch>;
  const I bits = xsimd::bitwise_cast<I>(k + xsimd::batch<T, Arch>(shifter<T>()));
  // bits = bits(shifter) + k; shifted into the exponent field, bits(shifter) drops out.
  const I one = xsimd::bitwise_cast<I>(xsimd::batch<T, Arch>(T(1)));
  return xsimd::bitwise_cast<xsimd::batch<T, Arch>>((bits << mantissa_bits<T>()) + one);
}

/** Splits x = k·ln2 + r; returns r, sets k (integral, as T). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> reduce_ln2(const xsimd::batch<T, Arch>& x, xsimd::batch<T, Arch>& k) {
  using B = xsimd::batch<T, Arch>;
  k = fmadd(x, B(kLog2e<T>), B(shifter<T>())) - B(shifter<T>());
  B r = fnmadd(k, B(ln2_hi<T>()), x);
  return fnmadd(k, B(ln2_lo<T>()), r);
}

/** e^x for |x| < exp_fast_limit (no NaN). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp_fast(const xsimd::batch<T, Arch>& x) {
  xsimd::batch<T, Arch> k;
  const auto r = reduce_ln2(x, k);
  const auto scale = pow2_integral(k);
  return scaled_exp_reduced(r, scale);
}

/** e^x for any x: overflow to +Inf, gradual underflow to subnormals and 0, NaN → NaN. */
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp_any(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  if (xsimd::all(xsimd::abs(x) < B(exp_fast_limit<T>()))) return exp_fast(x);
  // Beyond these bounds e^x rounds to +Inf or 0 anyway.
  const T lo = std::is_same_v<T, float> ? T(-104) : T(-746);
  const T hi = std::is_same_v<T, float> ? T(89) : T(710);
  const B clamped = xsimd::min(xsimd::max(x, B(lo)), B(hi));
  B k;
  const B r = reduce_ln2(clamped, k);
  // 2^k as 2^k1·2^k2: each factor is normal, the product rounds once into the subnormals or to Inf.
  const B k1 = fmadd(k, B(T(0.5)), B(shifter<T>())) - B(shifter<T>());
  const B scale1 = pow2_integral(k1);
  const B e = scaled_exp_reduced(r, scale1) * pow2_integral(k - k1);
  return xsimd::select(xsimd::isnan(x), x + x, e);
}

/** num − q·d exactly (when q = num/d rounded): one FMA, or Dekker's product where SSE2 has no FMA. */
template <class Arch, class T>
inline xsimd::batch<T, Arch> division_remainder(const xsimd::batch<T, Arch>& num, const xsimd::batch<T, Arch>& q,
                                                const xsimd::batch<T, Arch>& d) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (!std::is_same_v<Arch, xsimd::sse2>) {
    return fnmadd(q, d, num);
  } else {
    const T split = std::is_same_v<T, float> ? T(4097) : T(134217729);  // 2^⌈p/2⌉ + 1
    const B cq = q * split, cd = d * split;
    const B q_hi = cq - (cq - q), q_lo = q - q_hi;
    const B d_hi = cd - (cd - d), d_lo = d - d_hi;
    const B product = q * d;
    const B error = ((q_hi * d_hi - product) + q_hi * d_lo + q_lo * d_hi) + q_lo * d_lo;
    return (num - product) - error;
  }
}

/**
 * (num + num_lo)/(a + b + b_lo) for |a| ≥ |b| and small lo parts: a + b is carried as an exact
 * double-word sum and the quotient corrected by its exact remainder, so the result is within about
 * 0.5 ULP beyond the errors of the inputs (one division).
 */
template <class Arch, class T>
inline xsimd::batch<T, Arch> divide_by_sum(const xsimd::batch<T, Arch>& num, const xsimd::batch<T, Arch>& num_lo,
                                           const xsimd::batch<T, Arch>& a, const xsimd::batch<T, Arch>& b,
                                           const xsimd::batch<T, Arch>& b_lo) {
  using B = xsimd::batch<T, Arch>;
  const B d = a + b;
  const B d_lo = ((a - d) + b) + b_lo;  // Fast2Sum: exact since |a| ≥ |b|
  const B inv = T(1) / d;
  const B q = num * inv;
  const B remainder = division_remainder(num, q, d) + num_lo;
  return fmadd(fnmadd(q, d_lo, remainder), inv, q);
}

}  // namespace mlpkit::detail::simd
