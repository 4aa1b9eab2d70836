#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/activations/activations_kernels.hpp"
#include "activation_reference.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;
using namespace mlpkit::test;

namespace {

/** |got − exact| in units of the last place of T at `exact` (subnormal spacing below the normal range). */
template <class T>
double ulp_error(T got, Real exact) {
  if (std::isnan(exact)) return std::isnan(got) ? 0.0 : std::numeric_limits<double>::infinity();
  if (std::isnan(got)) return std::numeric_limits<double>::infinity();
  const T rounded = static_cast<T>(exact);  // beyond the range of T the answer is ±Inf
  if (std::isinf(rounded) || std::isinf(got)) return got == rounded ? 0.0 : std::numeric_limits<double>::infinity();
  const int exponent = std::max(exact == 0 ? std::numeric_limits<T>::min_exponent - 1 : std::ilogb(exact),
                                std::numeric_limits<T>::min_exponent - 1);
  const Real ulp = std::ldexp(Real(1), exponent - std::numeric_limits<T>::digits + 1);
  return static_cast<double>(std::abs(static_cast<Real>(got) - exact) / ulp);
}

/** Arguments spanning 0, the saturation region, ±0, subnormals, huge values, ±Inf and NaN. */
template <class T>
std::vector<T> sweep_arguments() {
  std::vector<T> x;
  for (int i = -50000; i <= 50000; ++i) x.push_back(static_cast<T>(i * 4e-4));          // dense on [−20, 20]
  for (int e = std::numeric_limits<T>::min_exponent - std::numeric_limits<T>::digits;
       e <= std::numeric_limits<T>::max_exponent; ++e)
    for (int k = 0; k < 64; ++k) {                                                         // every binade, both signs
      const T v = std::ldexp(T(1) + T(k) / T(64), e);
      x.push_back(v);
      x.push_back(-v);
    }
  std::mt19937_64 rng(2024);
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  for (int i = 0; i < 20000; ++i) x.push_back(std::bit_cast<T>(static_cast<Bits>(rng())));  // random bit patterns
  std::uniform_real_distribution<double> wide(-120.0, 120.0);
  for (int i = 0; i < 30000; ++i) x.push_back(static_cast<T>(wide(rng)));
  const T inf = std::numeric_limits<T>::infinity();
  for (T v : {T(0), -T(0), inf, -inf, std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::denorm_min(),
              -std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::min(), std::numeric_limits<T>::max(),
              std::numeric_limits<T>::lowest()})
    x.push_back(v);
  return x;
}

struct Worst {
  double ulp = 0;
  double x = 0, got = 0, exact = 0;
};

template <class T>
std::vector<Real> exact_values(const std::vector<T>& x, Activation f, bool exp_only) {
  std::vector<Real> exact(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    exact[i] = exp_only ? std::exp(static_cast<Real>(x[i])) : reference(f, static_cast<Real>(x[i]));
  return exact;
}

template <class T>
Worst max_ulp(const std::vector<T>& x, const std::vector<T>& y, const std::vector<Real>& exact_of) {
  Worst worst;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const Real exact = exact_of[i];
    const double e = ulp_error(y[i], exact);
    if (e > worst.ulp) worst = {e, double(x[i]), double(y[i]), double(exact)};
  }
  return worst;
}

/** The bound of each function in each tier: ULP against the long double reference over the sweep. */
double ulp_bound(Activation f, Accuracy accuracy) {
  const bool sigmoid_or_tanh = f == Activation::sigmoid || f == Activation::tanh;
  if (accuracy == Accuracy::precise) return sigmoid_or_tanh ? 2.0 : 4.0;
  return sigmoid_or_tanh ? 4.0 : 16.0;
}

}  // namespace

