#pragma once
// sigmoid and tanh, forward and backward. The FMA pipes bound their speed, so every step below is
// counted: a clamp instead of a range test, a reciprocal estimate whose quotient is corrected by its
// exact remainder instead of a division (AVX-512), and on AVX-512 a 2^(j/16) table (one permute) that
// shortens e^r to degree 3 (float) / 6 (double) and leaves e^a within about 0.51 ULP.
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

/**
 * AVX-512 float: 2^(j/32) rounded (j = 0 … 31), or with `relative_error` what the rounding dropped,
 * relative: (2^(j/32) − T_j)/T_j rounded (−0 for j = 0, so that a zero keeps its sign through a sum).
 */
template <bool relative_error>
constexpr std::array<float, 32> pow2_32nds() {
  if constexpr (relative_error) {
    return {-0.0F,          -0x1.947414p-25F, 0x1.8d96d4p-25F,  -0x1.dda2fcp-25F, -0x1.9c0c22p-27F, -0x1.a2fbb2p-25F,
            0x1.964904p-25F, -0x1.2b0dbcp-25F, 0x1.125002p-25F,  -0x1.cde8cep-26F, 0x1.370be4p-25F,  0x1.336de2p-30F,
            -0x1.0a355p-25F, -0x1.c541b4p-26F, -0x1.00d8acp-27F, -0x1.6cb284p-25F, 0x1.26055cp-26F,  0x1.8b2bb8p-26F,
            -0x1.05cb44p-25F, -0x1.1c2142p-26F, 0x1.67a1cap-28F,  -0x1.348e56p-25F, 0x1.a3b5e4p-28F,  -0x1.0b7ec8p-25F,
            -0x1.f9c304p-27F, -0x1.e4c886p-26F, -0x1.6961b4p-28F, -0x1.b5151ep-28F, -0x1.a5217cp-28F, -0x1.ab7132p-26F,
            0x1.61428ep-28F,  -0x1.2ad5f8p-27F};
  } else {
    return {0x1p+0F,        0x1.059b0ep+0F, 0x1.0b5586p+0F, 0x1.11301ep+0F, 0x1.172b84p+0F, 0x1.1d4874p+0F,
            0x1.2387a6p+0F, 0x1.29e9ep+0F,  0x1.306fep+0F,  0x1.371a74p+0F, 0x1.3dea64p+0F, 0x1.44e086p+0F,
            0x1.4bfdaep+0F, 0x1.5342b6p+0F, 0x1.5ab07ep+0F, 0x1.6247ecp+0F, 0x1.6a09e6p+0F, 0x1.71f75ep+0F,
            0x1.7a1148p+0F, 0x1.82589ap+0F, 0x1.8ace54p+0F, 0x1.93737cp+0F, 0x1.9c4918p+0F, 0x1.a5503cp+0F,
            0x1.ae89fap+0F, 0x1.b7f77p+0F,  0x1.c199bep+0F, 0x1.cb720ep+0F, 0x1.d5818ep+0F, 0x1.dfc974p+0F,
            0x1.ea4afap+0F, 0x1.f50766p+0F};
  }
}

/** The table exp's N: 2^(j/16) for both types (float: one vpermps; double: one vpermi2pd over two registers). */
constexpr int kExpTableSize = 16;  // internal linkage: no symbol shared between ISA objects

/**
 * AVX-512: 2^(j/16) rounded, or with `relative_error` (2^(j/16) − T_j)/T_j rounded (−0 for j = 0), for j
 * the low 4 bits of ks (the exponent k = m + j/16 rounded by the shifter/16).
 */
