#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernels/activations/activations_kernels.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

using Real = long double;

template <class T>
using test_bits_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
constexpr Real kInvSqrt2 = 0.707106781186547524400844362104849039L;
constexpr Real kSqrt2OverPi = 0.797884560802865355879892119868763737L;

Real sigmoid_exact(Real x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

// x·Φ(x), with the rounding error of u = −x/√2 carried to first order (erfc is ill-conditioned far out).
Real gelu_exact(Real x) {
  if (std::isinf(x)) return x > 0 ? x : 0;
  const Real u = -x * kInvSqrt2;
  const Real u_lo = std::fma(-x, kInvSqrt2, -u);
  return x * 0.5L * (std::erfc(u) - u_lo * 1.128379167095512573896158903121545172L * std::exp(-u * u));
}

Real gelu_tanh_exact(Real x) {
  if (std::isinf(x)) return x > 0 ? x : 0;
  return x * sigmoid_exact(2 * kSqrt2OverPi * (x + 0.044715L * x * x * x));
}

Real reference(Activation f, Real x) {
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

namespace {

/**
 * gelu'(x) = Φ(x) + x·φ(x) and gelu_tanh'(x) = σ(z) + x·z'·σ(z)(1 − σ(z)) in long double, and the sum of
 * the two terms' magnitudes: the derivatives cross zero (near x ≈ −0.75), where no evaluation keeps a
 * relative error, so their error is measured against the size of the terms instead.
 */
Real gelu_family_derivative(Activation f, Real x, Real& terms) {
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

}  // namespace

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

namespace {

const Activation kAll[] = {Activation::identity, Activation::relu,     Activation::leaky_relu, Activation::sigmoid,
                           Activation::tanh,     Activation::gelu,     Activation::gelu_tanh};

template <class T>
bool close_ulps(T a, T b, double ulps) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  const double scale = std::max({std::abs(double(a)), std::abs(double(b)), double(std::numeric_limits<T>::min())});
  return std::abs(double(a) - double(b)) <= ulps * scale * double(std::numeric_limits<T>::epsilon());
}

}  // namespace

TEST_CASE_TEMPLATE("activation kernels match the scalar reference under every ISA at awkward sizes, in place too", T,
                   float, double) {
  const auto& ref = detail::activation_kernels_ref<T>();
  test::for_each_isa([&](Isa) {
    for (std::size_t n : test::awkward_sizes()) {
      CAPTURE(n);
      // Odd offsets make every load unaligned.
      const auto x_storage = test::uniform<T>(n + 1, 3 + n, -12.0, 12.0);
      const auto dy_storage = test::uniform<T>(n + 3, 5 + n);
      const T* x = x_storage.data() + 1;
      const T* dy = dy_storage.data() + 3;
      for (Activation f : kAll) {
        CAPTURE(activation_name(f));
        const T slope = T(0.125);
        std::vector<T> y(n), expected(n), in_place(x, x + n);
        activation_forward(f, x, y.data(), n, slope);
        ref.forward(f, x, expected.data(), n, slope, false);
        for (std::size_t i = 0; i < n; ++i) REQUIRE(close_ulps(y[i], expected[i], 4));
        activation_forward(f, in_place.data(), in_place.data(), n, slope);
        CHECK(in_place == y);
        // The fast tier against the same reference, within its own bounds (relative to the larger value).
        const double fast_ulps = f == Activation::gelu || f == Activation::gelu_tanh ? 16 : 4;
        std::vector<T> y_fast(n), fast_in_place(x, x + n);
        activation_forward(f, Accuracy::fast, x, y_fast.data(), n, slope);
        for (std::size_t i = 0; i < n; ++i) REQUIRE(close_ulps(y_fast[i], expected[i], fast_ulps));
        activation_forward(f, Accuracy::fast, fast_in_place.data(), fast_in_place.data(), n, slope);
        CHECK(fast_in_place == y_fast);

        std::vector<T> dx(n), dx_expected(n), dx_in_place(dy, dy + n);
        activation_backward(f, x, dy, dx.data(), n, slope);
        ref.backward(f, x, dy, dx_expected.data(), n, slope, false);
        for (std::size_t i = 0; i < n; ++i) {
          if (f == Activation::gelu || f == Activation::gelu_tanh) {
            // Against long double and the reference, relative to the size of the derivative's terms:
            // it crosses zero near x ≈ −0.75, where no evaluation keeps a relative error.
            Real terms = 0;
            const Real exact = static_cast<Real>(dy[i]) * gelu_family_derivative(f, static_cast<Real>(x[i]), terms);
            CAPTURE(x[i]);
            const double bound = 8 * double(std::numeric_limits<T>::epsilon()) * std::abs(double(dy[i])) *
                                     double(terms) + 8 * double(std::numeric_limits<T>::denorm_min());
            REQUIRE(std::abs(static_cast<double>(static_cast<Real>(dx[i]) - exact)) <= bound);
            REQUIRE(std::abs(double(dx[i]) - double(dx_expected[i])) <= bound);
          } else {
            REQUIRE(close_ulps(dx[i], dx_expected[i], 8));
          }
        }
        activation_backward(f, x, dx_in_place.data(), dx_in_place.data(), n, slope);
        CHECK(dx_in_place == dx);

        if (f == Activation::gelu || f == Activation::gelu_tanh) continue;
        activation_backward_from_output(f, y.data(), dy, dx.data(), n, slope);
        ref.backward_from_output(f, y.data(), dy, dx_expected.data(), n, slope, false);
        for (std::size_t i = 0; i < n; ++i) REQUIRE(close_ulps(dx[i], dx_expected[i], 4));
        // From the output agrees with from the input, up to the rounding of y.
        activation_backward(f, x, dy, dx_expected.data(), n, slope);
        for (std::size_t i = 0; i < n; ++i)
          REQUIRE(std::abs(double(dx[i] - dx_expected[i])) <= 1e-5 * (1 + std::abs(double(dx_expected[i]))));
      }
    }
  });
}

TEST_CASE_TEMPLATE("activation kernels give the same bits with streaming stores, at every size and output alignment", T,
                   float, double) {
  test::for_each_isa([&](Isa) {
    const auto& k = detail::active_activation_kernels<T>();
    for (std::size_t n : test::awkward_sizes()) {
      const auto x_storage = test::uniform<T>(n + 1, 11 + n, -12.0, 12.0);
      const auto dy_storage = test::uniform<T>(n + 1, 13 + n);
      const T* x = x_storage.data() + 1;
      const T* dy = dy_storage.data() + 1;
      // Every output offset within a vector: the elements before the first aligned one take the
      // padded-batch path, the rest non-temporal stores.
      for (std::size_t offset = 0; offset < 64 / sizeof(T); ++offset) {
        CAPTURE(n);
        CAPTURE(offset);
        for (Activation f : kAll) {
          CAPTURE(activation_name(f));
          const T slope = T(0.125);
          std::vector<T> plain(n + offset), streamed(n + offset);
          k.forward(f, x, plain.data() + offset, n, slope, false);
          k.forward(f, x, streamed.data() + offset, n, slope, true);
          REQUIRE(streamed == plain);
          k.forward_fast(f, x, plain.data() + offset, n, slope, false);
          k.forward_fast(f, x, streamed.data() + offset, n, slope, true);
          REQUIRE(streamed == plain);
          k.backward(f, x, dy, plain.data() + offset, n, slope, false);
          k.backward(f, x, dy, streamed.data() + offset, n, slope, true);
          REQUIRE(streamed == plain);
          if (f == Activation::gelu || f == Activation::gelu_tanh) continue;
          k.backward_from_output(f, x, dy, plain.data() + offset, n, slope, false);
          k.backward_from_output(f, x, dy, streamed.data() + offset, n, slope, true);
          REQUIRE(streamed == plain);
        }
      }
    }
  });
}

TEST_CASE_TEMPLATE("softplus(-|x|) matches the scalar reference under every ISA at awkward sizes, in place too", T,
                   float, double) {
  const auto& ref = detail::activation_kernels_ref<T>();
  test::for_each_isa([&](Isa) {
    const auto& kernels = detail::active_activation_kernels<T>();
    for (std::size_t n : test::awkward_sizes()) {
      CAPTURE(n);
      const auto x_storage = test::uniform<T>(n + 1, 7 + n, -40.0, 40.0);
      const T* x = x_storage.data() + 1;  // unaligned
      std::vector<T> y(n), expected(n), in_place(x, x + n);
      kernels.softplus_neg_abs(x, y.data(), n);
      ref.softplus_neg_abs(x, expected.data(), n);
      for (std::size_t i = 0; i < n; ++i) REQUIRE(close_ulps(y[i], expected[i], 3));
      kernels.softplus_neg_abs(in_place.data(), in_place.data(), n);
      CHECK(in_place == y);
    }
    const T inf = std::numeric_limits<T>::infinity();
    const T special[] = {T(0), -T(0), inf, -inf, std::numeric_limits<T>::quiet_NaN()};
    T out[std::size(special)];
    kernels.softplus_neg_abs(special, out, std::size(special));
    CHECK(close_ulps(out[0], static_cast<T>(std::log(2.0L)), 1));
    CHECK(close_ulps(out[1], static_cast<T>(std::log(2.0L)), 1));
    CHECK(out[2] == T(0));
    CHECK(out[3] == T(0));
    CHECK(std::isnan(out[4]));
  });
}

TEST_CASE_TEMPLATE("activations handle ±0, ±Inf and NaN with the mathematical limits, in both tiers", T, float, double) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> x{T(0), -T(0), inf, -inf, nan};
  test::for_each_isa([&](Isa) {
    for (Accuracy accuracy : {Accuracy::precise, Accuracy::fast}) {
      CAPTURE(accuracy_name(accuracy));
      std::vector<T> y(x.size());
      auto run = [&](Activation f) {
        activation_forward(f, accuracy, x.data(), y.data(), x.size());
        return y;
      };
      auto s = run(Activation::sigmoid);
      CHECK(s[0] == T(0.5));
      CHECK(s[2] == T(1));
      CHECK(s[3] == T(0));
      CHECK(std::isnan(s[4]));
      auto t = run(Activation::tanh);
      CHECK((t[0] == T(0) && !std::signbit(t[0])));
      CHECK((t[1] == T(0) && std::signbit(t[1])));
      CHECK(t[2] == T(1));
      CHECK(t[3] == T(-1));
      CHECK(std::isnan(t[4]));
      auto r = run(Activation::relu);
      CHECK(std::signbit(r[1]));
      CHECK(r[2] == inf);
      CHECK(r[3] == T(0));
      CHECK(std::isnan(r[4]));
      for (Activation f : {Activation::gelu, Activation::gelu_tanh}) {
        auto g = run(f);
        CHECK((g[0] == T(0) && !std::signbit(g[0])));
        CHECK(g[2] == inf);
        CHECK(g[3] == T(0));
        CHECK(std::isnan(g[4]));
      }
    }
    std::vector<T> dx(x.size()), ones(x.size(), T(1));
    activation_backward(Activation::sigmoid, x.data(), ones.data(), dx.data(), x.size());
    CHECK(dx[0] == T(0.25));
    CHECK(dx[2] == T(0));
    CHECK(std::isnan(dx[4]));
    activation_backward(Activation::tanh, x.data(), ones.data(), dx.data(), x.size());
    CHECK(dx[0] == T(1));
    CHECK(dx[3] == T(0));
  });
}

TEST_CASE_TEMPLATE("the fast tier gives the precise values in the saturated ranges", T, float, double) {
  // From where each function rounds to its limit (1, ±1, x or −0; or, for sigmoid, the subnormals
  // and 0 of e^x), out to the largest finite values.
  constexpr bool is_float = std::is_same_v<T, float>;
  struct Range {
    Activation f;
    T from;   // |x| ≥ from on the side(s) below
    int sides;  // 1: x ≥ from; −1: x ≤ −from; 0: both
  };
  const Range ranges[] = {{Activation::sigmoid, is_float ? T(17.4) : T(37.5), 1},
                          {Activation::sigmoid, is_float ? T(87.5) : T(708.5), -1},
                          {Activation::tanh, is_float ? T(9.02) : T(19.07), 0},
                          {Activation::gelu, is_float ? T(16) : T(40), 0},
                          {Activation::gelu_tanh, is_float ? T(16) : T(40), 0}};
  test::for_each_isa([&](Isa) {
    for (const Range& range : ranges) {
      CAPTURE(activation_name(range.f));
      std::vector<T> x;
      for (T v = range.from; v < std::numeric_limits<T>::max() / T(1.5); v *= T(1.01)) {
        if (range.sides >= 0) x.push_back(v);
        if (range.sides <= 0) x.push_back(-v);
      }
      std::vector<T> precise(x.size()), fast(x.size());
      activation_forward(range.f, Accuracy::precise, x.data(), precise.data(), x.size());
      activation_forward(range.f, Accuracy::fast, x.data(), fast.data(), x.size());
      std::size_t differ = 0;
      for (std::size_t i = 0; i < x.size(); ++i)
        differ += std::bit_cast<test_bits_t<T>>(precise[i]) != std::bit_cast<test_bits_t<T>>(fast[i]);
      CHECK(differ == 0);
    }
  });
}

TEST_CASE_TEMPLATE("a fast activation gives each element the value it has alone, whatever its neighbours in a batch", T,
                   float, double) {
  // Lanes outside the range of a fast form take the precise one; a batch holding both kinds must not
  // change the fast lanes (the GEMM epilogue groups elements differently from activation_forward).
  const T inf = std::numeric_limits<T>::infinity();
  std::vector<T> x = test::uniform<T>(64, 31, -12.0, 12.0);
  for (std::size_t i = 0; i < x.size(); i += 5) x[i] = (i % 2 ? T(-1) : T(1)) * T(750);
  x[3] = inf, x[8] = -inf, x[13] = std::numeric_limits<T>::quiet_NaN(), x[21] = T(-100), x[22] = T(100);
  test::for_each_isa([&](Isa) {
    for (Activation f : {Activation::sigmoid, Activation::tanh, Activation::gelu, Activation::gelu_tanh}) {
      CAPTURE(activation_name(f));
      std::vector<T> together(x.size());
      activation_forward(f, Accuracy::fast, x.data(), together.data(), x.size());
      for (std::size_t i = 0; i < x.size(); ++i) {
        T alone = 0;
        activation_forward(f, Accuracy::fast, &x[i], &alone, 1);
        CAPTURE(x[i]);
        CHECK(std::bit_cast<test_bits_t<T>>(alone) == std::bit_cast<test_bits_t<T>>(together[i]));
      }
    }
  });
}

TEST_CASE_TEMPLATE("activations are bitwise identical for 1, 2 and 3 threads, in both tiers", T, float, double) {
  const std::size_t n = 100003;
  const auto x = test::uniform<T>(n, 17, -10.0, 10.0);
  const auto dy = test::uniform<T>(n, 18);
  for (const auto& f_and_accuracy : {std::pair{Activation::relu, Accuracy::precise}, {Activation::sigmoid, Accuracy::precise},
                             {Activation::tanh, Accuracy::precise}, {Activation::gelu, Accuracy::precise},
                             {Activation::gelu_tanh, Accuracy::precise}, {Activation::sigmoid, Accuracy::fast},
                             {Activation::tanh, Accuracy::fast}, {Activation::gelu, Accuracy::fast},
                             {Activation::gelu_tanh, Accuracy::fast}}) {
    // Copies, not structured bindings: clang 14 cannot capture those in doctest's CAPTURE lambdas.
    const auto f = f_and_accuracy.first;
    const auto accuracy = f_and_accuracy.second;
    CAPTURE(activation_name(f));
    CAPTURE(accuracy_name(accuracy));
    std::vector<T> y1, dx1;
    for (int threads : {1, 2, 3}) {
      test::ScopedThreads scoped(threads);
      std::vector<T> y(n), dx(n);
      activation_forward(f, accuracy, x.data(), y.data(), n);
      activation_backward(f, accuracy, x.data(), dy.data(), dx.data(), n);
      if (threads == 1) {
        y1 = y, dx1 = dx;
      } else {
        CHECK(y == y1);
        CHECK(dx == dx1);
      }
    }
  }
}

TEST_CASE("activations reject null pointers, partial overlaps and unknown names") {
  std::vector<float> buffer(64, 1.0F);
  float* p = buffer.data();
  CHECK_THROWS_WITH_AS(activation_forward<float>(Activation::relu, nullptr, p, 4),
                       doctest::Contains("mlpkit::activation_forward: x is null but holds 4"), Error);
  CHECK_THROWS_WITH_AS(activation_forward<float>(Activation::relu, p, p + 1, 8), doctest::Contains("overlap"), Error);
  CHECK_THROWS_AS(activation_backward<float>(Activation::tanh, p, p + 2, p, 8), Error);
  CHECK_THROWS_AS(activation_backward<float>(Activation::tanh, p + 3, p + 20, p, 8), Error);
  CHECK_NOTHROW(activation_backward<float>(Activation::tanh, p, p + 20, p + 40, 8));
  CHECK_THROWS_AS(activation_backward_from_output<float>(Activation::gelu, p, p + 20, p + 40, 8), Error);
  CHECK_THROWS_AS(activation_backward_from_output<float>(Activation::leaky_relu, p, p + 20, p + 40, 8, -0.5F), Error);
  CHECK_THROWS_AS(activation_forward<float>(static_cast<Activation>(42), p, p, 4), Error);
  CHECK_THROWS_AS(activation_forward<float>(Activation::tanh, static_cast<Accuracy>(2), p, p, 4), Error);
  CHECK(parse_accuracy(accuracy_name(Accuracy::fast)) == Accuracy::fast);
  CHECK(parse_accuracy("precise") == Accuracy::precise);
  CHECK_NOTHROW(activation_forward<float>(Activation::sigmoid, nullptr, nullptr, 0));
  for (Activation f : kAll) CHECK(parse_activation(activation_name(f)) == f);
  CHECK_THROWS_WITH_AS(parse_activation("swish"), doctest::Contains("accepted: identity, relu, leaky_relu"), Error);
}

TEST_CASE_TEMPLATE("softmax and log_softmax are stable per column and match the reference under every ISA", T, float,
                   double) {
  const auto& ref = detail::activation_kernels_ref<T>();
  test::for_each_isa([&](Isa) {
    for (std::size_t rows : {1, 3, 10}) {
      for (std::size_t cols : {1, 7, 17, 300}) {
        CAPTURE(rows);
        CAPTURE(cols);
        Matrix<T> z(rows, cols, cols + 3), out(rows, cols), expected(rows, cols);
        const auto values = test::uniform<T>(rows * cols, rows + cols, -30.0, 30.0);
        for (std::size_t i = 0; i < rows; ++i)
          for (std::size_t j = 0; j < cols; ++j) z(i, j) = values[i * cols + j];
        for (bool log : {false, true}) {
          if (log) log_softmax<T>(z.view(), out.view());
          else softmax<T>(z.view(), out.view());
          ref.softmax_columns(z.data(), z.ld(), expected.data(), expected.ld(), rows, cols, log);
          for (std::size_t j = 0; j < cols; ++j) {
            double total = 0;
            for (std::size_t i = 0; i < rows; ++i) {
              REQUIRE(std::abs(double(out(i, j) - expected(i, j))) <= 64 * double(std::numeric_limits<T>::epsilon()) *
                                                                           (1 + std::abs(double(expected(i, j)))));
              total += log ? std::exp(double(out(i, j))) : double(out(i, j));
            }
            REQUIRE(std::abs(total - 1) <= 1e-5);
          }
          Matrix<T> in_place = z;
          if (log) log_softmax<T>(in_place.view(), in_place.view());
          else softmax<T>(in_place.view(), in_place.view());
          for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < cols; ++j) REQUIRE(in_place(i, j) == out(i, j));
        }
      }
    }
    // Logits 1e4 apart: the small one underflows to exactly 0, nothing overflows.
    Matrix<T> z(2, 1);
    z(0, 0) = T(1e4);
    z(1, 0) = T(0);
    Matrix<T> p(2, 1);
    softmax<T>(z.view(), p.view());
    CHECK(p(0, 0) == T(1));
    CHECK(p(1, 0) == T(0));
    log_softmax<T>(z.view(), p.view());
    CHECK(p(0, 0) == T(0));
    CHECK(p(1, 0) == T(-1e4));
  });
}

