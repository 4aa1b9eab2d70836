#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "kernels/vector/vector_kernels.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;

TEST_CASE_TEMPLATE("dot, axpy and sum match the scalar reference under every ISA at awkward sizes", T, float, double) {
  const auto& ref = detail::vector_kernels_ref<T>();
  const double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-13;
  test::for_each_isa([&](Isa) {
    for (std::size_t n : test::awkward_sizes()) {
      CAPTURE(n);
      // Odd offsets make every load unaligned.
      auto x_storage = test::uniform<T>(n + 1, 1 + n);
      auto y_storage = test::uniform<T>(n + 3, 2 + n);
      const T* x = x_storage.data() + 1;
      T* y = y_storage.data() + 3;
      const double scale = static_cast<double>(n) + 1.0;
      CHECK(std::abs(double(dot(x, y, n)) - double(ref.dot(x, y, n))) <= tolerance * scale);
      CHECK(std::abs(double(sum(x, n)) - double(ref.sum(x, n))) <= tolerance * scale);
      std::vector<T> expected(y, y + n);
      ref.axpy(T(0.5), x, expected.data(), n);
      axpy(T(0.5), x, y, n);
      for (std::size_t i = 0; i < n; ++i) REQUIRE(std::abs(double(y[i] - expected[i])) <= tolerance * 4);
      if (n == 0) continue;
      // A wrong tail would leave the last element out: the sum of ones must be exact.
      std::vector<T> ones(n, T(1));
      CHECK(sum(ones.data(), n) == T(static_cast<double>(n)));
      CHECK(dot(ones.data(), ones.data(), n) == T(static_cast<double>(n)));
    }
  });
}

TEST_CASE_TEMPLATE("the span forms of dot, axpy and sum give the pointer forms' results", T, float, double) {
  const auto x = test::uniform<T>(1001, 5), y0 = test::uniform<T>(1001, 6);
  CHECK(dot(std::span<const T>(x), std::span<const T>(y0)) == dot(x.data(), y0.data(), x.size()));
  CHECK(sum(std::span<const T>(x)) == sum(x.data(), x.size()));
  auto y = y0, y_pointer = y0;
  axpy(T(0.5), std::span<const T>(x), std::span<T>(y));
  axpy(T(0.5), x.data(), y_pointer.data(), x.size());
  CHECK(y == y_pointer);
  CHECK(sum(std::span<const T>()) == T(0));
}

TEST_CASE_TEMPLATE("signs_differ finds a single sign change anywhere in a strided block, under every ISA", T, float,
                   double) {
  const auto& ref = detail::vector_kernels_ref<T>();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  test::for_each_isa([&](Isa) {
    const auto& k = detail::active_vector_kernels<T>();
    for (std::size_t cols : test::awkward_sizes()) {
      for (std::size_t rows : {1, 3}) {
        CAPTURE(cols);
        CAPTURE(rows);
        // Odd offsets make every load unaligned. y is x scaled, so every sign agrees, except in the
        // two padding entries past each row, where every sign differs and must not be read.
        const std::size_t ld = cols + 2, size = rows * ld;
        auto x_storage = test::uniform<T>(size + 1, 5 + cols);
        std::vector<T> y_storage(size + 3);
        T* x = x_storage.data() + 1;
        T* y = y_storage.data() + 3;
        for (std::size_t i = 0; i < size; ++i) y[i] = (i % ld < cols ? T(3) : T(-3)) * x[i];
        REQUIRE_FALSE(ref.signs_differ(x, y, rows, cols, ld));
        CHECK_FALSE(k.signs_differ(x, y, rows, cols, ld));
        // Every position up to 129 columns; beyond, the first and last few and a stride through the
        // middle; in the first and the last row.
        for (std::size_t r : {std::size_t{0}, rows - 1})
          for (std::size_t at = 0; at < cols; at += (cols <= 129 || at < 70 || at + 70 > cols) ? 1 : 97) {
            CAPTURE(r);
            CAPTURE(at);
            // A change at any position (first vector, middle, the scalar tail), in either direction,
            // and the edge cases of "> 0": zero and NaN are not positive.
            T& changed = y[r * ld + at];
            const T saved = changed;
            for (const T other : {T(-saved), T(0), T(-0.0), nan}) {
              changed = other;
              const bool expected = (x[r * ld + at] > T(0)) != (other > T(0));
              REQUIRE(ref.signs_differ(x, y, rows, cols, ld) == expected);
              CHECK(k.signs_differ(x, y, rows, cols, ld) == expected);
              CHECK(k.signs_differ(y, x, rows, cols, ld) == expected);
            }
            changed = saved;
          }
      }
    }
  });
}

// At every thread count: test_determinism.cpp.
TEST_CASE("level-1 kernels accept null pointers with size 0") {
  CHECK(sum<double>(nullptr, 0) == 0.0);
  CHECK(dot<float>(nullptr, nullptr, 0) == 0.0F);
}
