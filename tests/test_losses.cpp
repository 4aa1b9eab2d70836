#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "mlpkit/mlpkit.hpp"
#include "model/mlp_loss.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

template <class T>
Matrix<T> filled(std::size_t rows, std::size_t cols, const std::vector<T>& values) {
  Matrix<T> m(rows, cols);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) m(i, j) = values[i * cols + j];
  return m;
}

// dJ/dz by central differences, one entry at a time.
void check_gradient(const std::function<double(Matrix<double>&, MatrixView<double>)>& loss, Matrix<double> z) {
  Matrix<double> analytic(z.rows(), z.cols());
  loss(z, analytic.view());
  const double h = 1e-6;
  for (std::size_t i = 0; i < z.rows(); ++i)
    for (std::size_t j = 0; j < z.cols(); ++j) {
      const double saved = z(i, j);
      z(i, j) = saved + h;
      const double plus = loss(z, {});
      z(i, j) = saved - h;
      const double minus = loss(z, {});
      z(i, j) = saved;
      CAPTURE(i);
      CAPTURE(j);
      CHECK(analytic(i, j) == doctest::Approx((plus - minus) / (2 * h)).epsilon(1e-6).scale(1e-3));
    }
}

}  // namespace

TEST_CASE("loss gradients match central finite differences") {
  const std::size_t classes = 4, m = 5;
  const auto z = filled<double>(classes, m, test::uniform<double>(classes * m, 7, -3.0, 3.0));
  Matrix<double> binary(classes, m), one_hot(classes, m);
  for (std::size_t j = 0; j < m; ++j) {
    one_hot(j % classes, j) = 1;
    for (std::size_t i = 0; i < classes; ++i) binary(i, j) = double((i + j) % 2);
  }
  check_gradient([&](Matrix<double>& zz, MatrixView<double> dz) {
    return binary_cross_entropy_with_logits<double>(zz.view(), binary.view(), dz);
  }, z);
  check_gradient([&](Matrix<double>& zz, MatrixView<double> dz) {
    return cross_entropy_with_logits<double>(zz.view(), one_hot.view(), dz);
  }, z);
  check_gradient([&](Matrix<double>& zz, MatrixView<double> dz) {
    return mean_squared_error<double>(zz.view(), binary.view(), dz);
  }, z);
}

TEST_CASE_TEMPLATE("losses agree with their definitions and between forms", T, float, double) {
  const auto z = filled<T>(1, 4, {T(-2), T(0.5), T(3), T(-0.25)});
  const auto y = filled<T>(1, 4, {T(0), T(1), T(1), T(0)});
  Matrix<T> p(1, 4);
  activation_forward(Activation::sigmoid, z.data(), p.data(), 4);
  double expected = 0;
  for (std::size_t j = 0; j < 4; ++j) {
    const double pj = 1 / (1 + std::exp(-double(z(0, j))));
    expected -= y(0, j) == T(1) ? std::log(pj) : std::log(1 - pj);
  }
  expected /= 4;
  const double tolerance = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  CHECK(double(binary_cross_entropy<T>(p.view(), y.view())) == doctest::Approx(expected).epsilon(tolerance * 10));
  CHECK(double(binary_cross_entropy_with_logits<T>(z.view(), y.view())) == doctest::Approx(expected).epsilon(tolerance));
  // MSE uses the 1/(2m) convention.
  CHECK(double(mean_squared_error<T>(z.view(), y.view())) ==
        doctest::Approx((4.0 + 0.25 + 4.0 + 0.0625) / 8).epsilon(tolerance));
  // Cross-entropy of two classes equals binary cross-entropy of the logit difference.
  auto z2 = filled<T>(2, 4, {T(0), T(0), T(0), T(0), z(0, 0), z(0, 1), z(0, 2), z(0, 3)});
  auto y2 = filled<T>(2, 4, {T(1), T(0), T(0), T(1), T(0), T(1), T(1), T(0)});
  CHECK(double(cross_entropy_with_logits<T>(z2.view(), y2.view())) == doctest::Approx(expected).epsilon(tolerance * 10));
}

