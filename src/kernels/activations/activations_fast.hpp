#pragma once
// Accuracy::fast forms of sigmoid, tanh, gelu and gelu_tanh: within 4 ULP (sigmoid, tanh) and 16 ULP
// (the GELU family) with fewer vector operations than the precise forms, whose every step buys part
// of an ULP. What they drop: the double-word numerators and denominators, the reciprocal estimate
// corrected by its exact remainder (a plain division: on Zen 5, vdivps zmm with ~14 other operations
// ran faster than rcp14 and its correction), the second 2^(j/N) table of the AVX-512 exp, and for
// tanh the second Cody–Waite step. (A 9/8 rational for float tanh, 12 operations, measured 5.0–5.4 ULP
// over every float: its Horner steps near saturation each cost up to an ULP.) The saturated ranges, ±0, ±Inf and NaN give
// the precise values: lanes outside the range a fast form covers take the precise form, chosen lane
// by lane (never per batch), so a value never depends on its neighbours in a batch.
// Everything is a template over the arch tag (no symbol is shared between ISA objects).
#include <xsimd/xsimd.hpp>

#include <array>
#include <cstdint>
#include <type_traits>

#include "kernels/activations/activations_gelu.hpp"
#include "kernels/activations/activations_math.hpp"
#include "kernels/activations/activations_sigmoid_tanh.hpp"

namespace mlpkit::detail::simd::fast {

template <class T>
constexpr T exp_bounded_limit() {  // |v| below it: 2^k of e^v is a normal number
  return std::is_same_v<T, float> ? T(87) : T(708);
}

/**
 * e^−x for |x| ≤ exp_bounded_limit, within about 1 ULP. AVX-512: a 2^(j/N) table (one permute), e^r on
 * |r| ≤ ln2/2N by degree 3 (float) / 7 (double), scaled by vscalef, with the negation folded into the
 * reduction (r = −(x + k·ln2) is never formed); elsewhere Cody–Waite with the minimax e^r − 1 of the
 * precise tier, scaled through the exponent bits.
 */
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp_negated(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch>) {
    constexpr T n = std::is_same_v<T, float> ? T(16) : T(8);
    const B shift(shifter<T>() / n);
    const B ks = fmadd(x, B(-kLog2e<T>), shift);  // k ≈ −x·log2e, j/n in the low bits
    const B k = ks - shift;
    const B minus_r = fmadd(k, B(ln2_lo<T>()), fmadd(k, B(ln2_hi<T>()), x));  // −r = x + k·ln2
    const B q = exp_table_tail<Arch, T, true>(minus_r);
    const B w = fmsub(minus_r * minus_r, q, minus_r);  // e^r − 1 = r + r²·q = (−r)²·q − (−r)
    const B hi = exp2_fraction_table<Arch, T, false>(ks);
    return ops::scale_by_pow2(fmadd(hi, w, hi), k);
  } else {
    const B v = -x;
    const B shift(shifter<T>());
    const B ks = fmadd(v, B(kLog2e<T>), shift);
    const B k = ks - shift;
    const B p = T(1) + expm1_minimax(fnmadd(k, B(ln2_lo<T>()), fnmadd(k, B(ln2_hi<T>()), v)));
    return p * pow2_shifted(ks);
  }
}

/**
 * fast sigmoid of a batch with lanes outside the fast range, chosen lane by lane: out of line, so
 * that inlined, the precise form does not bloat the loops (double: 1.9 → 1.35 G items/s).
 */
template <class Arch, class T>
[[gnu::noinline, gnu::cold]] xsimd::batch<T, Arch> sigmoid_with_outliers(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  const auto inside = xsimd::abs(x) <= B(exp_bounded_limit<T>());
  const B clamped = xsimd::select(inside, x, B(T(0)));
  return xsimd::select(inside, B(T(1)) / (T(1) + exp_negated(clamped)), simd::sigmoid(x));
}

/**
 * 1/(1 + e^−x) within 4 ULP (about 3): e^−x within ~1 ULP, 1 + e^−x rounded, one division. Lanes with
 * |x| > exp_bounded_limit (where σ is 1, or e^x down into the subnormals), ±Inf and NaN take the
 * precise sigmoid.
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> sigmoid(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  if (xsimd::all(xsimd::abs(x) <= B(exp_bounded_limit<T>()))) return B(T(1)) / (T(1) + exp_negated(x));
  return sigmoid_with_outliers(x);
}

template <class T>
constexpr T half_ln2() {  // ln2/2 rounded: k·half_ln2 is off by under 1e-9·|k| (float), far below an ULP of tanh
  return std::is_same_v<T, float> ? T(0.346573590279972654709F) : T(0.346573590279972654709);
}

/**
 * AVX-512 float: 2^(j/32) rounded (the first table), and its relative rounding error (2^(j/32) − T)/T
 * (the second; −0 for j = 0, so that a zero keeps its sign through the sum it is added to).
 */
