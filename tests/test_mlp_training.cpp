// The MLP model's initialization schemes and its trainer.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "mlp_test_support.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;
using namespace mlpkit::test;
using doctest::Contains;

TEST_CASE_TEMPLATE("every init scheme gives the variance it promises", T, float, double) {
  const std::size_t n_out = 300, n_in = 500;
  for (Init init : {Init::normal, Init::lecun, Init::xavier, Init::he, Init::xavier_uniform}) {
    CAPTURE(init_name(init));
    Matrix<T> w(n_out, n_in);
    init_weights(init, T(0.05), 9, 2, w.view());
    const double expected = init_stddev(init, n_in, n_out, 0.05);
    double sum = 0, squares = 0, largest = 0;
    for (std::size_t i = 0; i < n_out; ++i)
      for (std::size_t j = 0; j < n_in; ++j) {
        sum += double(w(i, j));
        squares += double(w(i, j)) * double(w(i, j));
        largest = std::max(largest, std::abs(double(w(i, j))));
      }
    const double n = static_cast<double>(n_out * n_in);
    const double mean = sum / n, variance = squares / n - mean * mean;
    // 150 000 draws: the sample variance is within ±1.2 % (4σ) of the true one, the mean within 4σ/√n.
    CHECK(variance == doctest::Approx(expected * expected).epsilon(0.012));
    CHECK(std::abs(mean) < 4 * expected / std::sqrt(n));
    if (init == Init::xavier_uniform) CHECK(largest <= std::sqrt(3.0) * expected);
    else CHECK(largest > 3.5 * expected);  // a normal has tails; a bounded distribution would not reach here
  }
  Matrix<T> w(5, 7);
  init_weights(Init::zeros, T(1), 1, 1, w.view());
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 7; ++j) CHECK(w(i, j) == T(0));
  CHECK(init_stddev(Init::he, 8, 3) == doctest::Approx(0.5));
  CHECK(init_stddev(Init::lecun, 4, 3) == doctest::Approx(0.5));
  CHECK(init_stddev(Init::xavier, 5, 3) == doctest::Approx(0.5));
}

// Initialization at every thread count: test_determinism.cpp.
TEST_CASE("initialization depends on seed and layer, and float is double rounded") {
  MlpConfig<double> config;
  config.dims = {70, 90, 60};
  config.multi_label = true;
  config.seed = 5;
  const auto parameters = [&](std::uint64_t seed) {
    auto c = config;
    c.seed = seed;
    const Mlp<double> net(c);
    return std::vector<double>(net.parameters().begin(), net.parameters().end());
  };
  const auto one = parameters(5);
  CHECK(parameters(5) == one);
  CHECK(parameters(6) != one);
  const Mlp<double> net(config);
  CHECK(net.weights(1)(0, 0) != net.weights(2)(0, 0));  // layers draw from different streams
  MlpConfig<float> float_config = convert_config<float>(config);
  const Mlp<float> float_net(float_config);
  for (std::size_t i = 0; i < one.size(); ++i) REQUIRE(float_net.parameters()[i] == static_cast<float>(one[i]));
}

TEST_CASE("zero initialization never breaks the symmetry between hidden units") {
  MlpConfig<double> config;
  config.dims = {2, 6, 1};
  config.init = Init::zeros;
  config.hidden = Activation::tanh;
  Mlp<double> net(config);
  const auto x = random_matrix<double>(2, 4, 1);
  const auto y = labels_for<double>(Loss::binary_cross_entropy, 1, 4, 2);
  TrainOptions options;
  options.epochs = 50;
  options.learning_rate = 0.5;
  train(net, x, y, options);
  const auto w1 = net.weights(1), w2 = net.weights(2);
  for (std::size_t i = 1; i < 6; ++i) {
    CHECK(w2(0, i) == w2(0, 0));
    for (std::size_t j = 0; j < 2; ++j) CHECK(w1(i, j) == w1(0, j));
  }
}

TEST_CASE("training reaches high accuracy on XOR and on two interleaved spirals") {
  // Thousands of tiny steps: one thread keeps it fast on a busy machine (threads are tested elsewhere).
  test::ScopedThreads one_thread(1);
  SUBCASE("XOR, full batch, every optimizer") {
    Matrix<double> x(2, 4), y(1, 4);
    for (std::size_t j = 0; j < 4; ++j) {
      x(0, j) = double(j & 1);
      x(1, j) = double(j >> 1);
      y(0, j) = double((j & 1) ^ (j >> 1));
    }
    for (Optimizer optimizer : {Optimizer::gradient_descent, Optimizer::momentum, Optimizer::adam}) {
      CAPTURE(optimizer_name(optimizer));
      MlpConfig<double> config;
      config.dims = {2, 8, 1};
      config.hidden = Activation::tanh;
      config.init = Init::xavier;
      config.seed = 1;
      Mlp<double> net(config);
      TrainOptions options;
      options.optimizer = optimizer;
      options.learning_rate = optimizer == Optimizer::adam ? 0.05 : 0.5;
      options.epochs = 1500;
      const TrainResult result = train(net, x, y, options);
      REQUIRE(result.epoch_loss.size() == 1500);
      CHECK(result.epoch_loss.back() < 0.05 * result.epoch_loss.front());
      const Matrix<double> p = net.predict(x);
      for (std::size_t j = 0; j < 4; ++j) CHECK((p(0, j) > 0.5) == (y(0, j) == 1.0));
    }
  }
  SUBCASE("two spirals, mini-batches, Adam, softmax, dropout") {
    const std::size_t per_class = 150, m = 2 * per_class;
    Matrix<float> x(2, m), y(2, m);
    for (std::size_t k = 0; k < per_class; ++k)
      for (std::size_t c = 0; c < 2; ++c) {
        const double t = 0.25 + 3.0 * static_cast<double>(k) / per_class;  // 1.5 turns
        const double angle = 2.0 * 3.141592653589793 * t * 0.5 + 3.141592653589793 * static_cast<double>(c);
        const std::size_t j = 2 * k + c;
        x(0, j) = static_cast<float>(t * std::cos(angle));
        x(1, j) = static_cast<float>(t * std::sin(angle));
        y(c, j) = 1;
      }
    MlpConfig<float> config;
    config.dims = {2, 48, 48, 2};
    config.loss = Loss::cross_entropy;
    config.output = Activation::identity;
    config.keep_prob = 0.95f;
    config.seed = 3;
    Mlp<float> net(config);
    const TrainResult result = train(net, x, y, test::adam(0.02, 100, 32));
    CHECK(result.iterations == 100 * 10);
    CHECK(net.step() == result.iterations);
    const Matrix<float> p = net.predict(x);
    std::size_t correct = 0;
    for (std::size_t j = 0; j < m; ++j) correct += (p(1, j) > p(0, j)) == (y(1, j) == 1);
    CHECK(static_cast<double>(correct) / m >= 0.97);
  }
}

