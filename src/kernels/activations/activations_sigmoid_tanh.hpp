#pragma once
// sigmoid and tanh, forward and backward. The FMA pipes bound their speed, so every step below is
// counted: a clamp instead of a range test, a reciprocal estimate whose quotient is corrected by its
// exact remainder instead of a division (AVX-512), and on AVX-512 a 2^(j/N) table (one permute) that
// shortens e^r to degree 3 (float) / 7 (double) and leaves e^a within about 0.51 ULP.
// Everything is a template over the arch tag: no symbol is shared between ISA objects.
#include <xsimd/xsimd.hpp>

#include <array>
#include <cstddef>
#include <type_traits>

#include "kernels/activations/activations_math.hpp"

namespace mlpkit::detail::simd {

template <class T>
constexpr T exp_underflow_limit() {  // e^a rounds to 0 below it
  if constexpr (std::is_same_v<T, float>) return -110.0F;
  else return -750.0;
}

template <class T>
constexpr T tanh_saturation() {  // beyond it tanh rounds to ±1 (from 9.011 float, 19.06 double)
  if constexpr (std::is_same_v<T, float>) return 9.02F;
  else return 19.07;
}

/** −min(|v|, limit) for limit > 0; NaN stays NaN (vrangeps would not keep it). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> negative_abs_clamped(const xsimd::batch<T, Arch>& v, T limit) {
  using B = xsimd::batch<T, Arch>;
  return xsimd::max(B(-limit), v | B(-T(0)));  // maxps returns its second operand when one is NaN
}

/**
 * Q of e^r − 1 = r + r²·Q(r) for |r| ≤ ln2/2, highest degree first: a minimax polynomial (Remez, weight
 * |r| + 0.1, degree 4 float / 10 double), below 0.13 ULP of e^r and 0.3 ULP of e^r − 1 (float), about
 * 0.003 ULP (double).
 */
template <class T>
constexpr auto expm1_tail_coefficients() {
  if constexpr (std::is_same_v<T, float>) {
    return std::array<float, 5>{0.0013944732853450931866F, 0.008365633938003009039F, 0.041666313696837415717F,
                                0.16666552774049472576F, 0.50000000486519695523F};
  } else {
    return std::array<double, 11>{2.092334379419110483402e-9, 2.510763239889063455564e-8,
                                  2.755724679574293861897e-7, 2.755724845895578976574e-6,
                                  2.480158735507421824184e-5, 1.984126988164020244607e-4,
                                  1.388888888887017172579e-3, 8.333333333323534787394e-3,
                                  4.166666666666669282089e-2, 0.1666666666666667396926,
                                  0.499999999999999999922};
  }
}

/** e^r − 1 = r + r²·Q(r) for |r| ≤ ln2/2 (expm1_tail_coefficients). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> expm1_minimax(const xsimd::batch<T, Arch>& r) {
  return fmadd(r * r, horner(r, expm1_tail_coefficients<T>()), r);
}

/**
 * (e^2h − 1)/2 = h + h²·2Q(2h) for |h| ≤ ln2/4: expm1_minimax of r = 2h with its coefficients scaled by
 * powers of two, evaluated with shorter dependency chains than Horner's rule (Estrin's scheme for float's
 * degree 4, two chains in h² for double's degree 10).
 */
template <class Arch, class T>
inline xsimd::batch<T, Arch> expm1_of_twice_halved(const xsimd::batch<T, Arch>& h) {
  constexpr auto scaled = [] {
    auto c = expm1_tail_coefficients<T>();
    for (std::size_t i = 0; i < c.size(); ++i)  // degree c.size() − 1 − i: times 2^(degree + 1)
      for (std::size_t j = i; j < c.size(); ++j) c[i] *= T(2);
    return c;
  }();
  using B = xsimd::batch<T, Arch>;
  const B hh = h * h;
  if constexpr (scaled.size() == 5) {  // Estrin: a dependency chain of 3 operations after h² instead of 4
    const B low = fmadd(B(scaled[3]), h, B(scaled[4]));
    const B high = fmadd(B(scaled[0]), hh, fmadd(B(scaled[1]), h, B(scaled[2])));
    return fmadd(hh, fmadd(high, hh, low), h);
  } else {  // two Horner chains in h² (double's degree 10)
    return fmadd(hh, horner_even_odd(h, scaled), h);
  }
}

/**
 * base·2^k from ks = k + shifter (the value reduce rounds to), base a power of two, base·2^k in the
 * normal exponent range.
 */
template <class Arch, class T>
inline xsimd::batch<T, Arch> pow2_shifted(const xsimd::batch<T, Arch>& ks, T base = T(1)) {
  using I = xsimd::batch<IntFor<T>, Arch>;
  const I bits_of_base = xsimd::bitwise_cast<I>(xsimd::batch<T, Arch>(base));
  return xsimd::bitwise_cast<xsimd::batch<T, Arch>>((xsimd::bitwise_cast<I>(ks) << mantissa_bits<T>()) + bits_of_base);
}

/** AVX-512: 2^(j/N) rounded (or, with `remainder`, what the rounding dropped) for j = the low bits of ks. */
template <class Arch, class T, bool remainder>
inline xsimd::batch<T, Arch> exp2_fraction_table(const xsimd::batch<T, Arch>& ks) {
  if constexpr (std::is_same_v<T, float>) {  // N = 16: vpermps reads the low 4 bits of each index
    using Table = std::array<float, 16>;
    const Table table =
        remainder ? Table{0x0p+0F, 0x1.9f3122p-25F, -0x1.c15742p-27F, 0x1.ceac48p-25F, 0x1.4636e2p-25F,
                                   0x1.824684p-25F, -0x1.593abcp-25F, -0x1.5bd5ecp-27F, 0x1.9fcef4p-26F,
                                   -0x1.829fd0p-25F, 0x1.15506ep-27F, 0x1.51f848p-27F, -0x1.a94b14p-26F,
                                   -0x1.3d56b2p-27F, -0x1.822dbcp-27F, 0x1.52486cp-27F}
                  : Table{0x1p+0F, 0x1.0b5586p+0F, 0x1.172b84p+0F, 0x1.2387a6p+0F, 0x1.306fe0p+0F,
                                   0x1.3dea64p+0F, 0x1.4bfdaep+0F, 0x1.5ab07ep+0F, 0x1.6a09e6p+0F, 0x1.7a1148p+0F,
                                   0x1.8ace54p+0F, 0x1.9c4918p+0F, 0x1.ae89fap+0F, 0x1.c199bep+0F, 0x1.d5818ep+0F,
                                   0x1.ea4afap+0F};
    return ops::permute_low_bits(table, ks);
  } else {  // N = 8: vpermpd reads the low 3 bits
    using Table = std::array<double, 8>;
    const Table table =
        remainder ? Table{0x0p+0, -0x1.19041b9d78a76p-55, 0x1.6f46ad23182e4p-55, 0x1.d4397afec42e2p-56,
                                   -0x1.bdd3413b26456p-54, 0x1.6e9f156864b27p-54, 0x1.7a1cd345dcc81p-54,
                                   0x1.2ed02d75b3707p-55}
                  : Table{0x1p+0, 0x1.172b83c7d517bp+0, 0x1.306fe0a31b715p+0, 0x1.4bfdad5362a27p+0,
                                   0x1.6a09e667f3bcdp+0, 0x1.8ace5422aa0dbp+0, 0x1.ae89f995ad3adp+0,
                                   0x1.d5818dcfba487p+0};
    return ops::permute_low_bits(table, ks);
  }
}

/**
 * q with e^r − 1 − r = r²·q(r) for the table exp (|r| ≤ ln2/2N, N = 16 float / 8 double), minimax: below
 * 0.08 ULP (float) / 0.1 ULP (double). With `negated`, u = −r is passed (Horner on −u: c − q·u).
 */
template <class Arch, class T, bool negated = false>
inline xsimd::batch<T, Arch> exp_table_tail(const xsimd::batch<T, Arch>& u) {
  using B = xsimd::batch<T, Arch>;
  const auto step = [&u](const B& q, T c) { return negated ? fnmadd(q, u, B(c)) : fmadd(q, u, B(c)); };
  if constexpr (std::is_same_v<T, float>) {
    return step(B(0.1666705766469825254257F), 0.5000097749488752965723F);
  } else {
    B q = step(B(1.98423042183372196857e-4), 1.388958710870163905745e-3);
    q = step(q, 8.33333332180712874313e-3);
    q = step(q, 4.16666666175263755801e-2);
    q = step(q, 0.1666666666666700822213);
    return step(q, 0.50000000000000512363);
  }
}

/**
 * e^a for a in [exp_underflow_limit, 0] or NaN (callers clamp, see negative_abs_clamped), with gradual
 * underflow. AVX-512: about 0.51 ULP; otherwise (Cody–Waite, e^r rounded once then scaled) about 0.9 ULP.
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> exp_nonpositive(const xsimd::batch<T, Arch>& a) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch>) {
    constexpr T n = std::is_same_v<T, float> ? T(16) : T(8);
    // a = (m + j/n)·ln2 + r, |r| ≤ ln2/2n: at the shifter's spacing of 1/n, a·log2e rounds to
    // k = m + j/n and j lands in the low bits of ks. k·ln2_hi is exact (k has at most 13 bits).
    const B shift(shifter<T>() / n);
    const B ks = fmadd(a, B(kLog2e<T>), shift);
    const B k = ks - shift;
    const B r = fnmadd(k, B(ln2_lo<T>()), fnmadd(k, B(ln2_hi<T>()), a));
    const B w = fmadd(r * r, exp_table_tail(r), r);
    const B hi = exp2_fraction_table<Arch, T, false>(ks);
    const B p = hi + fmadd(hi, w, exp2_fraction_table<Arch, T, true>(ks));  // 2^(j/n)·e^r, one rounding
    // ·2^floor(k) = 2^m: exact, or one more rounding into the subnormals.
    return ops::scale_by_pow2(p, k);
  } else {
    const B shift(shifter<T>());
    const B ks = fmadd(a, B(kLog2e<T>), shift);
    const B k = ks - shift;
    const B p = T(1) + expm1_minimax(fnmadd(k, B(ln2_lo<T>()), fnmadd(k, B(ln2_hi<T>()), a)));
    if (xsimd::all(a > B(-exp_fast_limit<T>()))) return p * pow2_shifted(ks);
    // 2^k as 2^k1·2^(k−k1): each factor is normal, the second product rounds once into the subnormals.
    const B k1 = fmadd(k, B(T(0.5)), shift) - shift;
    return (p * pow2_integral(k1)) * pow2_integral(k - k1);
  }
}

/** 1/d for d ∈ [1, 2]: AVX-512 an estimate good to 2^-14 (float) / 2^-28 (double), elsewhere a division. */
template <class Arch, class T>
inline xsimd::batch<T, Arch> reciprocal_estimate(const xsimd::batch<T, Arch>& d) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch>) {
    const B inv = ops::reciprocal_estimate14(d);
    if constexpr (std::is_same_v<T, float>) return inv;
    else return fmadd(inv, fnmadd(inv, d, B(T(1))), inv);  // one Newton step
  } else {
    return T(1) / d;
  }
}