TEST_CASE_TEMPLATE("sigmoid, tanh, their exp and softplus(-|x|) are within 2 ULP, gelu within 4 ULP of a long double reference "
                   "(fast tier: 4 and 16 ULP)",
                   T, float, double) {
  const auto x = sweep_arguments<T>();
  const std::string type = std::is_same_v<T, float> ? "float" : "double";
  const Activation tested[] = {Activation::sigmoid, Activation::tanh, Activation::gelu, Activation::gelu_tanh};
  const auto exact_exp = exact_values(x, Activation::identity, true);
  std::vector<Real> exact_softplus(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) exact_softplus[i] = std::log1p(std::exp(-std::abs(static_cast<Real>(x[i]))));
  std::vector<std::vector<Real>> exact;
  for (Activation f : tested) exact.push_back(exact_values(x, f, false));
  test::for_each_isa([&](Isa isa) {
    std::vector<T> y(x.size());
    detail::active_activation_kernels<T>().exp(x.data(), y.data(), x.size());
    const Worst exp_worst = max_ulp(x, y, exact_exp);
    MESSAGE("max ULP exp<" << type << "> (" << isa_name(isa) << "): " << exp_worst.ulp << " at x = " << exp_worst.x);
    CHECK(exp_worst.ulp <= 2.0);
    // log(1 + e^−|x|), binary cross-entropy's term; subnormal results are where e^a itself underflows.
    detail::active_activation_kernels<T>().softplus_neg_abs(x.data(), y.data(), x.size());
    const Worst softplus_worst = max_ulp(x, y, exact_softplus);
    MESSAGE("max ULP softplus(-|x|)<" << type << "> (" << isa_name(isa) << "): " << softplus_worst.ulp
                                      << " at x = " << softplus_worst.x);
    CHECK(softplus_worst.ulp <= 2.0);
    for (Accuracy accuracy : {Accuracy::precise, Accuracy::fast}) {
      for (std::size_t k = 0; k < std::size(tested); ++k) {
        const Activation f = tested[k];
        activation_forward(f, accuracy, x.data(), y.data(), x.size());
        const Worst worst = max_ulp(x, y, exact[k]);
        MESSAGE("max ULP " << activation_name(f) << "<" << type << "> " << accuracy_name(accuracy) << " ("
                           << isa_name(isa) << "): " << worst.ulp << " (bound " << ulp_bound(f, accuracy) << ") at x = "
                           << worst.x << " (got " << worst.got << ", exact " << worst.exact << ")");
        CAPTURE(activation_name(f));
        CAPTURE(accuracy_name(accuracy));
        CHECK(worst.ulp <= ulp_bound(f, accuracy));
      }
    }
  });
}

TEST_CASE_TEMPLATE("gelu and gelu_tanh derivatives are within 8 ULP of the size of their terms", T, float, double) {
  const auto x = sweep_arguments<T>();
  const std::string type = std::is_same_v<T, float> ? "float" : "double";
  const std::vector<T> ones(x.size(), T(1));
  test::for_each_isa([&](Isa isa) {
    for (Activation f : {Activation::gelu, Activation::gelu_tanh}) {
      std::vector<T> dx(x.size());
      activation_backward(f, x.data(), ones.data(), dx.data(), x.size());
      Worst worst;
      for (std::size_t i = 0; i < x.size(); ++i) {
        Real terms = 0;
        const Real exact = gelu_family_derivative(f, static_cast<Real>(x[i]), terms);
        double e = 0;
        if (std::isnan(x[i])) {
          e = std::isnan(dx[i]) ? 0.0 : std::numeric_limits<double>::infinity();
        } else {
          // One ULP of T at the size of the terms (at least the subnormal spacing).
          const Real size = std::max(terms, std::abs(exact));
          const int exponent = std::max(size == 0 ? std::numeric_limits<T>::min_exponent - 1 : std::ilogb(size),
                                        std::numeric_limits<T>::min_exponent - 1);
          const Real ulp = std::ldexp(Real(1), exponent - std::numeric_limits<T>::digits + 1);
          e = std::isnan(dx[i]) ? std::numeric_limits<double>::infinity()
                                : static_cast<double>(std::abs(static_cast<Real>(dx[i]) - exact) / ulp);
        }
        if (e > worst.ulp) worst = {e, double(x[i]), double(dx[i]), double(exact)};
      }
      MESSAGE("max ULP (of the terms) " << activation_name(f) << "'<" << type << "> (" << isa_name(isa)
                                         << "): " << worst.ulp << " at x = " << worst.x);
      CAPTURE(activation_name(f));
      CHECK(worst.ulp <= 8.0);
    }
  });
}

