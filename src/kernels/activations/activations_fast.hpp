#pragma once
// Accuracy::fast forms of sigmoid, tanh, gelu and gelu_tanh: within 4 ULP (sigmoid, tanh) and 16 ULP
// (the GELU family) with fewer vector operations than the precise forms, whose every step buys part
// of an ULP. What they drop: the double-word numerators and denominators, the reciprocal estimate
// corrected by its exact remainder (a plain division: on Zen 5, vdivps zmm with ~14 other operations
// ran faster than rcp14 and its correction), for the GELU family the relative-error table of the
// AVX-512 exp, and for tanh the second Cody–Waite step. (A 9/8 rational for float tanh, 12 operations,
// measured 5.0–5.4 ULP over every float: its Horner steps near saturation each cost up to an ULP.)
// ±0, ±Inf, NaN and the saturated ranges give the precise values: out of the same arithmetic as every
// other lane, or (float sigmoid) lanes outside the range of the fast form take the precise form, chosen
// lane by lane (never per batch), so a value never depends on its neighbours in a batch.
// Everything is a template over the arch tag (no symbol is shared between ISA objects).
#include <xsimd/xsimd.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <type_traits>

#include "kernels/activations/activations_gelu.hpp"
#include "kernels/activations/activations_gelu_pieces.hpp"
#include "kernels/activations/activations_math.hpp"
#include "kernels/activations/activations_sigmoid_tanh.hpp"