inline constexpr std::array<float, 32> kTanhPow2{
    0x1p+0F, 0x1.059b0ep+0F, 0x1.0b5586p+0F, 0x1.11301ep+0F, 0x1.172b84p+0F, 0x1.1d4874p+0F, 0x1.2387a6p+0F,
    0x1.29e9ep+0F, 0x1.306fep+0F, 0x1.371a74p+0F, 0x1.3dea64p+0F, 0x1.44e086p+0F, 0x1.4bfdaep+0F,
    0x1.5342b6p+0F, 0x1.5ab07ep+0F, 0x1.6247ecp+0F, 0x1.6a09e6p+0F, 0x1.71f75ep+0F, 0x1.7a1148p+0F,
    0x1.82589ap+0F, 0x1.8ace54p+0F, 0x1.93737cp+0F, 0x1.9c4918p+0F, 0x1.a5503cp+0F, 0x1.ae89fap+0F,
    0x1.b7f77p+0F, 0x1.c199bep+0F, 0x1.cb720ep+0F, 0x1.d5818ep+0F, 0x1.dfc974p+0F, 0x1.ea4afap+0F,
    0x1.f50766p+0F};
inline constexpr std::array<float, 32> kTanhPow2Error{
    -0.0F, -0x1.947414p-25F, 0x1.8d96d4p-25F, -0x1.dda2fcp-25F, -0x1.9c0c22p-27F, -0x1.a2fbb2p-25F,
    0x1.964904p-25F, -0x1.2b0dbcp-25F, 0x1.125002p-25F, -0x1.cde8cep-26F, 0x1.370be4p-25F, 0x1.336de2p-30F,
    -0x1.0a355p-25F, -0x1.c541b4p-26F, -0x1.00d8acp-27F, -0x1.6cb284p-25F, 0x1.26055cp-26F, 0x1.8b2bb8p-26F,
    -0x1.05cb44p-25F, -0x1.1c2142p-26F, 0x1.67a1cap-28F, -0x1.348e56p-25F, 0x1.a3b5e4p-28F, -0x1.0b7ec8p-25F,
    -0x1.f9c304p-27F, -0x1.e4c886p-26F, -0x1.6961b4p-28F, -0x1.b5151ep-28F, -0x1.a5217cp-28F,
    -0x1.ab7132p-26F, 0x1.61428ep-28F, -0x1.2ad5f8p-27F};

/**
 * AVX-512 float tanh within 4 ULP (3.5 over every float), in 15 operations, on x itself (no |x|, no sign
 * to restore): x clamped to ±9.02 (min and max keep NaN); −2x = (m + j/32)·ln2 + 2h, |h| ≤ ln2/128, with
 * k = m + j/32 from one shifter and h = −x − k·ln2/2; e^−2x = 2^m·T_j·(1 + w), w = e^2h − 1 + δ_j
 * (δ_j the table's rounding error, which would otherwise dominate for small |x|) from a minimax
 * quadratic; E = e^−2x − 1 = S·w − (1 − S), S = 2^m·T_j by vscalef, 1 − S exact for S ≥ 1/2 (small |x|);
 * tanh = E/(−2 − E). Zeros keep their sign: h = −x, w = h·t + (−0), E = w − (+0).
 */
template <class Arch>
[[gnu::always_inline]] inline xsimd::batch<float, Arch> tanh_table(const xsimd::batch<float, Arch>& x) {
  using B = xsimd::batch<float, Arch>;
  const B limit(tanh_saturation<float>());
  const B xc = xsimd::max(-limit, xsimd::min(limit, x));  // min/maxps return the second operand for NaN
  const B shift(shifter<float>() / 32.0F);
  const B ks = fmadd(xc, B(-2.0F * kLog2e<float>), shift);
  const B k = ks - shift;
  const B h = fmsub(k, B(-half_ln2<float>()), xc);
  // (e^2h − 1)/h = 2 + h·(c1 + h·c2), minimax for |h| ≤ 1.02·ln2/128: below 1.5e-8 relative.
  const B t = fmadd(h, fmadd(h, B(1.333337387922045F), B(2.0000152538677653F)), B(2.0F));
  const B w = fmadd(h, t, ops::permute_low_bits(kTanhPow2Error, ks));
  const B s = ops::scale_by_pow2(ops::permute_low_bits(kTanhPow2, ks), k);
  const B em1 = fmsub(s, w, B(1.0F) - s);
  return em1 / (B(-2.0F) - em1);
}

