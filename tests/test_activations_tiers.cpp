#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernels/activations/activations_kernels.hpp"
#include "activation_reference.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;
using namespace mlpkit::test;

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
                          // The AVX-512 fast gelu_tanh clamps |x| at 11 (float) / 22 (double): the
                          // precise one has rounded to x or −0 there too.
                          {Activation::gelu_tanh, is_float ? T(11) : T(22), 0}};
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

TEST_CASE("the fast float sigmoid gives each element its own value wherever an out-of-range lane sits in a run") {
  // activation_forward takes the fast float sigmoid's branch-free part over runs of steps (two batches)
  // whose lanes all lie in |x| ≤ 87, and the lane-by-lane form for a step holding any other lane: one
  // such value at every position of a long array, so each lane of both batches of a step, the step
  // after a run and the run after it are each checked against the value an element has alone.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> base = test::uniform<float>(203, 47, -20.0, 20.0);
  const float odd[] = {-100.0F, 100.0F, -87.5F, 87.0001F, inf, -inf, std::numeric_limits<float>::quiet_NaN()};
  test::for_each_isa([&](Isa) {
    const auto alone = [](float v) {
      float y = 0;
      activation_forward(Activation::sigmoid, Accuracy::fast, &v, &y, 1);
      return std::bit_cast<std::uint32_t>(y);
    };
    std::vector<std::uint32_t> expected(base.size());
    std::transform(base.begin(), base.end(), expected.begin(), alone);
    for (const float v : odd) {
      const std::uint32_t expected_odd = alone(v);
      std::size_t differ = 0;
      for (std::size_t p = 0; p < base.size(); ++p) {
        std::vector<float> x = base, y(base.size());
        x[p] = v;
        activation_forward(Activation::sigmoid, Accuracy::fast, x.data(), y.data(), x.size());
        for (std::size_t i = 0; i < x.size(); ++i)
          differ += std::bit_cast<std::uint32_t>(y[i]) != (i == p ? expected_odd : expected[i]);
      }
      CAPTURE(v);
      CHECK(differ == 0);
    }
  });
}