namespace mlpkit::detail::simd::fast {

/**
 * Float: e^−x for |x| ≤ 87, within about 1 ULP. AVX-512: the 2^(j/16) table (one permute) without its
 * relative-error table, e^r by degree 3, scaled by vscalef, with the negation folded into the reduction
 * (r = −(x + k·ln2) is never formed); elsewhere Cody–Waite with the minimax e^r − 1 of the precise tier,
 * scaled through the exponent bits. Not forced inline: see docs/tuning.md (the fused epilogue's
 * activations are inlined into the GEMM tiles, whose K loop spilled when this was).
 */
template <class Arch>
inline xsimd::batch<float, Arch> exp_negated(const xsimd::batch<float, Arch>& x) {
  using B = xsimd::batch<float, Arch>;
  if constexpr (is_avx512<Arch>) {
    const B shift(shifter<float>() / float(kExpTableSize));
    const B ks = fmadd(x, B(-kLog2e<float>), shift);  // k ≈ −x·log2e, j/16 in the low bits
    const B k = ks - shift;
    const B minus_r = fmadd(k, B(ln2_lo<float>()), fmadd(k, B(ln2_hi<float>()), x));  // −r = x + k·ln2
    // exp_table_tail's q(r) = c0 + c1·r on −r; e^r − 1 = r + r²·q = (−r)²·q − (−r)
    const B q = fnmadd(B(0.1666705766469825254257F), minus_r, B(0.5000097749488752965723F));
    const B w = fmsub(minus_r * minus_r, q, minus_r);
    const B hi = exp2_fraction_table<Arch, float, false>(ks);
    return ops::scale_by_pow2(fmadd(hi, w, hi), k);
  } else {
    const B v = -x;
    const B shift(shifter<float>());
    const B ks = fmadd(v, B(kLog2e<float>), shift);
    const B k = ks - shift;
    const B p = 1.0F + expm1_minimax(fnmadd(k, B(ln2_lo<float>()), fnmadd(k, B(ln2_hi<float>()), v)));
    return p * pow2_shifted(ks);
  }
}

/** The fast float sigmoid of a batch whose lanes all lie in |x| ≤ 87 (see sigmoid_fits). */
template <class Arch>
[[gnu::always_inline]] inline xsimd::batch<float, Arch> sigmoid_inside(const xsimd::batch<float, Arch>& x) {
  return xsimd::batch<float, Arch>(1.0F) / (1.0F + exp_negated(x));
}

/**
 * Whether every lane of a and b lies in |x| ≤ 87 (NaN and ±Inf do not), the range of sigmoid_inside:
 * AVX-512 compares the larger |·| bit pattern of each pair as an integer, where NaN ranks above every
 * number (vrangeps and vmaxps would drop a NaN for the other operand); three operations and one test
 * for two batches.
 */
template <class Arch>
[[gnu::always_inline]] inline bool sigmoid_fits(const xsimd::batch<float, Arch>& a, const xsimd::batch<float, Arch>& b) {
  using B = xsimd::batch<float, Arch>;
  if constexpr (is_avx512<Arch>) {
    using I = xsimd::batch<std::int32_t, Arch>;
    const I magnitude(0x7FFFFFFF);
    const I larger = xsimd::max(xsimd::bitwise_cast<I>(a) & magnitude, xsimd::bitwise_cast<I>(b) & magnitude);
    return xsimd::all(larger <= I(std::bit_cast<std::int32_t>(87.0F)));
  } else {
    return xsimd::all((xsimd::abs(a) <= B(87.0F)) & (xsimd::abs(b) <= B(87.0F)));
  }
}

/**
 * fast float sigmoid of a batch with lanes beyond |x| ≤ 87, chosen lane by lane: out of line, so that
 * inlined, the precise form does not bloat the loop.
 */
template <class Arch>
[[gnu::noinline, gnu::cold]] xsimd::batch<float, Arch> sigmoid_with_outliers(const xsimd::batch<float, Arch>& x) {
  using B = xsimd::batch<float, Arch>;
  const auto inside = xsimd::abs(x) <= B(87.0F);
  const B clamped = xsimd::select(inside, x, B(0.0F));
  return xsimd::select(inside, sigmoid_inside(clamped), simd::sigmoid(x));
}

/**
 * 1/(1 + e^−x) within 4 ULP (float 3.2 over every float, double 2.4 sampled); ±0 → 0.5, −Inf → 0,
 * +Inf → 1, NaN → NaN, and bitwise the precise values where 1 + e^−|x| rounds to 1 (|x| > 17.4 float,
 * 37.5 double), subnormal results included.
 * - double: branch-free. E = e^−|x| by the precise tier's exp_nonpositive (argument clamped with max,
 *   NaN kept; E underflows gradually into the subnormals and to 0), σ = (x < 0 ? E : 1)/(1 + E) with one
 *   rounded sum and one division instead of the precise tier's corrected quotient. (AVX-512, 4096, one
 *   thread: 3.2 G items/s, against 2.97 for the per-batch branch below.)
 * - float: 1/(1 + e^−x) with exp_negated (about 1 ULP) when every lane has |x| ≤ 87, else per lane
 *   through sigmoid_with_outliers (the precise sigmoid beyond). The branch-free form measured slower
 *   for float (AVX-512, 4096, one thread, same process: 8.2 against 8.9 G items/s; the select and the
 *   relative-error table cost more than the predicted branch).
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> sigmoid(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (std::is_same_v<T, float>) {
    if (xsimd::all(xsimd::abs(x) <= B(87.0F))) return sigmoid_inside(x);
    return sigmoid_with_outliers(x);
  } else {
    const B e = exp_nonpositive(negative_abs_clamped(x, -exp_underflow_limit<T>()));
    return xsimd::select(x < B(T(0)), e, B(T(1))) / (T(1) + e);
  }
}

template <class T>
constexpr T half_ln2() {  // ln2/2 rounded: k·half_ln2 is off by under 1e-9·|k| (float), far below an ULP of tanh
  return std::is_same_v<T, float> ? T(0.346573590279972654709F) : T(0.346573590279972654709);
}

/**
 * AVX-512 tanh within 4 ULP (float 3.5 over every float), on x itself (no |x|, no sign to restore): x
 * clamped to the saturation point (min and max keep NaN); −2x = (m + j/N)·ln2 + 2h with k = m + j/N from
 * one shifter and h = −x − k·ln2/2 (|h| ≤ ln2/4N); e^−2x = 2^m·T_j·(1 + w), w = e^2h − 1 + δ_j (δ_j the
 * table's relative rounding error, which would otherwise dominate for small |x|) from a minimax
 * polynomial (e^2h − 1)/h; E = e^−2x − 1 = S·w − (1 − S), S = 2^m·T_j by vscalef, 1 − S exact for
 * S ≥ 1/2 (small |x|); tanh = E/(−2 − E). Zeros keep their sign: h = −x, w = h·t + (−0), E = w − (+0).
 * Float: N = 32 (one vpermi2ps), a quadratic, 15 operations; double: N = 16 (the exp table, one
 * vpermi2pd), a second reduction step, degree 6, 21 operations (the Cody–Waite form below: about 24,
 * degree 10). Where tanh is just below 1/2, the roundings of 1 − S (inexact for S < 1/2), of E and of
 * −2 − E add up to about 3.5 ULP.
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> tanh_table(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  constexpr bool is_float = std::is_same_v<T, float>;
  const B limit(tanh_saturation<T>());
  const B xc = xsimd::max(-limit, xsimd::min(limit, x));  // min/max return the second operand for NaN
  const B shift(shifter<T>() / (is_float ? T(32) : T(kExpTableSize)));
  const B ks = fmadd(xc, B(T(-2) * kLog2e<T>), shift);
  const B k = ks - shift;
  B h = fmsub(k, B(-half_ln2<T>()), xc);
  B t, delta, table;
  if constexpr (is_float) {
    // (e^2h − 1)/h = 2 + h·(c1 + h·c2), minimax for |h| ≤ 1.02·ln2/128: below 1.5e-8 relative.
    t = fmadd(h, fmadd(h, B(1.333337387922045F), B(2.0000152538677653F)), B(2.0F));
    constexpr auto delta_entries = pow2_32nds<true>();  // evaluated here: no function left to call
    constexpr auto table_entries = pow2_32nds<false>();
    delta = ops::permute_low_bits(delta_entries, ks);
    table = ops::permute_low_bits(table_entries, ks);
  } else {
    // ln2/2's rounding, k·1.2e-17, would add up to 0.25 ULP where tanh is just below 1/2 (3.74 ULP
    // measured there with one step): a second step removes it.
    h = fnmadd(k, B(0x1.abc9e3b39803fp-57), h);
    // (e^2h − 1)/h = 2 + h·P(h), minimax (Lawson) for |h| ≤ 1.0001·ln2/64: below 0.01 ULP.
    t = fmadd(h, horner(h, std::array<double, 6>{0.025397197826083344, 0.08889019247048909, 0.2666666666351119,
                                                 0.6666666665901974, 1.3333333333333341, 2.0000000000000013}),
              B(2.0));
    delta = exp2_fraction_table<Arch, T, true>(ks);
    table = exp2_fraction_table<Arch, T, false>(ks);
  }
  const B w = fmadd(h, t, delta);
  const B s = ops::scale_by_pow2(table, k);
  const B em1 = fmsub(s, w, B(T(1)) - s);
  return em1 / (B(T(-2)) - em1);
}

/**
 * tanh(x) within 4 ULP, ±0 → ±0, ±Inf → ±1, NaN → NaN: tanh|x| = −E/(2 + E) with E = e^−2|x| − 1.
 * −|x| = k·ln2/2 + h (|h| ≤ ln2/4) in one Cody–Waite step, so e^−2|x| = 2^k·e^2h; E = 2^(k+1)·W + (2^k − 1)
 * with W = (e^2h − 1)/2 the minimax of the precise tier rescaled to h (E = 2W exactly when k = 0, so tiny
 * x keep their relative accuracy); one division. Float: 16 operations (the precise form: ~30), 2.49 ULP.
 * AVX-512 takes tanh_table instead (fewer operations, two of them permutes off the FMA pipes).
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> tanh(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch>) {
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
 * x < 0 ? −0 : x, lane by lane (±0 and NaN kept): one maxps, which returns its second operand unless
 * the first is greater. Not a compare and select: clang 14 folds `x < 0 ? −0 : x` into
 * `x ≤ 0 ? −0 : x` (equal lanes taken for equal values, signed zeros ignored), which turns +0 into −0.
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> negative_to_minus_zero(const xsimd::batch<T, Arch>& x) {
  return xsimd::max(xsimd::batch<T, Arch>(-T(0)), x);
}

/**
 * x·Φ(x) within 16 ULP: the precise evaluation (activations_gelu.hpp) without the first-order
 * correction of t's rounding (G(t) amplifies it about 3×), with a·t·P rounded plainly and the
 * one-table exp on AVX-512, where P comes in pieces from per-lane coefficient tables
 * (activations_gelu_pieces.hpp). AVX-512 reduces −a²/2 = k·ln2 + r without forming a² as a
 * double-word: a·(−a/2) (−a/2 exact) and k·ln2_hi (exact) meet in one FMA, 7 operations against 9.
 * The result is (x < 0 ? −0 : x) − a·Φ(−a): −a·Φ(−a) for x < 0 (−0 for x = −Inf), NaN through x.
 */
// Not forced inline for float, flattened into the loop for double: see simd::gelu.
template <class Arch, class T>
inline xsimd::batch<T, Arch> gelu(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  const B a = xsimd::min(xsimd::abs(x), B(gelu_a_limit<T>()));
  const B t = T(1) / fmadd(a, B(T(0.25)), B(T(1)));
  B scale, m, p;
  if constexpr (is_avx512<Arch>) {
    const B minus_half = a * T(-0.5);
    const B shift(shifter<T>() / T(kExpTableSize));
    const B ks = fmadd(a * minus_half, B(kLog2e<T>), shift);  // k ≈ −a²/2·log2e, j/16 in the low bits
    scale = ks - shift;
    const B r = fnmadd(scale, B(ln2_lo<T>()), fmsub(a, minus_half, scale * B(ln2_hi<T>())));
    m = exp_table_product<Arch, T, false>(ks, r);
    p = gelu_tail_pieces(t);
  } else {
    B square_lo;
    const B square = two_product(a, a, square_lo);
    m = exp_parts(square * T(-0.5), square_lo * T(-0.5), scale);
    p = horner_even_odd(t, gelu_tail_coefficients<T>());
  }
  const B tail_product = apply_scale(((a * t) * p) * m, scale);
  // tail_product ≥ 0: −0 − tail_product is −tail_product, −0 included (gelu(−Inf) = −0).
  return negative_to_minus_zero(x) - tail_product;
}

template <class T>
constexpr T gelu_tanh_a_limit() {  // |x| beyond it: a·σ(−|z|) rounds to 0 (−11: 1.3e−48, −22: 1e−344)
  return std::is_same_v<T, float> ? T(11) : T(22);
}

/**
 * AVX-512 x·σ(z) within 16 ULP, on a = min(|x|, gelu_tanh_a_limit) like gelu: the tail
 * a·σ(−|z|) = a·E/(1 + E) with E = e^(−|z|), |z| = a·(c1 + c3·a²); the result is −tail for x < 0 and
 * x − tail otherwise (−0 − tail: −0 for x = −Inf; NaN passes through x). σ amplifies an absolute error
 * of |z| by |z| (up to 112 float, 795 double), so w = c1 + c3·a² is carried as w + w_lo: c3·a² rounded
 * onto the grid of 2^−19 (float; double 2^−46) by adding `base` + c1_hi (c1 on that grid; the sum stays
 * in [base, 2·base)), so that w = c1_hi + that exactly, and w_lo = c3·a² − grid value (one FMA, exact
 * enough) plus the low parts, c3·(a² − a²rounded) and c3_lo·a². No two-sum, no sign per lane: 12
 * operations for the argument against 22 (gelu_tanh_exp). The reduction −|z| = k·ln2 + r takes a·w
 * and k·ln2_hi (exact) in one FMA, then k·ln2_lo and a·w_lo; e^r by the one-table exp, and E/(1 + E)
 * by one division, scaled by 2^k last (one rounding into the subnormals).
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> gelu_tanh_on_magnitude(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  constexpr bool is_float = std::is_same_v<T, float>;
  constexpr auto c = gelu_tanh_coefficients<T>();
  constexpr T base = is_float ? T(16) : T(64);  // c1 + c3·a² ≤ 10.3 (float), 36.1 (double): below base
  constexpr T c1_hi = T(T(c.c1 + base) - base);
  constexpr T c1_rest = T(T(c.c1 - c1_hi) + c.c1_lo);
  const B a = xsimd::min(xsimd::abs(x), B(gelu_tanh_a_limit<T>()));  // NaN: the limit (vminps' second operand)
  const B square = opaque(B(a * a));
  const B square_lo = fmsub(a, a, square);
  const B shifted = fmadd(square, B(c.c3), B(base + c1_hi));  // on the grid of base's last place
  const B w = shifted - B(base);                                  // c1_hi + the grid value, exactly
  const B grid = shifted - B(base + c1_hi);
  const B w_lo = fmadd(B(c.c3), square_lo, fmadd(B(c.c3_lo), square, fmsub(square, B(c.c3), grid))) + c1_rest;
  const B shift(shifter<T>() / T(kExpTableSize));
  const B ks = fmadd(a * w, B(-kLog2e<T>), shift);  // k ≈ −|z|·log2e in 16ths, j/16 in the low bits
  const B k = ks - shift;
  const B r = fnmadd(a, w_lo, fnmadd(k, B(ln2_lo<T>()), fnmadd(a, w, k * B(-ln2_hi<T>()))));
  const B e = exp_table_product<Arch, T, false>(ks, r);
  const B tail = ops::scale_by_pow2((a * e) / (T(1) + ops::scale_by_pow2(e, k)), k);
  return negative_to_minus_zero(x) - tail;
}

/** x·σ(z) within 16 ULP: the precise argument z = hi + lo (σ amplifies its error by |z|), a plain division. */
// Forced inline with all its helpers, and the loop's lane lambda with it (float, 4096, one thread:
// 2.3 → 2.9 G items/s; left to GCC, the helpers were calls in some builds and not in others).
// AVX-512: gelu_tanh_on_magnitude.
template <class Arch, class T>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> gelu_tanh(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch>) {
    return gelu_tanh_on_magnitude(x);
  } else {
    const auto parts = gelu_tanh_exp(x, exp_parts<Arch, T>);
    // x < 0: x·e/(1 + e), scaled only at the end; otherwise x/(1 + e) with x itself, not the clamped xc:
    // beyond the limit e is 0 and the quotient x (+Inf included), and NaN stays NaN, with no final select.
    // (z < 0 exactly where x < 0, −0 included; x < 0 is false for NaN, whatever the clamp made of it.)
    const auto negative = x < B(T(0));
    const B quotient = xsimd::select(negative, parts.xc * parts.m, x) / (T(1) + apply_scale(parts.m, parts.scale));
    return xsimd::select(negative, apply_scale(quotient, parts.scale), quotient);
  }
}

}  // namespace mlpkit::detail::simd::fast
