// check_hvp: a Hessian–vector product H·v against differences of the gradient along v,
// (∇J(θ + h·v) − ∇J(θ − h·v)) / 2h, every entry of H·v at once, in the scheme of the options. The
// report is check_vjp's over (entry, direction) pairs, with v in the place of W for the fits, so a
// missing (λ/m)·v reads as a missing L2 term.
#include <cmath>
#include <limits>
#include <sstream>

#include "gradcheck/gradcheck_internal.hpp"
#include "mlpkit/hessian.hpp"
#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit::detail {
namespace {

constexpr const char* kFunction = "check_hvp";

/** Throws unless grad_f returned n finite values; `where` says at which point (direction k, step h). */
void check_gradient(const std::vector<double>& g, std::size_t n, const char* where, std::size_t k, double h) {
  const bool at_theta = where[0] == '\0';
  const std::string point = at_theta ? std::string("θ") : concat("θ ", where, " h·v (direction ", k, ", h = ", h, ")");
  if (g.size() != n) fail(kFunction, "grad_f returned ", g.size(), " entries at ", point, " but θ has ", n);
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(g[i]))
      fail(kFunction, "grad_f returned a non-finite entry ", i, " (", g[i], ") at ", point,
           ": the numeric derivative there is meaningless");
}

/** What the differences of the gradient give, per pair (i, k) = i·K + k. */
struct Numeric {
  std::vector<double> value, rounding, bound;
};

/**
 * The central differences d[(k·S + s)·n + i] of ∇J along direction k at step s (S = scheme_steps),
 * with their rounding bounds; one work item per (direction, step), two calls of grad_f each.
 */
void gradient_differences(const GradientFunction& grad, std::span<const double> theta,
                          std::span<const double> directions, std::size_t count, const GradcheckOptions& options,
                          std::vector<double>& d, std::vector<double>& rounding) {
  const std::size_t n = theta.size(), steps = scheme_steps(options.scheme);
  d.assign(count * steps * n, 0.0);
  rounding.assign(count * steps * n, 0.0);
  const double first = steps == 1 ? options.eps : options.initial_step;
  parallel_for(
      count * steps, 1e6,
      [&](std::size_t item) {
        const std::size_t k = item / steps, s = item % steps;
        const double h = first / std::pow(step_ratio(options.scheme), static_cast<double>(s));
        const double* v = directions.data() + k * n;
        std::vector<double> x(n);
        for (std::size_t i = 0; i < n; ++i) x[i] = theta[i] + h * v[i];
        const std::vector<double> plus = grad(x);
        for (std::size_t i = 0; i < n; ++i) x[i] = theta[i] - h * v[i];
        const std::vector<double> minus = grad(x);
        check_gradient(plus, n, "+", k, h);
        check_gradient(minus, n, "−", k, h);
        double* out = d.data() + item * n;
        double* err = rounding.data() + item * n;
        for (std::size_t i = 0; i < n; ++i) {
          out[i] = (plus[i] - minus[i]) / (2 * h);
          err[i] = rounding_bound(plus[i], minus[i], 2 * h);
        }
      },
      Schedule::balanced);
}

/** Each pair's numeric value: the central difference, or the extrapolation over the S steps. */
Numeric numeric_pairs(std::span<const double> d, std::span<const double> rounding, std::size_t n, std::size_t count,
                      DifferenceScheme scheme) {
  const std::size_t steps = scheme_steps(scheme);
  Numeric out;
  out.value.resize(n * count);
  out.rounding.resize(n * count);
  out.bound.assign(n * count, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> column(steps);
  for (std::size_t k = 0; k < count; ++k)
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t pair = i * count + k, finest = (k * steps + steps - 1) * n + i;
      out.rounding[pair] = rounding[finest];  // the finest step's bound, the largest
      if (steps == 1) {
        out.value[pair] = d[finest];
        continue;
      }
      for (std::size_t s = 0; s < steps; ++s) column[s] = d[(k * steps + s) * n + i];
      const Extrapolated e = extrapolate(column, scheme);
      out.value[pair] = e.value;
      out.bound[pair] = e.error + rounding[finest];
    }
  return out;
}

/** analytic[i·K + k] = hvp(θ, vₖ)[i], and w[i·K + k] = vₖ[i] (what the fits take for W). */
void analytic_pairs(const HvpFunction& hvp, std::span<const double> theta, std::span<const double> directions,
                    std::size_t count, std::vector<double>& analytic, std::vector<double>& w) {
  const std::size_t n = theta.size();
  analytic.resize(n * count);
  w.resize(n * count);
  for (std::size_t k = 0; k < count; ++k) {
    const std::span<const double> v = directions.subspan(k * n, n);
    const std::vector<double> hv = hvp(theta, v);
    if (hv.size() != n) fail(kFunction, "hvp returned ", hv.size(), " entries but θ has ", n, " (direction ", k, ")");
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(hv[i]))
        fail(kFunction, "hvp returned a non-finite value (", hv[i], ") at entry ", i, " for direction ", k);
      analytic[i * count + k] = hv[i];
      w[i * count + k] = v[i];
    }
  }
}