TEST_CASE_TEMPLATE("losses stay finite and exact at |z| = 1000, also with the gradient in place", T, float, double) {
  auto z = filled<T>(1, 4, {T(1000), T(-1000), T(1000), T(-1000)});
  const auto y = filled<T>(1, 4, {T(1), T(0), T(0), T(1)});
  // Two right (loss 0) and two wrong by 1000 each: J = 2000/4.
  CHECK(binary_cross_entropy_with_logits<T>(z.view(), y.view()) == T(500));
  binary_cross_entropy_with_logits<T>(z.view(), y.view(), z.view());
  CHECK(z(0, 0) == T(0));
  CHECK(z(0, 2) == T(0.25));
  CHECK(z(0, 3) == T(-0.25));
  auto logits = filled<T>(3, 1, {T(1000), T(-1000), T(0)});
  const auto one_hot = filled<T>(3, 1, {T(0), T(0), T(1)});
  CHECK(cross_entropy_with_logits<T>(logits.view(), one_hot.view()) == T(1000));
  Matrix<T> dz(3, 1);
  cross_entropy_with_logits<T>(logits.view(), one_hot.view(), dz.view());
  CHECK(dz(0, 0) == T(1));
  CHECK(dz(1, 0) == T(0));
  CHECK(dz(2, 0) == T(-1));
}

TEST_CASE("cross-entropy takes soft labels (probabilities in [0, 1]), which binary cross-entropy from logits does not") {
  Matrix<float> z(2, 3), y(2, 3);
  y(0, 1) = 0.5F;
  y(1, 1) = 0.5F;
  CHECK_NOTHROW(cross_entropy_with_logits<float>(z.view(), y.view()));
}

TEST_CASE("per-example loss terms add up to the loss of every configuration, under every ISA") {
  struct Setting {
    Loss loss;
    Activation output;
    std::size_t rows;
  };
  const Setting settings[] = {{Loss::binary_cross_entropy, Activation::sigmoid, 1},
                              {Loss::binary_cross_entropy, Activation::sigmoid, 2},
                              {Loss::cross_entropy, Activation::identity, 4},
                              {Loss::mean_squared_error, Activation::identity, 3},
                              {Loss::mean_squared_error, Activation::tanh, 3}};
  test::for_each_isa([&](Isa) {
    for (const Setting& setting : settings)
      for (std::size_t m : {1, 7, 37}) {
        CAPTURE(loss_name(setting.loss));
        CAPTURE(setting.rows);
        CAPTURE(m);
        MlpConfig<double> config;
        config.loss = setting.loss;
        config.output = setting.output;
        const auto z_values = test::uniform<double>(setting.rows * m, 40 + m, -30.0, 30.0);
        const auto y_values = test::uniform<double>(setting.rows * m, 50 + m, 0.0, 1.0);
        const Matrix<double> z_matrix = filled(setting.rows, m, z_values);
        Matrix<double> y_matrix(setting.rows, m);
        for (std::size_t i = 0; i < setting.rows; ++i)
          for (std::size_t j = 0; j < m; ++j)
            y_matrix(i, j) = setting.loss == Loss::binary_cross_entropy ? double((i + j) % 2)
                      : setting.loss == Loss::cross_entropy      ? double(i == j % setting.rows)
                                                                 : y_values[i * m + j];
        const MatrixView<const double> z = z_matrix.view(), y = y_matrix.view();
        std::vector<double> scratch, terms(m);
        const double expected = detail::output_loss(config, z, y, MatrixView<double>{}, scratch);
        detail::output_loss_terms(config, z, y, terms.data(), scratch);
        double total = 0;
        for (double t : terms) total += t;
        CHECK(std::abs(total / double(m) - expected) <= 1e-14 * std::abs(expected));
        // Each term is that example's loss alone: columns do not interact.
        for (std::size_t j = 0; j < m; ++j) {
          const MatrixView<const double> zj{z.data + j, setting.rows, 1, z.ld}, yj{y.data + j, setting.rows, 1, y.ld};
          const double alone = detail::output_loss(config, zj, yj, MatrixView<double>{}, scratch);
          CHECK(std::abs(terms[j] - alone) <= 1e-14 * std::abs(alone));
        }
      }
  });
}
