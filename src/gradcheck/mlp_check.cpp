// gradcheck for an Mlp: the analytic gradient from forward_backward (or the caller), the numeric one
// from the incremental (default) or naive evaluator; a float model is checked against a double copy.
#include <algorithm>
#include <vector>

#include "gradcheck/gradcheck_internal.hpp"
#include "gradcheck/mlp_evaluators.hpp"
#include "mlpkit/mlp.hpp"
#include "runtime/checks.hpp"

namespace mlpkit {
namespace {

constexpr const char* kFunction = "gradcheck";

template <class T>
void check_data(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y) {
  detail::check_view(kFunction, "x", x);
  detail::check_view(kFunction, "y", y);
  const auto& dims = net.config().dims;
  if (x.rows != dims.front())
    detail::fail(kFunction, "x has ", x.rows, " rows but the model has n[0] = ", dims.front(), " inputs (examples are columns)");
  if (x.cols == 0) detail::fail(kFunction, "x has 0 columns: a batch needs at least one example");
  detail::check_shape(kFunction, "y", y, dims.back(), x.cols);
}

GradcheckOptions with_model_facts(const Mlp<double>& net, std::size_t m, GradcheckOptions options) {
  if (options.batch_size == 0) options.batch_size = m;
  if (options.l2_over_m == 0) options.l2_over_m = net.config().l2 / static_cast<double>(m);
  if (options.keep_prob == 0) options.keep_prob = net.config().keep_prob;
  return options;
}

}  // namespace

namespace detail {

Accuracy evaluated_accuracy(Accuracy model, const GradcheckOptions& options) {
  return options.model_accuracy ? model : Accuracy::precise;
}

void record_accuracy(GradcheckReport& report, const Mlp<double>& net, const GradcheckOptions& options) {
  report.model_accuracy = net.config().accuracy;
  report.evaluated_accuracy = evaluated_accuracy(net.config().accuracy, options);
}

MlpCheck prepare_mlp_check(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                           const std::span<const double>* analytic, const GradcheckOptions& options) {
  check_data(net, x, y);
  check_options(kFunction, options);
  MlpCheck check;
  const Accuracy tier = evaluated_accuracy(net.config().accuracy, options);
  if (tier != net.config().accuracy) check.in_tier = std::make_unique<Mlp<double>>(net, tier);
  const Mlp<double>& evaluated = check.in_tier ? *check.in_tier : net;
  if (analytic == nullptr) {
    Mlp<double> copy = evaluated;
    copy.forward_backward(x, y);
    check.own_analytic.assign(copy.gradients().begin(), copy.gradients().end());
    check.analytic = check.own_analytic;
  } else {
    check.analytic = *analytic;
  }
  if (check.analytic.size() != net.parameter_count())
    fail(kFunction, "analytic_gradient has ", check.analytic.size(), " entries but the model has ",
         net.parameter_count(), " parameters");
  check.options = with_model_facts(net, x.cols, options);
  check.options.threads = 0;
  check.layout = net.tensors();
  // Directional mode: the incremental evaluator's cached pass serves its line evaluator (mlp_line.cpp);
  // the naive one steps copies of θ through full evaluations.
  if (options.evaluator == GradcheckEvaluator::naive)
    check.evaluator = std::make_unique<NaiveMlpEvaluator>(evaluated, x, y, options.eps);
  else
    check.evaluator = std::make_unique<IncrementalMlpEvaluator>(evaluated, x, y, options.eps);
  return check;
}

}  // namespace detail

GradcheckReport gradcheck(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                          std::span<const double> analytic_gradient, const GradcheckOptions& options) {
  detail::ThreadLimit limit(options.threads);  // before the evaluators size their per-thread scratch
  const detail::MlpCheck check = detail::prepare_mlp_check(net, x, y, &analytic_gradient, options);
  GradcheckReport report = detail::run_gradcheck(kFunction, *check.evaluator, net.parameters(), check.analytic,
                                                 check.layout, check.options);
  detail::fingerprint_mlp_hypotheses(report, check.in_tier ? *check.in_tier : net, x, y, check.analytic);
  detail::record_accuracy(report, net, options);
  return report;
}

GradcheckReport gradcheck(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                          const GradcheckOptions& options) {
  check_data(net, x, y);
  Mlp<double> copy(net, detail::evaluated_accuracy(net.config().accuracy, options));
  copy.forward_backward(x, y);
  return gradcheck(net, x, y, copy.gradients(), options);
}

GradcheckReport gradcheck(const Mlp<float>& net, MatrixView<const float> x, MatrixView<const float> y,
                          const GradcheckOptions& options) {
  check_data(net, x, y);
  Mlp<float> copy(net, detail::evaluated_accuracy(net.config().accuracy, options));
  copy.forward_backward(x, y);
  const std::vector<double> analytic(copy.gradients().begin(), copy.gradients().end());

  const Mlp<double> twin(net);
  auto widen = [](MatrixView<const float> v) {
    Matrix<double> out(v.rows, v.cols);
    for (std::size_t r = 0; r < v.rows; ++r) std::copy(v.row(r), v.row(r) + v.cols, &out(r, 0));
    return out;
  };
  const Matrix<double> xd = widen(x), yd = widen(y);
  GradcheckOptions float_options = options;
  const GradcheckOptions defaults;
  // float's analytic side carries ~1e-7 relative rounding per operation: the double bands would
  // call every correct float model suspicious.
  if (options.great_below == defaults.great_below && options.wrong_from == defaults.wrong_from) {
    float_options.great_below = 1e-4;
    float_options.wrong_from = 1e-2;
  }
  if (options.analytic_roundoff == defaults.analytic_roundoff) float_options.analytic_roundoff = 0x1p-24;
  return gradcheck(twin, xd.view(), yd.view(), analytic, float_options);
}

}  // namespace mlpkit
