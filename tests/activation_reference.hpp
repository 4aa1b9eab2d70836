#pragma once
// Long double references of the activations for the activation tests (test_activations*.cpp).
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "mlpkit/mlpkit.hpp"

namespace mlpkit::test {

using Real = long double;

template <class T>
using test_bits_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
constexpr Real kInvSqrt2 = 0.707106781186547524400844362104849039L;
constexpr Real kSqrt2OverPi = 0.797884560802865355879892119868763737L;

inline Real sigmoid_exact(Real x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

// x·Φ(x), with the rounding error of u = −x/√2 carried to first order (erfc is ill-conditioned far out).
inline Real gelu_exact(Real x) {
  if (std::isinf(x)) return x > 0 ? x : 0;
  const Real u = -x * kInvSqrt2;
  const Real u_lo = std::fma(-x, kInvSqrt2, -u);
  return x * 0.5L * (std::erfc(u) - u_lo * 1.128379167095512573896158903121545172L * std::exp(-u * u));
}

inline Real gelu_tanh_exact(Real x) {
  if (std::isinf(x)) return x > 0 ? x : 0;
  return x * sigmoid_exact(2 * kSqrt2OverPi * (x + 0.044715L * x * x * x));
}

inline Real reference(Activation f, Real x) {
  switch (f) {
    case Activation::sigmoid:
      return sigmoid_exact(x);
    case Activation::tanh:
      return std::tanh(x);
    case Activation::gelu:
      return gelu_exact(x);
    case Activation::gelu_tanh:
      return gelu_tanh_exact(x);
    default:
      return x;
  }
}

/**
 * gelu'(x) = Φ(x) + x·φ(x) and gelu_tanh'(x) = σ(z) + x·z'·σ(z)(1 − σ(z)) in long double, and the sum of
 * the two terms' magnitudes: the derivatives cross zero (near x ≈ −0.75), where no evaluation keeps a
 * relative error, so their error is measured against the size of the terms instead.
 */
inline Real gelu_family_derivative(Activation f, Real x, Real& terms) {
  if (std::isinf(x)) return terms = 1, x > 0 ? 1 : 0;
  Real first, second;
  if (f == Activation::gelu) {
    first = gelu_exact(x) / x;  // Φ(x), with the rounding of −x/√2 corrected (x = 0: Φ(0) = 1/2)
    if (x == 0) first = 0.5L;
    // e^(−x²/2) with the rounding of x² corrected to first order: the exponent reaches 750.
    const Real square = x * x, square_lo = std::fma(x, x, -square);
    second = x * 0.398942280401432677939946059934381868L * std::exp(-0.5L * square) * (1 - 0.5L * square_lo);
  } else {
    const Real z = 2 * kSqrt2OverPi * (x + 0.044715L * x * x * x);
    const Real slope = 2 * kSqrt2OverPi * (1 + 3 * 0.044715L * x * x);
    const Real e = std::exp(-std::abs(z));
    first = sigmoid_exact(z);
    second = e == 0 ? 0 : x * slope * e / ((1 + e) * (1 + e));
  }
  terms = std::abs(first) + std::abs(second);
  return first + second;
}

}  // namespace mlpkit::test