namespace {

/** data/breast_cancer.csv: a header `examples,features,…`, then rows of features and a 0/1 label. */
struct BreastCancer {
  Matrix<float> x_train, y_train, x_test, y_test;
};

BreastCancer load_breast_cancer() {
  std::ifstream in(std::string(MLPKIT_TEST_DATA_DIR) + "/breast_cancer.csv");
  REQUIRE(in);
  std::string line;
  std::getline(in, line);
  std::vector<std::vector<float>> rows;
  while (std::getline(in, line)) {
    std::vector<float> row;
    std::stringstream fields(line);
    for (std::string field; std::getline(fields, field, ',');) row.push_back(std::stof(field));
    rows.push_back(row);
  }
  REQUIRE(rows.size() == 569);
  const std::size_t features = rows[0].size() - 1, m = rows.size(), m_test = (m + 4) / 5;
  BreastCancer data{Matrix<float>(features, m - m_test), Matrix<float>(1, m - m_test), Matrix<float>(features, m_test),
                    Matrix<float>(1, m_test)};
  // Every fifth example is held out for testing.
  for (std::size_t j = 0, train = 0, test = 0; j < m; ++j) {
    const bool held_out = j % 5 == 0;
    Matrix<float>& x = held_out ? data.x_test : data.x_train;
    Matrix<float>& y = held_out ? data.y_test : data.y_train;
    const std::size_t column = held_out ? test++ : train++;
    for (std::size_t i = 0; i < features; ++i) x(i, column) = rows[j][i];
    y(0, column) = rows[j][features];
  }
  // Standardized with the training set's mean and variance, the test set reusing them.
  Standardizer<float> standardizer;
  standardizer.fit(std::as_const(data.x_train).view());
  standardizer.transform(std::as_const(data.x_train).view(), data.x_train.view());
  standardizer.transform(std::as_const(data.x_test).view(), data.x_test.view());
  return data;
}

double test_accuracy(const Mlp<float>& net, const BreastCancer& data) {
  const Matrix<float> p = net.predict(data.x_test);
  std::size_t correct = 0;
  for (std::size_t j = 0; j < p.cols(); ++j) correct += (p(0, j) > 0.5F) == (data.y_test(0, j) == 1.0F);
  return static_cast<double>(correct) / static_cast<double>(p.cols());
}

}  // namespace

TEST_CASE("a model trained with fast activations reaches the precise model's test accuracy on the breast-cancer data") {
  test::ScopedThreads one_thread(1);
  const BreastCancer data = load_breast_cancer();
  double accuracy[2] = {};
  for (Accuracy tier : {Accuracy::precise, Accuracy::fast}) {
    // relu is exact in both tiers: tanh and the sigmoid output are not.
    MlpConfig<float> config = test::tanh_classifier<float>({data.x_train.rows(), 16, 8, 1}, 0.01F, 7);
    config.accuracy = tier;
    Mlp<float> net(config);
    TrainOptions options = test::adam(0.01, 100, 64);
    options.seed = 7;
    train(net, std::as_const(data.x_train).view(), std::as_const(data.y_train).view(), options);
    accuracy[static_cast<int>(tier)] = test_accuracy(net, data);
    MESSAGE("breast cancer test accuracy, " << accuracy_name(tier) << ": " << 100 * accuracy[static_cast<int>(tier)]
                                            << " %");
  }
  CHECK(accuracy[0] >= 0.95);
  CHECK(std::abs(accuracy[1] - accuracy[0]) <= 0.005);
}

// At every thread count: test_determinism.cpp.
TEST_CASE("training is reproducible from the seeds") {
  const auto run = [] {
    MlpConfig<double> config;
    config.dims = {3, 16, 1};
    config.keep_prob = 0.8;
    Mlp<double> net(config);
    const auto x = random_matrix<double>(3, 50, 1);
    const auto y = labels_for<double>(Loss::binary_cross_entropy, 1, 50, 2);
    TrainOptions options;
    options.optimizer = Optimizer::momentum;
    options.batch_size = 16;
    options.epochs = 5;
    return train(net, x, y, options).iteration_loss;
  };
  const auto once = run();
  CHECK(once.size() == 20);
  CHECK(run() == once);
}