TEST_CASE_TEMPLATE("softmax gives NaN for a column holding NaN or +Inf or only -Inf, and 0 for a -Inf logit", T, float,
                   double) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  test::for_each_isa([&](Isa) {
    // 3 rows × 37 columns: full SIMD batches and the scalar tail. Column j % 4: 0 finite with one −Inf,
    // 1 one NaN (in the last row, after the maximum), 2 one +Inf, 3 only −Inf.
    const std::size_t rows = 3, cols = 37;
    Matrix<T> z(rows, cols), out(rows, cols);
    for (std::size_t j = 0; j < cols; ++j) {
      z(0, j) = T(2), z(1, j) = -inf, z(2, j) = T(1);
      if (j % 4 == 1) z(2, j) = nan;
      if (j % 4 == 2) z(0, j) = inf;
      if (j % 4 == 3) z(0, j) = z(2, j) = -inf;
    }
    for (bool log : {false, true}) {
      CAPTURE(log);
      if (log) log_softmax<T>(z.view(), out.view());
      else softmax<T>(z.view(), out.view());
      for (std::size_t j = 0; j < cols; ++j) {
        CAPTURE(j);
        if (j % 4 == 0) {
          CHECK(out(1, j) == (log ? -inf : T(0)));
          CHECK(std::isfinite(out(0, j)));
        } else {
          for (std::size_t i = 0; i < rows; ++i) CHECK(std::isnan(out(i, j)));
        }
      }
    }
  });
}

TEST_CASE("softmax rejects mismatched shapes and partial overlaps") {
  Matrix<float> z(3, 4), out(3, 5);
  CHECK_THROWS_WITH_AS(softmax<float>(z.view(), out.view()), doctest::Contains("mlpkit::softmax: out is 3 × 5"), Error);
  MatrixView<float> shifted{z.data() + 1, 3, 3, z.ld()};
  MatrixView<float> base{z.data(), 3, 3, z.ld()};
  CHECK_THROWS_AS(log_softmax<float>(base, shifted), Error);
  MatrixView<float> other_ld{z.data(), 2, 3, 3};
  MatrixView<float> same_data{z.data(), 2, 3, z.ld()};
  CHECK_THROWS_AS(softmax<float>(same_data, other_ld), Error);
}
