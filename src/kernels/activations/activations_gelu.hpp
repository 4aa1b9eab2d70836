#pragma once
// Vector GELU (exact erf form) and its tanh approximation, forward and backward, within 4 ULP for
// float and double. Neither uses xsimd's erf (tens of ULP off for double near −2.2) nor branches:
//
//   gelu:  Φ(−a) = e^(−a²/2)·G(a) for a = |x|, with G(a) = Φ(−a)·e^(a²/2) smooth on [0, ∞) and
//          approximated as t·P(t), t = 1/(1 + a/4) ∈ (0, 1] (P: degree 9 float, 22 double, fitted for
//          relative error, Horner-stable in t). Then gelu = x·Φ(−a) for x < 0 (relative accuracy down
//          to the subnormals, no 1 − erf cancellation) and x − x·Φ(−a) for x ≥ 0.
//   gelu_tanh: x·σ(z), z = 2√(2/π)(x + 0.044715x³), with σ from e^(−|z|).
//
// Both are ill-conditioned in a way plain T arithmetic would expose: e^(−a²/2) and σ(z) amplify an
// absolute error of their argument by the argument's size (a² up to 1500, |z| up to 750), and G(t)
// amplifies t's rounding about 3×. So a² and z are carried as exact double-word values, e^(hi + lo) is
// reduced with lo added after the Cody–Waite step, and t's rounding is corrected to first order.
// Results far in the tail go through e^x = m·2^k2 with m normal, so the final product rounds once
// into the subnormals. Everything is a template over the arch tag (no symbol shared between ISAs).
#include <xsimd/xsimd.hpp>

#include <array>
#include <cstddef>
#include <type_traits>

#include "kernels/activations/activations_math.hpp"
#include "kernels/activations/activations_sigmoid_tanh.hpp"

namespace mlpkit::detail::simd {

/** a·b = product + error exactly: the FMA, or Dekker's splitting where SSE2 has no FMA (|a·b| < 2^995). */
template <class Arch, class T>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> two_product(const xsimd::batch<T, Arch>& a, const xsimd::batch<T, Arch>& b,
                                         xsimd::batch<T, Arch>& error) {
  using B = xsimd::batch<T, Arch>;
  const B product = opaque(B(a * b));
  if constexpr (!std::is_same_v<Arch, xsimd::sse2>) {
    error = fmadd(a, b, -product);
  } else {
    const T split = std::is_same_v<T, float> ? T(4097) : T(134217729);  // 2^⌈p/2⌉ + 1
    const B ca = a * split, cb = b * split;
    const B a_hi = ca - (ca - a), a_lo = a - a_hi;
    const B b_hi = cb - (cb - b), b_lo = b - b_hi;
    error = ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;
  }
  return product;
}

/** a + b = sum + error exactly, any order of magnitude (Knuth's TwoSum). */
template <class Arch, class T>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> two_sum(const xsimd::batch<T, Arch>& a_in, const xsimd::batch<T, Arch>& b_in,
                                     xsimd::batch<T, Arch>& error) {
  const auto a = opaque(a_in), b = opaque(b_in);
  const auto sum = a + b;
  const auto b_part = sum - a;
  error = (a - (sum - b_part)) + (b - b_part);
  return sum;
}

// P(t) ≈ G(a)/t, highest degree first. Weighted least squares on Chebyshev nodes (mpmath, 60 digits)
// over the a where e^(−a²/2) does not underflow (a ≤ 14.6 float, ≤ 38.7 double), coefficients then
// rounded to T: relative error 2.4e−8 (0.4 ULP) float, 3.7e−17 (0.33 ULP) double; Σ|c_k t^k| stays
// within 1.3× (float) and 6× (double) of P, so Horner adds little.
template <class T>
constexpr auto gelu_tail_coefficients() {
  if constexpr (std::is_same_v<T, float>) {
    return std::array<float, 10>{0.0172514822F, -0.0664847493F, 0.0604525879F, 0.0165216886F, 0.0227912422F,
                                 0.0811409727F, 0.0739486963F,  0.0950873941F, 0.099545598F,  0.0997450873F};
  } else {
    return std::array<double, 23>{
        -0.0012539135718225077, 0.013971527424289401,  -0.07045652855782214,  0.21033135400460562,
        -0.40601468517042494,   0.5133217448977893,    -0.39284719130415946,  0.10295679479267593,
        0.14372445315586937,    -0.22807091611527427,  0.19254955557573486,   -0.10963956594583937,
        0.04222246336429025,    -0.022548197935939034, 0.0011698637850291464, 0.006298324146806012,
        0.0235450683217493,     0.04322630756702046,   0.06350527095885601,   0.08103502773086231,
        0.09350210284414483,    0.09973556992890167,   0.09973557010265728};
  }
}

// d ln(t·P(t))/d ln t to about 1 %: how a relative error ε of t shows in G (G(t(1+ε)) ≈ G(t)(1 + W·ε)).
template <class T>
constexpr auto gelu_tail_sensitivity() {
  if constexpr (std::is_same_v<T, float>)
    return std::array<float, 4>{-1.4417264F, 3.5961526F, -0.095393494F, 1.1363206F};
  else
    return std::array<double, 4>{-1.0026318, 2.7434696, 0.41009244, 1.0484159};
}

// Beyond it e^(−a²/2) underflows: |x| is clamped there, which also keeps ±Inf out of the math.
template <class T>
constexpr T gelu_a_limit() {
  return std::is_same_v<T, float> ? T(16) : T(40);
}

/**
 * e^(hi + lo) = m·2^scale for hi ≤ 0 (|lo| ≪ 1), m normal, the power of two applied last by apply_scale,
 * so that m times a moderate factor, then scaled, rounds once into the subnormals.
 * AVX-512: the table exp (2^(j/16) by one permute, exp_table_product) with `scale` the exponent
 * k = m + j/16 that vscalef floors, about 0.51 ULP with the table of what 2^(j/16)'s rounding dropped
 * (`remainder`, the precise tier), about 1 ULP without. Elsewhere Cody–Waite with the Taylor tail and
 * `scale` = 2^k2 a normal power of two (below −120 float / −760 double the result is 0 to any factor
 * up to 2^20). hi·log2e must stay below 2^11 in magnitude (k·ln2_hi exact).
 */
template <class Arch, class T, bool remainder = true>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> exp_split(const xsimd::batch<T, Arch>& hi, const xsimd::batch<T, Arch>& lo,
                                       xsimd::batch<T, Arch>& scale) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch>) {
    const B shift(shifter<T>() / T(kExpTableSize));
    const B ks = fmadd(hi, B(kLog2e<T>), shift);
    scale = ks - shift;  // k = m + j/16; k·ln2_hi stays exact for the |k| < 2^11 that occur here
    const B r = fnmadd(scale, B(ln2_lo<T>()), fnmadd(scale, B(ln2_hi<T>()), hi)) + lo;
    return exp_table_product<Arch, T, remainder>(ks, r);
  } else {
    const B clamped = xsimd::max(hi, B(std::is_same_v<T, float> ? T(-120) : T(-760)));
    B k;
    const B r = reduce_ln2(clamped, k) + lo;
    const B k1 = xsimd::max(k, B(std::is_same_v<T, float> ? T(-64) : T(-512)));
    scale = pow2_integral(k - k1);
    return scaled_exp_reduced(r, pow2_integral(k1));
  }
}

