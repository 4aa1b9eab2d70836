// ONNX import (mlpkit::onnx): graphs as torch.onnx.export writes them, built here with the protobuf
// API, become the Mlp they describe — architecture, W and b (transposed where stored [n_in, n_out]),
// predict against a reference computed from the same numbers. (Bad graphs: test_errors.cpp rows
// 173–182; the cross-check against PyTorch itself: tests/cli/onnx_tests.py.)
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "mlpkit/onnx.hpp"
#include "onnx_builder.hpp"
#include "test_support.hpp"

using namespace mlpkit;
using namespace mlpkit::test;

namespace {

constexpr std::int64_t kIn = 3, kHidden = 4, kOut = 2;

std::vector<double> values(std::size_t n, double scale, double shift) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * std::sin(static_cast<double>(i) * 1.7 + shift);
  return v;
}

const std::vector<double> W1 = values(kHidden * kIn, 0.8, 0.3), B1 = values(kHidden, 0.2, 1.1);
const std::vector<double> W2 = values(kOut * kHidden, 0.9, 2.0), B2 = values(kOut, 0.1, 0.7);

// The reference: ŷ = out(W2·h(W1·x + b1) + b2) in double for the columns of x (kIn × m).
template <class H, class O>
std::vector<double> reference(const std::vector<double>& x, std::size_t m, H hidden, O output) {
  std::vector<double> y(kOut * m);
  for (std::size_t j = 0; j < m; ++j) {
    std::vector<double> h(kHidden), z(kOut);
    for (std::size_t r = 0; r < kHidden; ++r) {
      double s = B1[r];
      for (std::size_t c = 0; c < kIn; ++c) s += W1[r * kIn + c] * x[c * m + j];
      h[r] = hidden(s);
    }
    for (std::size_t r = 0; r < kOut; ++r) {
      z[r] = B2[r];
      for (std::size_t c = 0; c < kHidden; ++c) z[r] += W2[r * kHidden + c] * h[c];
    }
    output(z);
    for (std::size_t r = 0; r < kOut; ++r) y[r * m + j] = z[r];
  }
  return y;
}

template <class T>
void check_predict(const Model<T>& model, const std::vector<double>& expected, double tolerance) {
  constexpr std::size_t m = 5;
  Matrix<T> x(kIn, m);
  for (std::size_t i = 0; i < kIn; ++i)
    for (std::size_t j = 0; j < m; ++j) x(i, j) = static_cast<T>(static_cast<float>(std::cos(static_cast<double>(i * m + j)) * 2));
  const Matrix<T> y = model.predict(x.view());
  for (std::size_t i = 0; i < kOut; ++i)
    for (std::size_t j = 0; j < m; ++j) CHECK(std::abs(static_cast<double>(y(i, j)) - expected[i * m + j]) <= tolerance);
}

std::vector<double> test_inputs() {
  std::vector<double> x(kIn * 5);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(static_cast<float>(std::cos(static_cast<double>(i)) * 2));
  return x;
}

void softmax_in_place(std::vector<double>& z) {
  const double top = std::max(z[0], z[1]);
  double sum = 0;
  for (auto& v : z) sum += (v = std::exp(v - top));
  for (auto& v : z) v /= sum;
}

// W2 stored [kHidden, kOut] for Gemm with transB = 0 and for MatMul.
std::vector<double> transposed_w2() {
  std::vector<double> t(W2.size());
  for (std::size_t r = 0; r < kOut; ++r)
    for (std::size_t c = 0; c < kHidden; ++c) t[c * kOut + r] = W2[r * kHidden + c];
  return t;
}

}  // namespace

TEST_CASE("import_onnx reads Gemm + Relu + Gemm (transB = 0) + Softmax as a cross-entropy Mlp") {
  OnnxBuilder b(kIn);
  b.gemm("x", "z1", "l1", kHidden, kIn, W1, B1);
  b.node("Relu", {"z1"}, {"a1"});
  b.initializer("l2.W", {kHidden, kOut}, transposed_w2(), false);  // typed float_data, transB = 0
  b.initializer("l2.b", {1, kOut}, B2);
  b.node("Gemm", {"a1", "l2.W", "l2.b"}, {"z2"});
  OnnxBuilder::attribute(b.node("Softmax", {"z2"}, {"y"}), "axis", 1);
  b.output("y", kOut);
  const Model<float> model = import_onnx_bytes<float>(b.bytes());
  const auto& config = model.network().config();
  CHECK(config.dims == std::vector<std::size_t>{kIn, kHidden, kOut});
  CHECK(config.hidden == Activation::relu);
  CHECK(config.output == Activation::identity);
  CHECK(config.loss == Loss::cross_entropy);
  CHECK_FALSE(model.inputs().has_value());
  const auto w2 = model.network().weights(2);
  for (std::size_t r = 0; r < kOut; ++r)
    for (std::size_t c = 0; c < kHidden; ++c) CHECK(w2(r, c) == static_cast<float>(W2[r * kHidden + c]));
  const auto x = test_inputs();
  check_predict(model, reference(x, 5, [](double s) { return std::max(s, 0.0); }, softmax_in_place), 1e-6);
}