/**
 * (num + num_lo)/(d + d_lo) for d ∈ [1, 2] and small lo parts: the quotient from reciprocal_estimate,
 * corrected once by its remainder (one rounding from exact, as the estimate's error is squared).
 */
template <class Arch, class T>
inline xsimd::batch<T, Arch> divide_corrected(const xsimd::batch<T, Arch>& num, const xsimd::batch<T, Arch>& num_lo,
                                              const xsimd::batch<T, Arch>& d, const xsimd::batch<T, Arch>& d_lo) {
  const auto inv = reciprocal_estimate(d);
  const auto q = num * inv;
  const auto remainder = division_remainder(num, q, d) + num_lo;
  return fmadd(fnmadd(q, d_lo, remainder), inv, q);
}

/** 1/(1 + e^−x), within 2 ULP, σ(−Inf) = 0, σ(+Inf) = 1, NaN → NaN. */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> sigmoid(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  const B t = exp_nonpositive(negative_abs_clamped(x, -exp_underflow_limit<T>()));  // e^−|x| ∈ [0, 1]
  // x ≥ 0: 1/(1+t); x < 0: t/(1+t), which keeps tiny results (down to subnormals) accurate.
  const B one(T(1));
  const B numerator = xsimd::select(x < B(T(0)), t, one);
  if constexpr (std::is_same_v<Arch, xsimd::sse2>) {
    const B zero(T(0));
    return divide_by_sum(numerator, zero, one, t, zero);
  } else {
    // inv ≥ 1/2 keeps q ≥ numerator/2, so numerator − q is exact (Sterbenz) and the remainder
    // numerator − q·(1 + t) takes one rounding: no double-word 1 + t needed.
    const B inv = xsimd::max(reciprocal_estimate(one + t), B(T(0.5)));
    const B q = numerator * inv;
    return fmadd(fnmadd(q, t, numerator - q), inv, q);
  }
}

