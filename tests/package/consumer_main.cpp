// A consumer program: links mlpkit::mlpkit and uses the public API contract of DESIGN.md (a
// dispatched kernel, gemm with its fused epilogue, an Mlp and its gradient check), checking results.
#include <mlpkit/mlpkit.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

int main() {
  const std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> y(x.size(), 2.0F);
  const float dot = mlpkit::dot(x.data(), y.data(), x.size());

  // C = relu(A·B + bias): A = [[1, −2]], B = I, bias = [0.5] → [[1.5, 0]]
  mlpkit::Matrix<double> a(1, 2), b(2, 2), c(1, 2);
  a(0, 0) = 1, a(0, 1) = -2, b(0, 0) = 1, b(1, 1) = 1;
  const double bias[1] = {0.5};
  mlpkit::Epilogue<double> epilogue;
  epilogue.bias = bias;
  epilogue.activation = mlpkit::Activation::relu;
  mlpkit::gemm(mlpkit::Trans::no, mlpkit::Trans::no, 1.0, a.view(), b.view(), 0.0, c.view(), epilogue);

  mlpkit::MlpConfig<double> config;
  config.dims = {3, 4, 1};
  config.hidden = mlpkit::Activation::tanh;
  mlpkit::Mlp<double> net(config);
  mlpkit::Matrix<double> xs(3, 5), ys(1, 5);
  for (std::size_t j = 0; j < 5; ++j) {
    for (std::size_t i = 0; i < 3; ++i) xs(i, j) = std::sin(static_cast<double>(3 * j + i));
    ys(0, j) = static_cast<double>(j % 2);
  }
  const double cost = net.forward_backward(xs.view(), ys.view());
  const mlpkit::GradcheckReport report = mlpkit::gradcheck(net, xs.view(), ys.view());

  std::printf("mlpkit %s on %s: dot = %g, relu(A·B + b) = [%g, %g], J = %.4f, gradcheck %.2e (%s)\n",
              std::string(mlpkit::version()).c_str(), std::string(mlpkit::isa_name(mlpkit::current_isa())).c_str(),
              static_cast<double>(dot), c(0, 0), c(0, 1), cost, report.relative_error,
              report.verdict == mlpkit::Verdict::great ? "great" : "NOT great");
  const bool ok = dot == 90.0F && c(0, 0) == 1.5 && c(0, 1) == 0.0 && std::isfinite(cost) &&
                  report.verdict == mlpkit::Verdict::great && net.tensors().size() == 4;
  return ok ? 0 : 1;
}