/** v scaled by the `scale` of exp_split: v·2^floor(scale) by vscalef on AVX-512, v·scale elsewhere. */
template <class Arch, class T>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> apply_scale(const xsimd::batch<T, Arch>& v, const xsimd::batch<T, Arch>& scale) {
  if constexpr (is_avx512<Arch>) return ops::scale_by_pow2(v, scale);
  else return v * scale;
}

/** The shared part of gelu and its derivative for one batch. */
template <class Arch, class T>
struct GeluTail {
  xsimd::batch<T, Arch> a;           // min(|x|, gelu_a_limit)
  xsimd::batch<T, Arch> t;           // 1/(1 + a/4) rounded
  xsimd::batch<T, Arch> p;           // P(t): G(a) = Φ(−a)·e^(a²/2) ≈ t·P(t)
  xsimd::batch<T, Arch> correction;  // G(a) = t·P(t)·(1 + correction) corrects t's rounding
  xsimd::batch<T, Arch> m;           // e^(−a²/2) = apply_scale(m, scale)
  xsimd::batch<T, Arch> scale;
};

template <class Arch, class T>
inline GeluTail<Arch, T> gelu_tail(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  GeluTail<Arch, T> out;
  out.a = xsimd::min(xsimd::abs(x), B(gelu_a_limit<T>()));
  // t = 1/(1 + a/4) rounded, and ε with 1/(1 + a/4) = t(1 + ε) to first order (a/4 is exact).
  B d_lo;
  const B d = two_sum(B(T(1)), out.a * T(0.25), d_lo);
  out.t = T(1) / d;
  const B epsilon = fnmadd(out.t, d_lo, division_remainder(B(T(1)), out.t, d));
  // One Horner chain: split in two (horner_even_odd), double's 23 alternating coefficients cancel
  // between the halves near t = 1 (6.2 ULP at x ≈ −1e-12), and float gained nothing measurable.
  out.p = horner(out.t, gelu_tail_coefficients<T>());
  out.correction = horner(out.t, gelu_tail_sensitivity<T>()) * epsilon;
  B square_lo;
  const B square = two_product(out.a, out.a, square_lo);
  out.m = exp_split(square * T(-0.5), square_lo * T(-0.5), out.scale);
  return out;
}

