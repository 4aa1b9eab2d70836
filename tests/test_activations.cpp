#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "kernels/activations/activations_kernels.hpp"
#include "activation_reference.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;
using namespace mlpkit::test;

namespace {

constexpr auto kAll = enum_values<Activation>();

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

TEST_CASE_TEMPLATE("the span forms of the activation functions give the pointer forms' bits", T, float, double) {
  const std::size_t n = 1003;
  const auto x = test::uniform<T>(n, 21, -6.0, 6.0);
  const auto dy = test::uniform<T>(n, 22);
  const T slope = T(0.2);
  for (Activation f : kAll)
    for (Accuracy accuracy : {Accuracy::precise, Accuracy::fast}) {
      CAPTURE(activation_name(f));
      CAPTURE(accuracy_name(accuracy));
      std::vector<T> y(n), dx(n), y_span(n), dx_span(n);
      activation_forward(f, accuracy, x.data(), y.data(), n, slope);
      activation_forward<T>(f, accuracy, x, y_span, slope);
      CHECK(test::same_bits(y, y_span));
      activation_backward(f, accuracy, x.data(), dy.data(), dx.data(), n, slope);
      activation_backward<T>(f, accuracy, x, dy, dx_span, slope);
      CHECK(test::same_bits(dx, dx_span));
      if (accuracy != Accuracy::precise) continue;
      // The forms without an accuracy are the precise tier, with the same default slope.
      activation_forward<T>(f, x, y_span);
      activation_forward(f, x.data(), y.data(), n);
      CHECK(test::same_bits(y, y_span));
      activation_backward<T>(f, x, dy, dx_span);
      activation_backward(f, x.data(), dy.data(), dx.data(), n);
      CHECK(test::same_bits(dx, dx_span));
      if (f == Activation::gelu || f == Activation::gelu_tanh) continue;  // no derivative from y
      activation_backward_from_output<T>(f, y, dy, dx_span, slope);
      activation_backward_from_output(f, y.data(), dy.data(), dx.data(), n, slope);
      CHECK(test::same_bits(dx, dx_span));
    }
  // In place, and empty spans.
  std::vector<T> in_place = x, y(n);
  activation_forward(Activation::tanh, x.data(), y.data(), n);
  activation_forward<T>(Activation::tanh, in_place, in_place);
  CHECK(test::same_bits(in_place, y));
  CHECK_NOTHROW(activation_forward<T>(Activation::sigmoid, std::span<const T>(), std::span<T>()));
}
