#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "kernels/normalization/normalization_kernels.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

template <class T>
constexpr double tolerance() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

/**
 * Relative error any double-precision method makes on σ² when |μ| ≫ σ: the data themselves are
 * only known to ulp(μ), so (x − μ) carries ≈ ε·|μ| of σ (condition number |μ|/σ).
 */
double offset_error(double mean, double sigma) { return 64 * std::numeric_limits<double>::epsilon() * std::abs(mean) / sigma; }

/** features × examples, row i uniform around offset[i] with half-width spread[i]; padded ld. */
template <class T>
Matrix<T> feature_data(std::size_t features, std::size_t examples, std::uint64_t seed, const std::vector<double>& offset,
                       const std::vector<double>& spread) {
  Matrix<T> x(features, examples, examples + 3);  // odd ld: rows start unaligned
  for (std::size_t i = 0; i < features; ++i) {
    const auto row = test::uniform<T>(examples, seed + i, offset[i] - spread[i], offset[i] + spread[i]);
    for (std::size_t j = 0; j < examples; ++j) x(i, j) = row[j];
  }
  return x;
}

struct RowStats {
  double mean, variance;
};

/** The two-pass reference: μ = Σx/m, σ² = Σ(x − μ)²/m, in long double (64-bit mantissa on x86). */
template <class T>
RowStats two_pass(const T* x, std::size_t n) {
  long double s = 0;
  for (std::size_t j = 0; j < n; ++j) s += static_cast<long double>(x[j]);
  const long double mean = s / static_cast<long double>(n);
  long double ss = 0;
  for (std::size_t j = 0; j < n; ++j) ss += (static_cast<long double>(x[j]) - mean) * (static_cast<long double>(x[j]) - mean);
  return {static_cast<double>(mean), static_cast<double>(ss / static_cast<long double>(n))};
}

template <class T>
bool bitwise_equal(MatrixView<const T> a, MatrixView<const T> b) {
  for (std::size_t i = 0; i < a.rows; ++i)
    for (std::size_t j = 0; j < a.cols; ++j)
      if (std::memcmp(&a(i, j), &b(i, j), sizeof(T)) != 0) return false;
  return true;
}

template <class T>
std::vector<T> copy_span(std::span<const T> s) {
  return {s.begin(), s.end()};
}

// Feature 0 has mean 1e6 and std ≈ 1 (uniform ±√3): E[x²] − E[x]² cancels every digit there.
const std::vector<double> kOffsets{1e6, 0.0, -3.0, 250.0, 0.5};
const std::vector<double> kSpreads{std::sqrt(3.0), 1.0, 0.01, 40.0, 2.0};

}  // namespace

TEST_CASE_TEMPLATE("Standardizer::fit matches a double two-pass reference, also at a 1e6 offset, under every ISA", T, float,
                   double) {
  test::for_each_isa([&](Isa) {
    for (std::size_t m : {std::size_t{1}, std::size_t{7}, std::size_t{33}, std::size_t{1000}, std::size_t{16385},
                          std::size_t{40001}}) {
      CAPTURE(m);
      const auto x = feature_data<T>(5, m, 100 + m, kOffsets, kSpreads);
      Standardizer<T> s;
      s.fit(x.view());
      REQUIRE(s.features() == 5);
      REQUIRE(s.count() == m);
      for (std::size_t i = 0; i < 5; ++i) {
        CAPTURE(i);
        const RowStats ref = two_pass(x.view().row(i), m);
        const double sigma = std::sqrt(ref.variance);
        // μ is stored as T: allow its rounding plus the accumulation error relative to σ.
        const double mean_rounding = std::abs(ref.mean) * std::numeric_limits<T>::epsilon();
        const double conditioning = sigma > 0 ? offset_error(ref.mean, sigma) : 0.0;
        CHECK(std::abs(double(s.mean()[i]) - ref.mean) <= mean_rounding + (tolerance<T>() + conditioning) * sigma);
        CHECK(std::abs(double(s.variance()[i]) - ref.variance) <= (tolerance<T>() + conditioning) * ref.variance);
      }
    }
  });
}

TEST_CASE_TEMPLATE("the naive one-pass variance fails on the 1e6-offset data that fit gets right", T, float, double) {
  // Shows the offset test has teeth: Σx²/m − (Σx/m)² computed in T is far off where fit is not.
  const std::size_t m = 40001;
  const auto x = feature_data<T>(1, m, 7, {1e6}, {std::sqrt(3.0)});
  T sum = 0, sum_sq = 0;
  for (std::size_t j = 0; j < m; ++j) {
    sum += x(0, j);
    sum_sq += x(0, j) * x(0, j);
  }
  const T naive = sum_sq / T(m) - (sum / T(m)) * (sum / T(m));
  const RowStats ref = two_pass(x.view().row(0), m);
  Standardizer<T> s;
  s.fit(x.view());
  const double bound = (tolerance<T>() + offset_error(ref.mean, std::sqrt(ref.variance))) * ref.variance;
  CHECK(std::abs(double(naive) - ref.variance) > 100 * bound);
  CHECK(std::abs(double(s.variance()[0]) - ref.variance) <= bound);
}