TEST_CASE("import_onnx reads MatMul + Add, the Erf GELU subgraph, a bias-free MatMul and Sigmoid (multi-label BCE)") {
  OnnxBuilder b(kIn);
  std::vector<double> w1t(W1.size());
  for (std::size_t r = 0; r < kHidden; ++r)
    for (std::size_t c = 0; c < kIn; ++c) w1t[c * kHidden + r] = W1[r * kIn + c];
  b.initializer("W1t", {kIn, kHidden}, w1t);
  b.initializer("b1", {kHidden}, B1);
  b.node("MatMul", {"x", "W1t"}, {"m1"});
  b.node("Add", {"b1", "m1"}, {"z1"});
  // torch's GELU at opset ≤ 17: Div(x, √2) → Erf → Add 1 → Mul x → Mul 0.5.
  b.scalar("sqrt2", std::numbers::sqrt2);
  b.scalar("one", 1);
  b.scalar("half", 0.5);
  b.node("Div", {"z1", "sqrt2"}, {"d"});
  b.node("Erf", {"d"}, {"e"});
  b.node("Add", {"e", "one"}, {"e1"});
  b.node("Mul", {"z1", "e1"}, {"p"});
  b.node("Mul", {"half", "p"}, {"a1"});
  b.initializer("W2t", {kHidden, kOut}, transposed_w2());
  b.node("MatMul", {"a1", "W2t"}, {"z2"});
  b.node("Sigmoid", {"z2"}, {"y"});
  b.output("y", kOut);
  const Model<float> model = import_onnx_bytes<float>(b.bytes());
  const auto& config = model.network().config();
  CHECK(config.hidden == Activation::gelu);
  CHECK(config.output == Activation::sigmoid);
  CHECK(config.loss == Loss::binary_cross_entropy);
  CHECK(config.multi_label);
  const auto b2 = model.network().bias(2);
  CHECK((b2(0, 0) == 0.0f && b2(1, 0) == 0.0f));
  const auto gelu = [](double s) { return 0.5 * s * (1 + std::erf(s / std::numbers::sqrt2)); };
  const auto sigmoid = [](std::vector<double>& z) {
    for (auto& v : z) v = 1 / (1 + std::exp(-v));
  };
  // b2 is absent: the reference uses B2 = 0.
  std::vector<double> x = test_inputs(), y = reference(x, 5, gelu, [](std::vector<double>&) {});
  for (std::size_t j = 0; j < 5; ++j) {
    std::vector<double> z{y[j] - B2[0], y[5 + j] - B2[1]};
    sigmoid(z);
    y[j] = z[0];
    y[5 + j] = z[1];
  }
  check_predict(model, y, 1e-6);
}

TEST_CASE("import_onnx reads torch's tanh GELU subgraph and a double graph, converting precision only when asked") {
  OnnxBuilder b(kIn, onnx::TensorProto_DataType_DOUBLE);
  b.gemm("x", "z1", "l1", kHidden, kIn, W1, B1);
  b.scalar("k", 0.044715);
  b.scalar("beta", std::sqrt(2 / std::numbers::pi));
  b.scalar("one", 1);
  b.scalar("half", 0.5);
  b.node("Mul", {"z1", "z1"}, {"sq"});
  b.node("Mul", {"z1", "sq"}, {"cube"});
  b.node("Mul", {"k", "cube"}, {"kc"});
  b.node("Add", {"z1", "kc"}, {"in"});
  b.node("Mul", {"beta", "in"}, {"bi"});
  b.node("Tanh", {"bi"}, {"t"});
  b.node("Add", {"one", "t"}, {"t1"});
  b.node("Mul", {"z1", "t1"}, {"p"});
  b.node("Mul", {"half", "p"}, {"a1"});
  b.gemm("a1", "y", "l2", kOut, kHidden, W2, B2);
  b.output("y", kOut);
  const std::string bytes = b.bytes();
  const Model<double> model = import_onnx_bytes<double>(bytes);
  CHECK(model.network().config().hidden == Activation::gelu_tanh);
  CHECK(model.network().config().loss == Loss::mean_squared_error);
  CHECK(model.network().config().output == Activation::identity);
  const auto gelu_tanh = [](double s) {
    return 0.5 * s * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (s + 0.044715 * s * s * s)));
  };
  check_predict(model, reference(test_inputs(), 5, gelu_tanh, [](std::vector<double>&) {}), 1e-12);
  // Without convert_precision it is refused: errors.md row 182, tested in test_errors.cpp.
  ModelLoadOptions convert;
  convert.convert_precision = true;
  const Model<float> narrowed = import_onnx_bytes<float>(bytes, convert);
  CHECK(narrowed.network().parameters()[0] == static_cast<float>(W1[0]));
}

