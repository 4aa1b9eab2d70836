// gradcheck for any J: Rⁿ → R. Each thread owns a copy of θ, perturbs one entry, evaluates f,
// and restores it, so f never sees another thread's perturbation.
#include <algorithm>
#include <cmath>

#include "gradcheck/gradcheck_internal.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {
namespace {

constexpr const char* kFunction = "gradcheck";

class FunctionEvaluator final : public LossEvaluator {
 public:
  FunctionEvaluator(const std::function<double(std::span<const double>)>& f, std::span<const double> theta,
                    double eps)
      : f_(f), theta_(theta), eps_(eps), copies_(thread_slots()) {}

  std::size_t size() const override { return theta_.size(); }
  double value() const override { return f_(theta_); }

  double eps() const override { return eps_; }
  void differences_at(double step, std::span<const std::size_t> indices, std::span<double> numeric,
                      std::span<double> rounding, std::span<unsigned char> kink) const override {
    std::vector<double>& x = copy();
    for (std::size_t k = 0; k < indices.size(); ++k) {
      const std::size_t i = indices[k];
      const Steps h = steps_for(kFunction, theta_[i], step, i);
      // dθ_approx[i] = (J(θ + h⁺eᵢ) − J(θ − h⁻eᵢ)) / (h⁺ + h⁻), with the steps actually taken
      x[i] = theta_[i] + step;
      const double plus = f_(x);
      x[i] = theta_[i] - step;
      const double minus = f_(x);
      x[i] = theta_[i];
      check_finite_value(kFunction, plus, i, " + ");
      check_finite_value(kFunction, minus, i, " − ");
      numeric[k] = (plus - minus) / (h.plus + h.minus);
      rounding[k] = rounding_bound(plus, minus, h.plus + h.minus);
      kink[k] = 0;
    }
  }

  double at(std::span<const double> point) const override { return f_(point); }

  std::size_t batch() const override { return 4; }
  double work_per_parameter() const override { return 1e6; }  // unknown f: assume it is worth a thread

 private:
  /** This thread's copy of θ, made on first use and always restored after a perturbation. */
  std::vector<double>& copy() const {
    std::vector<double>& x = copies_[thread_slot()];
    if (x.size() != theta_.size()) x.assign(theta_.begin(), theta_.end());
    return x;
  }

  const std::function<double(std::span<const double>)>& f_;
  std::span<const double> theta_;
  double eps_;
  mutable std::vector<std::vector<double>> copies_;
};

}  // namespace

std::unique_ptr<LossEvaluator> function_evaluator(const char* function,
                                                  const std::function<double(std::span<const double>)>& f,
                                                  std::span<const double> theta,
                                                  std::span<const double> analytic_gradient,
                                                  const GradcheckOptions& options) {
  if (!f) fail(function, "f is empty");
  check_options(function, options);
  check_pointer(function, "theta", theta.data(), theta.size());
  check_pointer(function, "analytic_gradient", analytic_gradient.data(), analytic_gradient.size());
  return std::make_unique<FunctionEvaluator>(f, theta, options.eps);
}

}  // namespace mlpkit::detail

namespace mlpkit {

GradcheckReport gradcheck(const std::function<double(std::span<const double>)>& f, std::span<const double> theta,
                          std::span<const double> analytic_gradient, std::span<const TensorInfo> layout,
                          const GradcheckOptions& options) {
  detail::ThreadLimit limit(options.threads);  // before the evaluator sizes its per-thread copies
  const auto evaluator = detail::function_evaluator("gradcheck", f, theta, analytic_gradient, options);
  GradcheckOptions inner = options;
  inner.threads = 0;
  return detail::run_gradcheck("gradcheck", *evaluator, theta, analytic_gradient, layout, inner);
}

}  // namespace mlpkit