/** x·Φ(x) = x/2·erfc(−x/√2) within 4 ULP; gelu(−Inf) = −0, gelu(+Inf) = +Inf, NaN → NaN. */
// Not forced inline (nor gelu_tail): for float GCC keeps their many constants better in a called
// function than in the loop (float, 4096, one thread: precise 1.45 → 1.65 G items/s, fast 3.1 → 3.35
// called). The fast double gelu is flattened into the loop instead (activate_as: called, fast 0.98 →
// 0.85); the precise double gelu is called, four batches per step (flattened, its 23-term chain spilled).
template <class Arch, class T>
inline xsimd::batch<T, Arch> gelu(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  const auto tail = gelu_tail(x);
  // |x|·Φ(−|x|) = a·t·P·(1 + correction)·m·scale: the whole result for x < 0, the (small) correction
  // to x for x ≥ 0. a·t·P is formed exactly as v + v_lo, so the product rounds once before the scaling.
  B at_lo, v_lo;
  const B at = two_product(tail.a, tail.t, at_lo);
  const B v = two_product(at, tail.p, v_lo);
  const B low = fmadd(at_lo, tail.p, fmadd(v, tail.correction, v_lo));
  const B tail_product = apply_scale(fmadd(v, tail.m, low * tail.m), tail.scale);
  // |x|·Φ(−|x|) ≥ 0, but where it underflows the rounding of low can leave −0 (clang contracts the
  // terms otherwise than GCC): setting the sign bit gives −tail_product, and −0 for gelu(x ≪ 0), alike.
  return xsimd::select(x < B(T(0)), tail_product | B(-T(0)), x - tail_product);
}

/** dy·gelu'(x), gelu' = Φ(x) + x·φ(x): e^(−a²/2)(G(a) − a/√(2π)) for x < 0, 1 minus that for x ≥ 0. */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> gelu_derivative_times(const xsimd::batch<T, Arch>& x, const xsimd::batch<T, Arch>& dy) {
  using B = xsimd::batch<T, Arch>;
  const auto tail = gelu_tail(x);
  const T inv_sqrt_2pi = std::is_same_v<T, float> ? T(0.398942292F) : T(0.3989422804014327);
  const B g = tail.t * tail.p;
  const B part = apply_scale(fnmadd(tail.a, B(inv_sqrt_2pi), fmadd(g, tail.correction, g)) * tail.m, tail.scale);
  const B derivative = xsimd::select(x < B(T(0)), part, T(1) - part);
  return xsimd::select(xsimd::isnan(x), x, dy * derivative);
}

/** z = c1·x + c3·x³ with c1 = 2√(2/π) and c3 = 2√(2/π)·0.044715, each as a hi + lo pair. */
template <class T>
struct GeluTanhCoefficients {
  T c1, c1_lo, c3, c3_lo;
};
template <class T>
constexpr GeluTanhCoefficients<T> gelu_tanh_coefficients() {
  if constexpr (std::is_same_v<T, float>)
    return {1.59576917F, -4.53406805e-08F, 0.0713548139F, 2.39883247e-09F};
  else
    return {1.5957691216057308, -9.96930880911092e-17, 0.07135481627260025, -6.175149918155315e-19};
}

/** z = 2√(2/π)(x + 0.044715x³) as an unevaluated sum hi + lo (error about 2^−2p·|z|), and z' = dz/dx. */
template <class Arch, class T>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> gelu_tanh_argument(const xsimd::batch<T, Arch>& x, xsimd::batch<T, Arch>& lo,
                                                xsimd::batch<T, Arch>* slope = nullptr) {
  using B = xsimd::batch<T, Arch>;
  constexpr auto c = gelu_tanh_coefficients<T>();
  const T c1 = c.c1, c1_lo = c.c1_lo, c3 = c.c3, c3_lo = c.c3_lo;
  B square_lo;
  const B square = two_product(x, x, square_lo);
  B cubic_lo;
  const B cubic = two_product(B(c3), square, cubic_lo);
  cubic_lo = fmadd(B(c3), square_lo, fmadd(B(c3_lo), square, cubic_lo));
  B w_lo;
  const B w = two_sum(B(c1), cubic, w_lo);
  w_lo = w_lo + (c1_lo + cubic_lo);
  B z_lo;
  const B z = two_product(x, w, z_lo);
  lo = fmadd(x, w_lo, z_lo);
  if (slope) *slope = fmadd(B(T(3) * c3), square, B(c1));
  return z;
}

template <class T>
constexpr T gelu_tanh_x_limit() {  // beyond ±it σ(z) is exactly 1 or underflows with x·σ(z)
  return std::is_same_v<T, float> ? T(16) : T(40);
}