template <class Arch, class T, bool relative_error>
inline xsimd::batch<T, Arch> exp2_fraction_table(const xsimd::batch<T, Arch>& ks) {
  if constexpr (std::is_same_v<T, float>) {  // the even entries of the 32nds
    constexpr auto table = [] {
      std::array<float, 16> t{};
      for (std::size_t j = 0; j < t.size(); ++j) t[j] = pow2_32nds<relative_error>()[2 * j];
      return t;
    }();
    return ops::permute_low_bits(table, ks);
  } else {
    using Table = std::array<double, 16>;
    constexpr Table table =
        relative_error
            ? Table{-0x0p+0,  0x1.79aa65d837b6dp-54,  -0x1.01b15eaa59348p-55, 0x1.68efde3a8a894p-54,
                    0x1.34d754db0abb6p-55, 0x1.59f48a72a4c6dp-55, 0x1.690cebb7aafbp-56,   0x1.063e1e21c5409p-54,
                    -0x1.3b3efbf5e2228p-54, -0x1.b32dcb94da51dp-56, 0x1.db72fc1f0eab4p-55, 0x1.1affc2b91ce27p-56,
                    0x1.c1a7792cb3387p-55, 0x1.36eae30af0cb3p-56, 0x1.4a385a63d07a7p-56, -0x1.ff7128fd391fp-55}
            : Table{0x1p+0,               0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
                    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
                    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f09p+0,
                    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};
    return ops::permute_low_bits(table, ks);
  }
}

/**
 * q with e^r − 1 − r = r²·q(r) for the table exp (|r| ≤ ln2/32 plus a small argument part), minimax
 * (Lawson, weight r²): below 0.08 ULP (float, degree 1) / 0.06 ULP (double, degree 4) of e^r.
 */
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp_table_tail(const xsimd::batch<T, Arch>& r) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (std::is_same_v<T, float>) {
    return fmadd(B(0.1666705766469825254257F), r, B(0.5000097749488752965723F));
  } else {
    return fmadd(horner(r, std::array<double, 4>{0.0013889129038114217, 0.008333471951930236, 0.04166666665965372,
                                                 0.1666666666441693}),
                 r, B(0.5000000000000006));
  }
}

/**
 * AVX-512: 2^(j/16)·e^r from ks (j in its low bits) and r: T_j·(1 + w) in one rounding, w = e^r − 1
 * plus, with `relative_error`, the table's rounding error δ_j (added to r, exact enough as |r| is
 * small): about 0.51 ULP; without it about 1 ULP.
 */
template <class Arch, class T, bool relative_error>
inline xsimd::batch<T, Arch> exp_table_product(const xsimd::batch<T, Arch>& ks,
                                                                     const xsimd::batch<T, Arch>& r) {
  using B = xsimd::batch<T, Arch>;
  B r_plus = r;
  if constexpr (relative_error) r_plus = r + exp2_fraction_table<Arch, T, true>(ks);
  const B w = fmadd(r * r, exp_table_tail(r), r_plus);
  const B table = exp2_fraction_table<Arch, T, false>(ks);
  return fmadd(table, w, table);
}

/**
 * e^a for a in [exp_underflow_limit, 0] or NaN (callers clamp, see negative_abs_clamped), with gradual
 * underflow. AVX-512: about 0.51 ULP; otherwise (Cody–Waite, e^r rounded once then scaled) about 0.9 ULP.
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> exp_nonpositive(const xsimd::batch<T, Arch>& a) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch>) {
    // a = (m + j/16)·ln2 + r, |r| ≤ ln2/32: at the shifter's spacing of 1/16, a·log2e rounds to
    // k = m + j/16 and j lands in the low bits of ks. k·ln2_hi is exact (k has at most 15 bits).
    const B shift(shifter<T>() / T(kExpTableSize));
    const B ks = fmadd(a, B(kLog2e<T>), shift);
    const B k = ks - shift;
    const B r = fnmadd(k, B(ln2_lo<T>()), fnmadd(k, B(ln2_hi<T>()), a));
    // ·2^floor(k) = 2^m: exact, or one more rounding into the subnormals.
    return ops::scale_by_pow2(exp_table_product<Arch, T, true>(ks, r), k);
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