TEST_CASE_TEMPLATE("transform applies the training statistics to test data, and inverse_transform undoes it", T, float,
                   double) {
  test::for_each_isa([&](Isa) {
    const std::size_t m_train = 3001, m_test = 517;
    const auto train = feature_data<T>(5, m_train, 1, kOffsets, kSpreads);
    // Test data from a shifted distribution: standardizing it with its own statistics would differ.
    const auto test_data = feature_data<T>(5, m_test, 2, {1e6 + 0.5, 1.0, -3.0, 200.0, 0.0}, kSpreads);
    Standardizer<T> s;
    s.fit(train.view());
    Matrix<T> z(5, m_test), back(5, m_test);
    s.transform(test_data.view(), z.view());
    s.inverse_transform(z.view(), back.view());
    for (std::size_t i = 0; i < 5; ++i) {
      const RowStats ref = two_pass(train.view().row(i), m_train);
      const double scale = 1.0 / std::sqrt(ref.variance + 1e-8);
      for (std::size_t j = 0; j < m_test; ++j) {
        const double x = static_cast<double>(test_data(i, j));
        const double expected = (x - ref.mean) * scale;
        const double conditioning = offset_error(ref.mean, std::sqrt(ref.variance));
        REQUIRE(std::abs(double(z(i, j)) - expected) <= (10 * tolerance<T>() + conditioning) * (1 + std::abs(expected)));
        REQUIRE(std::abs(double(back(i, j)) - x) <=
                4 * std::numeric_limits<T>::epsilon() * std::abs(x) + 10 * tolerance<T>() / scale);
      }
    }
    // The shifted test feature 1 (mean 1 instead of 0) keeps its shift after standardization.
    double mean_z = 0;
    for (std::size_t j = 0; j < m_test; ++j) mean_z += double(z(1, j)) / double(m_test);
    CHECK(mean_z > 1.4);
    // In place gives the same result.
    Matrix<T> in_place = test_data;
    s.transform(in_place.view(), in_place.view());
    CHECK(bitwise_equal<T>(in_place.view(), z.view()));
  });
}

TEST_CASE_TEMPLATE("a constant feature gets scale 1 instead of a division by sqrt(epsilon)", T, float, double) {
  Matrix<T> x(2, 9);
  for (std::size_t j = 0; j < 9; ++j) {
    x(0, j) = T(4.25);
    x(1, j) = T(j);
  }
  Standardizer<T> s;
  s.fit(x.view());
  CHECK(s.variance()[0] == T(0));
  Matrix<T> probe(2, 2), z(2, 2);
  probe(0, 0) = T(4.25), probe(0, 1) = T(5.25), probe(1, 0) = T(4), probe(1, 1) = T(5);
  s.transform(probe.view(), z.view());
  CHECK(z(0, 0) == T(0));
  CHECK(z(0, 1) == T(1));
  CHECK(z(1, 0) == T(0));
}

TEST_CASE_TEMPLATE("partial_fit over uneven chunks equals one fit over their concatenation", T, float, double) {
  const std::size_t m = 20000;
  const auto x = feature_data<T>(5, m, 3, kOffsets, kSpreads);
  Standardizer<T> whole;
  whole.fit(x.view());
  Standardizer<T> chunked;
  std::size_t begin = 0;
  for (std::size_t length : {std::size_t{1}, std::size_t{7}, std::size_t{0}, std::size_t{4097}, std::size_t{333},
                             std::size_t{16384}, m}) {
    length = std::min(length, m - begin);
    chunked.partial_fit(MatrixView<const T>{x.data() + begin, 5, length, x.ld()});
    begin += length;
  }
  REQUIRE(begin == m);
  CHECK(chunked.count() == m);
  for (std::size_t i = 0; i < 5; ++i) {
    CAPTURE(i);
    const double sigma = std::sqrt(double(whole.variance()[i]));
    CHECK(std::abs(double(chunked.mean()[i]) - double(whole.mean()[i])) <=
          std::abs(double(whole.mean()[i])) * std::numeric_limits<T>::epsilon() +
              (1e-13 + offset_error(double(whole.mean()[i]), sigma)) * sigma);
    CHECK(std::abs(double(chunked.variance()[i]) - double(whole.variance()[i])) <=
          (2 * std::numeric_limits<T>::epsilon() + offset_error(double(whole.mean()[i]), sigma)) * double(whole.variance()[i]));
  }
}

TEST_CASE_TEMPLATE("save then load restores the statistics exactly", T, float, double) {
  const auto x = feature_data<T>(5, 1001, 4, kOffsets, kSpreads);
  Standardizer<T> s(T(1e-3));
  s.partial_fit(x.view());
  const auto path = std::filesystem::temp_directory_path() / ("mlpkit_standardizer_" + std::to_string(sizeof(T)) + ".json");
  s.save(path);
  const auto loaded = Standardizer<T>::load(path);
  std::filesystem::remove(path);
  CHECK(loaded.features() == s.features());
  CHECK(loaded.count() == s.count());
  CHECK(loaded.epsilon() == s.epsilon());
  CHECK(copy_span(loaded.mean()) == copy_span(s.mean()));
  CHECK(copy_span(loaded.variance()) == copy_span(s.variance()));
  Matrix<T> z1(5, 1001), z2(5, 1001);
  s.transform(x.view(), z1.view());
  loaded.transform(x.view(), z2.view());
  CHECK(bitwise_equal<T>(z1.view(), z2.view()));
  // The double statistics travel too: partial_fit goes on as if nothing had been saved.
  auto resumed = Standardizer<T>::from_json(s.to_json());
  resumed.partial_fit(x.view());
  s.partial_fit(x.view());
  CHECK(copy_span(resumed.mean()) == copy_span(s.mean()));
  CHECK(copy_span(resumed.variance()) == copy_span(s.variance()));
  CHECK(resumed.to_json() == s.to_json());
}