/**
 * The reduction of the precise tanh: −2|x| (clamped past saturation) = k·ln2 + r, |r| ≤ ln2/2;
 * returns r and sets s = 2^k.
 */
template <class Arch, class T>
inline xsimd::batch<T, Arch> tanh_reduce(const xsimd::batch<T, Arch>& x, xsimd::batch<T, Arch>& s) {
  using B = xsimd::batch<T, Arch>;
  const B a = negative_abs_clamped(x + x, T(2) * tanh_saturation<T>());
  const B shift(shifter<T>());
  const B ks = fmadd(a, B(kLog2e<T>), shift);
  const B k = ks - shift;
  if constexpr (is_avx512<Arch>) {  // 2^k in one operation instead of a shift and an add (the same bits)
    s = ops::scale_by_pow2(B(T(1)), k);
  } else {
    s = pow2_shifted(ks);
  }
  return fnmadd(k, B(ln2_lo<T>()), fnmadd(k, B(ln2_hi<T>()), a));
}

/**
 * tanh(x) within 2 ULP, ±0 → ±0, ±Inf → ±1, NaN → NaN: tanh|x| = (1 − e)/(1 + e), e = e^−2|x| =
 * s·(1 + w), s = 2^k. While 1 ± s are exact (k ≥ −23 float, −52 double), numerator and denominator
 * are exact double-word sums (1 ∓ s) ∓ s·w (s·w is exact) and the division rounds once; near 0 the
 * numerator is −s·w itself, so tanh keeps its relative accuracy down to the subnormals. Below that
 * (|x| > 8.3 float, 18.4 double) 1 ± s round by at most 2^−(mantissa bits + 1), so the result is
 * within 1.5 ULP of tanh, which is 1 − 1 or 2 ULP there, and exactly 1 from the saturation point on.
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> tanh(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  B s;
  const B r = tanh_reduce(x, s);
  const B sw = s * expm1_minimax(r);
  const B one(T(1));
  const B n_hi = one - s, d_hi = one + s;
  const B n = n_hi - sw;  // Fast2Sum: |n_hi| ≥ |sw| (k ≤ −1) or n_hi = 0 (k = 0)
  const B n_lo = (n_hi - n) - sw;
  const B d = d_hi + sw;
  const B d_lo = (d_hi - d) + sw;
  return divide_corrected(n, n_lo, d, d_lo) | (x & B(-T(0)));
}

/** e/(1 + e)² for e ∈ [0, 1], to a few ULP (the backward passes). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> logistic_bell(const xsimd::batch<T, Arch>& e) {
  using B = xsimd::batch<T, Arch>;
  const B d = T(1) + e;
  if constexpr (is_avx512<Arch>) {
    // Newton on the estimate: 2^-28 (float), 2^-56 (double).
    B inv = reciprocal_estimate(d);
    inv = fmadd(inv, fnmadd(inv, d, B(T(1))), inv);
    return (e * inv) * inv;
  } else {
    return e / (d * d);
  }
}

/** σ'(x) = σ(x)σ(−x) = e/(1 + e)², e = e^−|x|: no cancellation in 1 − σ for large |x|. */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> sigmoid_slope(const xsimd::batch<T, Arch>& x) {
  return logistic_bell(exp_nonpositive(negative_abs_clamped(x, -exp_underflow_limit<T>())));
}

/** tanh'(x) = 1/cosh²x = 4e/(1 + e)², e = e^−2|x|. */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> tanh_slope(const xsimd::batch<T, Arch>& x) {
  return T(4) * logistic_bell(exp_nonpositive(negative_abs_clamped(x + x, -exp_underflow_limit<T>())));
}

}  // namespace mlpkit::detail::simd