/** gelu_tanh_argument of xc = x clamped to ±gelu_tanh_x_limit (NaN stays NaN). */
template <class Arch, class T>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> gelu_tanh_clamped_argument(const xsimd::batch<T, Arch>& x, xsimd::batch<T, Arch>& xc,
                                                        xsimd::batch<T, Arch>& lo,
                                                        xsimd::batch<T, Arch>* slope = nullptr) {
  using B = xsimd::batch<T, Arch>;
  xc = xsimd::min(xsimd::max(x, B(-gelu_tanh_x_limit<T>())), B(gelu_tanh_x_limit<T>()));
  return gelu_tanh_argument(xc, lo, slope);
}

/** What gelu_tanh and its derivative (in both tiers) start from: e^(−|z|) = m·scale for z of xc. */
template <class Arch, class T>
struct GeluTanhExp {
  xsimd::batch<T, Arch> xc;                // x clamped to ±gelu_tanh_x_limit
  xsimd::batch_bool<T, Arch> negative;     // z < 0
  xsimd::batch<T, Arch> m;                 // e^(−|z|) = apply_scale(m, scale), m normal
  xsimd::batch<T, Arch> scale;
};

/**
 * GeluTanhExp of x through `exp(hi, lo, scale)` (exp_split, or the fast tier's exp_parts), with the
 * low part of z carried into the exponential; `slope`, when given, receives dz/dx.
 */
template <class Arch, class T, class Exp>
[[gnu::always_inline]] inline GeluTanhExp<Arch, T> gelu_tanh_exp(const xsimd::batch<T, Arch>& x, Exp&& exp,
                                                                xsimd::batch<T, Arch>* slope = nullptr) {
  using B = xsimd::batch<T, Arch>;
  GeluTanhExp<Arch, T> out;
  B z_lo;
  const B z = gelu_tanh_clamped_argument(x, out.xc, z_lo, slope);
  out.negative = z < B(T(0));
  out.m = exp(-xsimd::abs(z), xsimd::select(out.negative, z_lo, -z_lo), out.scale);
  return out;
}

/** exp_split as the `exp` of gelu_tanh_exp. */
template <class Arch, class T>
[[gnu::always_inline]]
inline xsimd::batch<T, Arch> exp_split_of(const xsimd::batch<T, Arch>& hi, const xsimd::batch<T, Arch>& lo,
                                          xsimd::batch<T, Arch>& scale) {
  return exp_split(hi, lo, scale);
}

/** x·σ(z) = 0.5·x·(1 + tanh(z/2)) within 4 ULP; ±Inf → +Inf / −0, NaN → NaN. */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> gelu_tanh(const xsimd::batch<T, Arch>& x) {
  using B = xsimd::batch<T, Arch>;
  // e = e^(−|z|) = m·scale; x ≥ 0: x/(1 + e); x < 0: x·e/(1 + e), scaled by 2^k2 only at the end.
  const auto [xc, negative, m, scale] = gelu_tanh_exp(x, exp_split_of<Arch, T>);
  const B e = apply_scale(m, scale);
  const B zero(T(0));
  const B numerator = xsimd::select(negative, xc * m, xc);
  const B quotient = divide_by_sum(numerator, zero, B(T(1)), e, zero);
  const B y = xsimd::select(negative, apply_scale(quotient, scale), quotient);
  // Beyond the limit σ(z) is exactly 1 (and +Inf must not meet the remainder of divide_by_sum).
  return xsimd::select(xsimd::isnan(x) || x > B(gelu_tanh_x_limit<T>()), x, y);
}

/** dy·gelu_tanh'(x) = dy·(σ(z) + x·z'·σ(z)(1 − σ(z))), σ(1 − σ) = e/(1 + e)², e = e^(−|z|). */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> gelu_tanh_derivative_times(const xsimd::batch<T, Arch>& x,
                                                        const xsimd::batch<T, Arch>& dy) {
  using B = xsimd::batch<T, Arch>;
  B slope;
  const auto [xc, negative, m, scale] = gelu_tanh_exp(x, exp_split_of<Arch, T>, &slope);
  const B e = apply_scale(m, scale);
  const B d = T(1) + e;
  const B x_slope = xc * slope;
  // z < 0: σ = e/d, 1 − σ = 1/d: e(d + x·z')/d²;  z ≥ 0: σ = 1/d, 1 − σ = e/d: (d + x·z'·e)/d².
  const B numerator = xsimd::select(negative, m * (d + x_slope), fmadd(x_slope, e, d));
  const B quotient = numerator / (d * d);
  const B derivative = xsimd::select(negative, apply_scale(quotient, scale), quotient);
  return xsimd::select(xsimd::isnan(x), x, dy * derivative);
}

}  // namespace mlpkit::detail::simd
