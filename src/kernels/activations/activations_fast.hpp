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
 * tanh(x) within 4 ULP, ±0 → ±0, ±Inf → ±1, NaN → NaN: tanh|x| = −E/(2 + E) with E = e^−2|x| − 1.
 * −|x| = k·ln2/2 + h (|h| ≤ ln2/4) in one Cody–Waite step, so e^−2|x| = 2^k·e^2h; E = 2^(k+1)·W + (2^k − 1)
 * with W = (e^2h − 1)/2 the minimax of the precise tier rescaled to h (E = 2W exactly when k = 0, so tiny
 * x keep their relative accuracy); one division. 16 operations on AVX-512 (the precise form: ~30).
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> tanh(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
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