TEST_CASE("import_onnx reads LeakyRelu's alpha into leaky_slope, and a one-layer graph") {
  OnnxBuilder b(kIn);
  b.gemm("x", "z1", "l1", kHidden, kIn, W1, B1);
  OnnxBuilder::attribute_f(b.node("LeakyRelu", {"z1"}, {"a1"}), "alpha", 0.25f);
  b.gemm("a1", "y", "l2", kOut, kHidden, W2, B2);
  b.output("y", kOut);
  const Model<float> model = import_onnx_bytes<float>(b.bytes());
  CHECK(model.network().config().hidden == Activation::leaky_relu);
  CHECK(model.network().config().leaky_slope == doctest::Approx(0.25));
  const auto leaky = [](double s) { return s < 0 ? 0.25 * s : s; };
  check_predict(model, reference(test_inputs(), 5, leaky, [](std::vector<double>&) {}), 1e-6);

  OnnxBuilder one(kIn);
  one.gemm("x", "y", "l1", kHidden, kIn, W1, B1);
  one.output("y", kHidden);
  const Model<double> single = import_onnx_bytes<double>(one.bytes(), ModelLoadOptions{false, true});
  CHECK(single.network().config().dims == std::vector<std::size_t>{kIn, kHidden});
}

namespace {

// skl2onnx's MLPClassifier network: Cast of the input, MatMul (coefficients stored [n_in, n_out]) +
// Add (intercepts [1, n_out]) per layer, Relu between, `last` (Softmax or Sigmoid) at the end, its
// output named "p". `outputs` is 2 (W2, B2) or 1 (W2's first row, B2's first entry).
void sklearn_network(OnnxBuilder& b, const char* last, std::size_t outputs) {
  std::vector<double> w1t(W1.size()), w2t(kHidden * outputs), b2(B2.begin(), B2.begin() + static_cast<std::ptrdiff_t>(outputs));
  for (std::size_t r = 0; r < kHidden; ++r)
    for (std::size_t c = 0; c < kIn; ++c) w1t[c * kHidden + r] = W1[r * kIn + c];
  for (std::size_t r = 0; r < outputs; ++r)
    for (std::size_t c = 0; c < kHidden; ++c) w2t[c * outputs + r] = W2[r * kHidden + c];
  OnnxBuilder::attribute(b.node("Cast", {"x"}, {"cast_input"}), "to", onnx::TensorProto_DataType_FLOAT);
  b.initializer("coefficient", {kIn, kHidden}, w1t);
  b.initializer("intercepts", {1, kHidden}, B1);
  b.node("MatMul", {"cast_input", "coefficient"}, {"mul_result"});
  b.node("Add", {"mul_result", "intercepts"}, {"add_result"});
  b.node("Relu", {"add_result"}, {"next_activations"});
  b.initializer("coefficient1", {kHidden, static_cast<std::int64_t>(outputs)}, w2t);
  b.initializer("intercepts1", {1, static_cast<std::int64_t>(outputs)}, b2);
  b.node("MatMul", {"next_activations", "coefficient1"}, {"mul_result1"});
  b.node("Add", {"mul_result1", "intercepts1"}, {"add_result1"});
  b.node(last, {"add_result1"}, {"p"});
}

}  // namespace

TEST_CASE("import_onnx reads a scikit-learn MLPClassifier as skl2onnx writes it: the network up to its probabilities") {
  const auto relu = [](double s) { return std::max(s, 0.0); };
  for (const bool zipmap : {true, false}) {
    INFO("zipmap = " << zipmap);
    OnnxBuilder b(kIn, onnx::TensorProto_DataType_FLOAT, 15);
    sklearn_network(b, "Softmax", kOut);
    b.sklearn_classifier_outputs("p", kOut, false, zipmap);
    const Model<float> model = import_onnx_bytes<float>(b.bytes());
    const auto& config = model.network().config();
    CHECK(config.dims == std::vector<std::size_t>{kIn, kHidden, kOut});
    CHECK(config.hidden == Activation::relu);
    CHECK(config.loss == Loss::cross_entropy);
    check_predict(model, reference(test_inputs(), 5, relu, softmax_in_place), 1e-6);
  }
  // Two classes: the network's one output p (the probability of the second class); the graph's
  // probabilities are [1 − p, p].
  OnnxBuilder b(kIn);
  sklearn_network(b, "Sigmoid", 1);
  b.sklearn_classifier_outputs("p", 2, true, true);
  const Model<float> model = import_onnx_bytes<float>(b.bytes());
  const auto& config = model.network().config();
  CHECK(config.dims == std::vector<std::size_t>{kIn, kHidden, 1});
  CHECK(config.output == Activation::sigmoid);
  CHECK(config.loss == Loss::binary_cross_entropy);
  const std::vector<double> x = test_inputs(), both = reference(x, 5, relu, [](std::vector<double>&) {});
  Matrix<float> xm(kIn, 5);
  for (std::size_t i = 0; i < kIn; ++i)
    for (std::size_t j = 0; j < 5; ++j) xm(i, j) = static_cast<float>(x[i * 5 + j]);
  const Matrix<float> p = model.predict(xm.view());
  for (std::size_t j = 0; j < 5; ++j) CHECK(std::abs(p(0, j) - 1 / (1 + std::exp(-both[j]))) <= 1e-6);
}