/** Diagnoses in the words of a Hessian–vector product: the fits' W is the direction v here. */
void reword_diagnoses(GradcheckReport& report) {
  for (TensorCheck& t : report.tensors) {
    std::ostringstream out;
    out.precision(4);
    if (t.fingerprint == Fingerprint::missing_l2) {
      out << "H·v of " << t.name << " lacks the L2 term: analytic ≈ numeric − " << -t.fit_beta << "·v (add (λ/m)·v)";
    } else if (t.fingerprint == Fingerprint::l2_mismatch) {
      out << "H·v of " << t.name << " has a wrong L2 term: analytic ≈ numeric + " << t.fit_beta << "·v";
    } else if (t.fingerprint == Fingerprint::upstream) {
      out << t.diagnosis << "; in the R-pass, also its second derivative";
    } else {
      continue;
    }
    t.diagnosis = out.str();
  }
}

void check_arguments(const GradientFunction& grad, std::span<const double> theta, const HvpFunction& hvp,
                     std::span<const TensorInfo> layout, const GradcheckOptions& options) {
  if (!grad) fail(kFunction, "grad_f is empty");
  if (!hvp) fail(kFunction, "hvp is empty");
  check_options(kFunction, options);
  if (options.mode != GradcheckMode::full)
    fail(kFunction, "options.mode (", enum_name(kFunction, "options.mode", options.mode),
         ") is not supported: use full (every entry of H·v comes with each direction)");
  if (theta.empty()) fail(kFunction, "theta is empty");
  check_pointer(kFunction, "theta", theta.data(), theta.size());
  check_layout(kFunction, layout, theta.size());
}

}  // namespace
}  // namespace mlpkit::detail

namespace mlpkit {

GradcheckReport check_hvp(const GradientFunction& grad_f, std::span<const double> theta, const HvpFunction& hvp,
                          std::span<const TensorInfo> layout, const GradcheckOptions& options) {
  using namespace detail;
  check_arguments(grad_f, theta, hvp, layout, options);
  ThreadLimit limit(options.threads);
  const std::size_t n = theta.size();
  const std::vector<double> g0 = grad_f(theta);
  check_gradient(g0, n, "", 0, 0);
  if (grad_f(theta) != g0) fail(kFunction, "grad_f returned two different gradients at the same θ: it must be deterministic");
  const bool units = n <= options.unit_cotangents_up_to;
  const std::size_t count = options.directions + (units ? n : 0);
  if (count == 0) fail(kFunction, "options.directions is 0 and θ has more than options.unit_cotangents_up_to entries");
  checked_array_bytes(kFunction, "the (entry, direction) pairs", checked_mul(kFunction, "the pairs", n, count),
                      sizeof(double));
  std::vector<double> directions = make_cotangents(n, options.directions, units, options.seed);

  std::vector<double> analytic, w, d, rounding;
  analytic_pairs(hvp, theta, directions, count, analytic, w);
  gradient_differences(grad_f, theta, directions, count, options, d, rounding);
  Numeric numeric = numeric_pairs(d, rounding, n, count, options.scheme);

  GradcheckReport report;
  report.mode = GradcheckMode::full;
  report.scheme = options.scheme;
  report.eps = options.scheme == DifferenceScheme::central ? options.eps : options.initial_step;
  report.checked = report.total = n * count;
  report.coverage = 1;
  report.evaluations = 2 + 2 * scheme_steps(options.scheme) * count;
  const std::vector<unsigned char> kink(n * count, 0);
  const std::vector<TensorInfo> pairs = pair_layout(layout, n, count, "theta");
  fill_report(report, w, analytic, numeric.value, numeric.rounding, kink, pairs, options);
  if (options.scheme != DifferenceScheme::central) {
    fill_agreement(report, analytic, numeric.value, numeric.bound, kink, options);
    report.numeric_error_bound = std::move(numeric.bound);
  }
  report.numeric_gradient = std::move(numeric.value);
  to_input_coordinates(report, layout, count);
  reword_diagnoses(report);
  report.cotangents = count;
  report.outputs = n;
  report.cotangent_values = std::move(directions);
  return report;
}

GradcheckReport check_hvp(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                          const GradcheckOptions& options) {
  constexpr const char* fn = "check_hvp";
  const auto& dims = net.config().dims;
  detail::check_pointer(fn, "x", x.data, x.rows * x.cols);
  detail::check_pointer(fn, "y", y.data, y.rows * y.cols);
  if (x.rows != dims.front() || y.rows != dims.back() || x.cols != y.cols || x.cols == 0)
    detail::fail(fn, "x (", x.rows, " × ", x.cols, ") and y (", y.rows, " × ", y.cols, ") must be ", dims.front(),
                 " × m and ", dims.back(), " × m with m ≥ 1");
  const Accuracy tier = options.model_accuracy ? net.config().accuracy : Accuracy::precise;
  const Mlp<double> model(net, tier);
  const GradientFunction grad = [&](std::span<const double> theta) {
    Mlp<double> copy(model);
    std::copy(theta.begin(), theta.end(), copy.parameters().begin());
    copy.forward_backward(x, y);
    return std::vector<double>(copy.gradients().begin(), copy.gradients().end());
  };
  const HvpFunction hvp = [&](std::span<const double>, std::span<const double> v) {
    std::vector<double> hv(v.size());
    hessian_vector_product(model, x, y, v, std::span<double>(hv));
    return hv;
  };
  GradcheckOptions inner = options;
  inner.batch_size = x.cols;
  inner.l2_over_m = net.config().l2 / static_cast<double>(x.cols);
  const std::vector<TensorInfo> layout = net.tensors();
  GradcheckReport report = check_hvp(grad, model.parameters(), hvp, layout, inner);
  report.model_accuracy = net.config().accuracy;
  report.evaluated_accuracy = tier;
  return report;
}

}  // namespace mlpkit
