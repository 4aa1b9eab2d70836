// Directional mode's fast path on an Mlp (mlp_line.cpp: many steps of a probe as columns of one
// pass from the probe's first layer) against the simple path (a stepped copy of θ through a full
// evaluation): the same J along any probe, aligned to rows or not, and the same reports.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gradcheck/directional_internal.hpp"
#include "gradcheck/mlp_evaluators.hpp"
#include "mlp_test_support.hpp"
#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"

using namespace mlpkit;

namespace {

using LineCase = test::NetworkCase<double>;

LineCase make_line_case(const test::LossCase& loss, Activation hidden, std::vector<std::size_t> dims, std::size_t m,
                        double l2, double keep_prob) {
  MlpConfig<double> config = test::make_config<double>(loss, hidden, dims);
  config.l2 = l2;
  config.keep_prob = keep_prob;
  return test::network_case(config, loss, m, 11, 12);
}

/** Probes of every shape: whole, per tensor, and slices that start and end inside rows and layers. */
std::vector<detail::Probe> probes_for(const Mlp<double>& net, const detail::Direction& v) {
  const std::size_t n = net.parameter_count();
  std::vector<detail::Probe> probes{{0, n, 1.0}, detail::unit_probe(v, 3, n - 5), detail::unit_probe(v, n - 2, n)};
  for (const TensorInfo& t : net.tensors()) {
    probes.push_back(detail::unit_probe(v, t.offset, t.offset + t.rows * t.cols));
    if (t.rows * t.cols > 4) probes.push_back(detail::unit_probe(v, t.offset + 1, t.offset + t.rows * t.cols - 2));
  }
  const std::vector<TensorInfo> layout = net.tensors();  // W1 b1 W2 …: W1's last row and b1's first entries
  probes.push_back(detail::unit_probe(v, layout[1].offset - 2, layout[1].offset + 2));
  probes.push_back(detail::unit_probe(v, layout[1].offset + 1, layout[2].offset + layout[2].cols + 1));
  return probes;
}

}  // namespace

TEST_CASE("directional fast path: J along any probe as the simple path computes it, for every loss, "
          "activation, L2 and dropout") {
  const std::vector<double> steps{1e-3, -1e-3, 0.1, -0.25, 1e-7};
  for (const test::LossCase& loss : test::kLossCases)
    for (const Activation hidden : {Activation::relu, Activation::tanh, Activation::gelu})
      for (const double keep_prob : {1.0, 0.7}) {
        const LineCase c = make_line_case(loss, hidden, {5, 9, 7}, 6, 0.2, keep_prob);
        INFO(std::string(loss.name) << " " << activation_name(hidden) << " keep " << keep_prob);
        const detail::IncrementalMlpEvaluator evaluator(c.net, c.x.view(), c.y.view(), 1e-6);
        const std::size_t n = c.net.parameter_count();
        const std::vector<detail::Direction> directions{{41, 1 / std::sqrt(static_cast<double>(n))},
                                                        {42, 1 / std::sqrt(static_cast<double>(n))}};
        const auto fast = evaluator.line_evaluator(c.gradient, directions);
        REQUIRE(fast != nullptr);
        const double j0 = evaluator.value();
        const auto simple = detail::point_line_evaluator(evaluator, j0, c.net.parameters(), c.gradient, directions);
        CHECK(std::abs(fast->origin() - j0) <= 1e-14 * std::abs(j0));
        for (std::size_t d = 0; d < directions.size(); ++d)
          for (const detail::Probe& probe : probes_for(c.net, directions[d])) {
            INFO("direction " << d << " probe [" << probe.begin << ", " << probe.end << ")");
            std::vector<double> fv(steps.size()), fl(steps.size()), sv(steps.size()), sl(steps.size());
            fast->evaluate(d, probe, steps, fv, fl);
            simple->evaluate(d, probe, steps, sv, sl);
            for (std::size_t k = 0; k < steps.size(); ++k) {
              // The simple path steps θ as rounded (ulp(θᵢ)), the fast one exactly: J differs by O(u·|J|).
              CHECK(std::abs(fv[k] - sv[k]) <= 1e-13 * (1 + std::abs(sv[k])));
              // The linear terms: the same up to dθ·(the rounding of the simple path's step), ~1e-16·‖dθ‖₁.
              CHECK(std::abs(fl[k] - sl[k]) <= 1e-13 * std::abs(sl[k]) + 1e-14);
            }
            // Steps of opposite sign move J in opposite directions by about the linear term: the
            // probe really moves the parameters it names.
            CHECK(std::abs((fv[0] - fv[1]) - (fl[0] - fl[1])) <= 1e-4 * (1e-9 + std::abs(fl[0] - fl[1])) + 1e-11);
          }
      }
}

TEST_CASE("directional fast path: the same figures, verdicts and localized rows as the simple path") {
  for (const bool planted : {false, true}) {
    const LineCase c = make_line_case(test::kLossCases[2], Activation::tanh, {6, 10, 8}, 9, 0.1, 1.0);
    std::vector<double> g = c.gradient;
    if (planted) {
      const TensorInfo w2 = c.net.tensors()[2];
      for (std::size_t q = 0; q < w2.cols; ++q) g[w2.offset + 3 * w2.cols + q] *= 1.5;  // row 3 of W2
    }
    GradcheckOptions options;
    options.mode = GradcheckMode::directional;
    options.directions = 6;
    const GradcheckReport fast = gradcheck(c.net, c.x.view(), c.y.view(), g, options);
    options.evaluator = GradcheckEvaluator::naive;
    const GradcheckReport simple = gradcheck(c.net, c.x.view(), c.y.view(), g, options);
    INFO("planted " << planted);
    CHECK(fast.verdict == simple.verdict);
    CHECK(fast.evaluations == simple.evaluations);
    REQUIRE(fast.directional_numeric.size() == simple.directional_numeric.size());
    for (std::size_t d = 0; d < fast.directional_numeric.size(); ++d) {
      CHECK(fast.directional_numeric[d] == doctest::Approx(simple.directional_numeric[d]).epsilon(1e-7));
      // The simple path's analytic side is dθ·(θ ± εw as rounded − θ)/2ε: ulp(θᵢ)/ε ≈ 1e-10 off per entry.
      CHECK(fast.directional_analytic[d] == doctest::Approx(simple.directional_analytic[d]).epsilon(1e-8));
    }
    REQUIRE(fast.tensors.size() == simple.tensors.size());
    for (std::size_t t = 0; t < fast.tensors.size(); ++t) {
      CHECK(fast.tensors[t].verdict == simple.tensors[t].verdict);
      CHECK(fast.tensors[t].suspect_row_begin == simple.tensors[t].suspect_row_begin);
      CHECK(fast.tensors[t].suspect_row_end == simple.tensors[t].suspect_row_end);
    }
    if (planted) CHECK(fast.tensors[2].suspect_row_begin == 3);
    CHECK(std::abs(fast.taylor.slope - simple.taylor.slope) <= 0.02);
  }
}
