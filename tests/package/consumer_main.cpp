// A consumer program: links mlpkit::mlpkit, calls a dispatched kernel and checks its result.
#include <mlpkit/mlpkit.hpp>

#include <cstdio>
#include <vector>

int main() {
  const std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> y(x.size(), 2.0F);
  const float result = mlpkit::dot(x.data(), y.data(), x.size());
  mlpkit::Matrix<double> m(3, 3);
  std::printf("mlpkit %s on %s: dot = %g\n", std::string(mlpkit::version()).c_str(),
              std::string(mlpkit::active_isa()).c_str(), static_cast<double>(result));
  return result == 90.0F && m.ld() >= 3 ? 0 : 1;
}
