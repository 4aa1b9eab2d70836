#pragma once
// Scalar activation math shared by the reference kernels and the losses (baseline code only: never
// include this from an ISA object, its inline functions would become weak symbols shared between ISAs).
#include <cmath>
#include <limits>
#include <type_traits>

#include "mlpkit/activations.hpp"

namespace mlpkit::detail::scalar {

// The reference evaluates float in double and double in long double (x87, 64-bit mantissa and a
// wider exponent range) where double alone is not enough (the gelu family), then rounds once.
template <class T>
using Wide = std::conditional_t<std::is_same_v<T, float>, double, long double>;

inline constexpr long double kInvSqrt2 = 0.707106781186547524400844362104849039L;
inline constexpr long double kTwoOverSqrtPi = 1.128379167095512573896158903121545172L;
inline constexpr long double kInvSqrt2Pi = 0.398942280401432677939946059934381868L;
inline constexpr long double kSqrt2OverPi = 0.797884560802865355879892119868763737L;
inline constexpr long double kGeluTanhCubic = 0.044715L;

// σ(x) without overflow: e^x/(1+e^x) for x < 0 keeps tiny results exact.
template <class W>
W sigmoid(W x) {
  if (x >= 0) return W(1) / (W(1) + std::exp(-x));
  const W e = std::exp(x);
  return e / (W(1) + e);
}

// σ'(x) = σ(x)σ(−x) = e/(1+e)² with e = e^−|x|: no cancellation in 1 − σ.
template <class W>
W sigmoid_derivative(W x) {
  const W e = std::exp(-std::abs(x));
  const W d = W(1) + e;
  return e / (d * d);
}

// tanh'(x) = 1/cosh² = 4e/(1+e)² with e = e^−2|x|.
template <class W>
W tanh_derivative(W x) {
  const W e = std::exp(W(-2) * std::abs(x));
  const W d = W(1) + e;
  return W(4) * e / (d * d);
}

// Φ(x) = erfc(−x/√2)/2. erfc is ill-conditioned for large arguments (relative condition ≈ 2u²), so the
// rounding error of u = −x/√2 is carried as u_lo and corrected to first order: erfc(u + u_lo) ≈ erfc(u) − u_lo·2/√π·e^−u².
template <class W>
W normal_cdf(W x) {
  const W c = static_cast<W>(kInvSqrt2);
  const W c_lo = static_cast<W>(kInvSqrt2 - static_cast<long double>(c));  // 0 when W is long double
  const W u = -x * c;
  const W u_lo = std::fma(-x, c, -u) - x * c_lo;
  W e = std::erfc(u);
  if (std::isfinite(u_lo)) e -= u_lo * static_cast<W>(kTwoOverSqrtPi) * std::exp(-u * u);
  return W(0.5) * e;
}

template <class W>
W gelu(W x) {
  if (std::isinf(x)) return x > 0 ? x : -W(0);  // x·Φ(x) → 0 as x → −∞
  return x * normal_cdf(x);
}

// gelu'(x) = Φ(x) + x·φ(x). e^(−x²/2) amplifies the rounding of x² by x²/2 (up to 750), so that
// rounding is corrected to first order, as in normal_cdf.
template <class W>
W gelu_derivative(W x) {
  if (std::isinf(x)) return x > 0 ? W(1) : W(0);
  const W square = x * x;
  const W square_lo = std::fma(x, x, -square);
  const W correction = std::isfinite(square_lo) ? W(1) - W(0.5) * square_lo : W(1);
  const W density = static_cast<W>(kInvSqrt2Pi) * std::exp(W(-0.5) * square) * correction;
  return normal_cdf(x) + x * density;
}

// 0.5·x·(1 + tanh(a)) = x·σ(2a), a = √(2/π)(x + 0.044715x³): no cancellation for x < 0.
template <class W>
W gelu_tanh(W x) {
  if (std::isinf(x)) return x > 0 ? x : -W(0);
  const W a2 = W(2) * static_cast<W>(kSqrt2OverPi) * (x + static_cast<W>(kGeluTanhCubic) * x * x * x);
  return x * sigmoid(a2);
}

// d/dx x·σ(2a) = σ(2a) + x·σ'(2a)·2a'.
template <class W>
W gelu_tanh_derivative(W x) {
  if (std::isinf(x)) return x > 0 ? W(1) : W(0);
  const W a2 = W(2) * static_cast<W>(kSqrt2OverPi) * (x + static_cast<W>(kGeluTanhCubic) * x * x * x);
  const W da2 = W(2) * static_cast<W>(kSqrt2OverPi) * (W(1) + W(3) * static_cast<W>(kGeluTanhCubic) * x * x);
  const W d = sigmoid_derivative(a2);
  return sigmoid(a2) + (d == W(0) ? W(0) : x * d * da2);  // x·0 would be NaN for huge x
}

template <class T>
T forward(Activation f, T x, T slope) {
  switch (f) {
    case Activation::identity:
      return x;
    case Activation::relu:
      return x < T(0) ? T(0) : x;
    case Activation::leaky_relu:
      return x < T(0) ? slope * x : x;
    case Activation::sigmoid:
      return static_cast<T>(sigmoid(static_cast<Wide<T>>(x)));
    case Activation::tanh:
      return static_cast<T>(std::tanh(static_cast<Wide<T>>(x)));
    case Activation::gelu:
      // double suffices (≤ 1 ULP) until erfc nears the subnormals, where 0.5·x·erfc would multiply
      // erfc's absolute error by |x|/2; long double (about 10× slower) takes over below −26.
      if constexpr (std::is_same_v<T, double>) {
        if (x > -26.0) return gelu(x);
        if (x < -40.0) return -0.0;  // |x·Φ(x)| < 2^−1075 there: it rounds to −0
      }
      return static_cast<T>(gelu(static_cast<Wide<T>>(x)));
    case Activation::gelu_tanh:
      // For x < 0, σ(2a) amplifies the rounding of a by |2a|: only there is long double needed.
      if constexpr (std::is_same_v<T, double>)
        if (x >= 0.0) return gelu_tanh(x);
      return static_cast<T>(gelu_tanh(static_cast<Wide<T>>(x)));
  }
  return x;
}

/** f'(x)·dy. */
template <class T>
T backward(Activation f, T x, T dy, T slope) {
  switch (f) {
    case Activation::identity:
      return dy;
    case Activation::relu:
      return x > T(0) ? dy : T(0);
    case Activation::leaky_relu:
      return x > T(0) ? dy : slope * dy;
    case Activation::sigmoid:
      return static_cast<T>(static_cast<Wide<T>>(dy) * sigmoid_derivative(static_cast<Wide<T>>(x)));
    case Activation::tanh:
      return static_cast<T>(static_cast<Wide<T>>(dy) * tanh_derivative(static_cast<Wide<T>>(x)));
    case Activation::gelu:
      if constexpr (std::is_same_v<T, double>)  // as in forward: long double only far out
        if (x > -26.0) return dy * gelu_derivative(x);
      return static_cast<T>(static_cast<Wide<T>>(dy) * gelu_derivative(static_cast<Wide<T>>(x)));
    case Activation::gelu_tanh:
      if constexpr (std::is_same_v<T, double>)
        if (x >= 0.0) return dy * gelu_tanh_derivative(x);
      return static_cast<T>(static_cast<Wide<T>>(dy) * gelu_tanh_derivative(static_cast<Wide<T>>(x)));
  }
  return dy;
}

/** f'(x)·dy from y = f(x). */
template <class T>
T backward_from_output(Activation f, T y, T dy, T slope) {
  switch (f) {
    case Activation::sigmoid:
      return dy * (y * (T(1) - y));
    case Activation::tanh:
      return dy * ((T(1) - y) * (T(1) + y));
    case Activation::relu:
    case Activation::leaky_relu:  // y > 0 exactly where x > 0 (the caller checks slope ≥ 0)
      return backward(f, y, dy, slope);
    default:
      return dy;
  }
}

/** f''(z) in double, for the Hessian–vector product (0 for identity, relu and leaky_relu). */
inline double second_derivative(Activation f, double z) {
  switch (f) {
    case Activation::sigmoid: {
      const double s = 1 / (1 + std::exp(-z));
      return s * (1 - s) * (1 - 2 * s);
    }
    case Activation::tanh: {
      const double t = std::tanh(z);
      return -2 * t * (1 - t * t);
    }
    case Activation::gelu:  // x·Φ(x): (2 − x²)·φ(x)
      return (2 - z * z) * std::exp(-0.5 * z * z) * static_cast<double>(kInvSqrt2Pi);
    case Activation::gelu_tanh: {  // ½x(1 + tanh u), u = c(x + a x³)
      constexpr double c = 0.7978845608028654, a = 0.044715;
      const double t = std::tanh(c * (z + a * z * z * z)), sech2 = 1 - t * t;
      const double du = c * (1 + 3 * a * z * z), d2u = 6 * a * c * z;
      return sech2 * du + 0.5 * z * (sech2 * d2u - 2 * t * sech2 * du * du);
    }
    default: return 0;  // identity, relu, leaky_relu: piecewise linear
  }
}

}  // namespace mlpkit::detail::scalar