TEST_CASE_TEMPLATE("the fast gelu is within its bound on each piece of its AVX-512 polynomial and at their boundaries",
                   T, float, double) {
  // AVX-512 evaluates G(t), t = 1/(1 + |x|/4), as a polynomial on intervals of t (activations_gelu_pieces.hpp):
  // double 8 from t = 0.09 of width 0.91/7.9, float 16 from t = 0.19 of width 0.81/15.9. Here: ±|x| at
  // each interval's ends, 64 neighbours either side (rounding may pick either piece there), and 4001
  // points across each interval; every ISA, so the other ISAs' single polynomial is held to the same points.
  constexpr bool is_float = std::is_same_v<T, float>;
  const double start = is_float ? 0.19 : 0.09, width = is_float ? 0.81 / 15.9 : 0.91 / 7.9;
  const int count = is_float ? 16 : 8;
  const T limit = is_float ? T(16) : T(40);  // |x| beyond it: the tail underflows, |x| is clamped there
  std::vector<std::vector<T>> pieces;
  for (int j = 0; j < count; ++j) {
    std::vector<T> x;
    for (int k = 0; k <= 4000; ++k) {
      const double t = std::min(1.0, start + width * (j + k / 4000.0));
      const T a = static_cast<T>(4.0 * (1.0 / t - 1.0));
      if (a > limit) continue;
      x.push_back(a);
      x.push_back(-a);
      if (k == 0 || k == 4000) {
        T up = a, down = a;
        for (int n = 0; n < 64; ++n) {
          up = std::nextafter(up, T(100)), down = std::nextafter(down, T(-1));
          for (T v : {up, -up, down, -down}) x.push_back(v);
        }
      }
    }
    pieces.push_back(std::move(x));
  }
  test::for_each_isa([&](Isa isa) {
    for (std::size_t j = 0; j < pieces.size(); ++j) {
      const std::vector<T>& x = pieces[j];
      const auto exact = exact_values(x, Activation::gelu, false);
      std::vector<T> y(x.size());
      activation_forward(Activation::gelu, Accuracy::fast, x.data(), y.data(), x.size());
      const Worst worst = max_ulp(x, y, exact);
      MESSAGE("gelu<" << std::string(is_float ? "float" : "double") << "> fast (" << isa_name(isa) << "), piece " << j
                      << ": max ULP " << worst.ulp << " at x = " << worst.x);
      CAPTURE(j);
      CHECK(worst.ulp <= ulp_bound(Activation::gelu, Accuracy::fast));
    }
  });
}

TEST_CASE_TEMPLATE("the fast gelu_tanh is within its bound across its clamp, its underflow and its argument's grid", T,
                   float, double) {
  // AVX-512 evaluates the tail a·σ(−|z|) on a = min(|x|, 11 float / 22 double) with c1 + c3·a² split on a
  // fixed grid (activations_fast.hpp): ±x for 128 neighbours either side of the clamp, 4001 points
  // across the range where the tail decays into the subnormals (float 8..11, double 18..22) and 4001
  // across [0, 4] where c1 + c3·a² stays near c1; every ISA, against the long double reference.
  constexpr bool is_float = std::is_same_v<T, float>;
  const T limit = is_float ? T(11) : T(22);
  std::vector<T> x;
  T up = limit, down = limit;
  for (int n = 0; n < 128; ++n) {
    up = std::nextafter(up, T(100)), down = std::nextafter(down, T(0));
    for (T v : {up, -up, down, -down}) x.push_back(v);
  }
  const double tail_from = is_float ? 8.0 : 18.0;
  for (int k = 0; k <= 4000; ++k) {
    for (double v : {tail_from + (double(limit) - tail_from) * k / 4000.0, 4.0 * k / 4000.0}) {
      x.push_back(static_cast<T>(v));
      x.push_back(static_cast<T>(-v));
    }
  }
  const auto exact = exact_values(x, Activation::gelu_tanh, false);
  test::for_each_isa([&](Isa isa) {
    std::vector<T> y(x.size());
    activation_forward(Activation::gelu_tanh, Accuracy::fast, x.data(), y.data(), x.size());
    const Worst worst = max_ulp(x, y, exact);
    MESSAGE("gelu_tanh<" << std::string(is_float ? "float" : "double") << "> fast (" << isa_name(isa)
                         << ") at its clamp, underflow and grid: max ULP " << worst.ulp << " at x = " << worst.x);
    CHECK(worst.ulp <= ulp_bound(Activation::gelu_tanh, Accuracy::fast));
  });
}