/**
 * tanh(x) within 4 ULP, ±0 → ±0, ±Inf → ±1, NaN → NaN: tanh|x| = −E/(2 + E) with E = e^−2|x| − 1.
 * −|x| = k·ln2/2 + h (|h| ≤ ln2/4) in one Cody–Waite step, so e^−2|x| = 2^k·e^2h; E = 2^(k+1)·W + (2^k − 1)
 * with W = (e^2h − 1)/2 the minimax of the precise tier rescaled to h (E = 2W exactly when k = 0, so tiny
 * x keep their relative accuracy); one division. Float: 16 operations (the precise form: ~30), 2.49 ULP;
 * AVX-512 float takes tanh_table instead (one operation fewer, two of them permutes off the FMA pipes).
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> tanh(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch> && std::is_same_v<T, float>) {
    return tanh_table(x);
  } else {
    const B a = negative_abs_clamped(x, tanh_saturation<T>());
    const B shift(shifter<T>());
    const B ks = fmadd(a, B(T(2) * kLog2e<T>), shift);
    const B k = ks - shift;
    const B h = fnmadd(k, B(half_ln2<T>()), a);
    B twice_s;  // 2^(k+1)
    if constexpr (is_avx512<Arch>) twice_s = ops::scale_by_pow2(B(T(2)), k);
    else twice_s = pow2_shifted(ks, T(2));
    const B em1 = fmadd(twice_s, expm1_of_twice_halved(h), fmsub(twice_s, B(T(0.5)), B(T(1))));
    // em1 ∈ [−1, 0]: the quotient is ≥ 0 up to the sign of a zero, which is replaced by x's.
    return ops::with_sign_of(em1 / (B(T(-2)) - em1), x);
  }
}

/** exp_split without the table remainder on AVX-512 (about 1 ULP; elsewhere exp_split itself). */
template <class Arch, class T>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> exp_parts(const xsimd::batch<T, Arch>& v, const xsimd::batch<T, Arch>& v_lo,
                                       xsimd::batch<T, Arch>& scale) {
  return exp_split<Arch, T, false>(v, v_lo, scale);
}

/**
 * x·Φ(x) within 16 ULP: the precise evaluation (activations_gelu.hpp) without the first-order
 * correction of t's rounding (G(t) amplifies it about 3×), with a·t·P rounded plainly and the
 * one-table exp on AVX-512.
 */
// Not forced inline for float, flattened into the loop for double: see simd::gelu.
template <class Arch, class T>
inline xsimd::batch<T, Arch> gelu(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  const B a = xsimd::min(xsimd::abs(x), B(gelu_a_limit<T>()));
  const B t = T(1) / fmadd(a, B(T(0.25)), B(T(1)));
  B square_lo;
  const B square = two_product(a, a, square_lo);
  B scale;
  const B m = exp_parts(square * T(-0.5), square_lo * T(-0.5), scale);
  const B tail_product = apply_scale(((a * t) * horner_even_odd(t, gelu_tail_coefficients<T>())) * m, scale);
  // tail_product ≥ 0: setting its sign bit negates it, −0 included (gelu(−Inf) = −0).
  return xsimd::select(x < B(T(0)), tail_product | B(-T(0)), x - tail_product);
}

/** x·σ(z) within 16 ULP: the precise argument z = hi + lo (σ amplifies its error by |z|), a plain division. */
// Forced inline with all its helpers, and the loop's lane lambda with it (float, 4096, one thread:
// 2.3 → 2.9 G items/s; left to GCC, the helpers were calls in some builds and not in others).
template <class Arch, class T>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> gelu_tanh(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  const auto parts = gelu_tanh_exp(x, exp_parts<Arch, T>);
  // x < 0: x·e/(1 + e), scaled only at the end; otherwise x/(1 + e) with x itself, not the clamped xc:
  // beyond the limit e is 0 and the quotient x (+Inf included), and NaN stays NaN, with no final select.
  // (z < 0 exactly where x < 0, −0 included; x < 0 is false for NaN, whatever the clamp made of it.)
  const auto negative = x < B(T(0));
  const B quotient = xsimd::select(negative, parts.xc * parts.m, x) / (T(1) + apply_scale(parts.m, parts.scale));
  return xsimd::select(negative, apply_scale(quotient, parts.scale), quotient);
}

}  // namespace mlpkit::detail::simd::fast
