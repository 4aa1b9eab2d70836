// The phases of gradcheck that mlpkit::mpi shards over ranks, tested in one process: a check run
// block by block (any cut into contiguous blocks, in any order) gives the report of gradcheck
// bitwise, and split_items cuts the items into blocks of about equal estimated cost.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "gradcheck/gradcheck_internal.hpp"
#include "gradcheck/mlp_evaluators.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

struct Problem {
  Mlp<double> net;
  Matrix<double> x, y;
};

Problem make_problem(std::vector<std::size_t> dims, std::size_t m) {
  MlpConfig<double> config;
  config.dims = std::move(dims);
  config.hidden = Activation::relu;
  config.output = Activation::sigmoid;
  config.loss = Loss::binary_cross_entropy;
  config.init = Init::he;
  config.seed = 11;
  config.l2 = 0.1;
  Problem p{Mlp<double>(config), Matrix<double>(config.dims.front(), m), Matrix<double>(1, m)};
  const auto values = test::uniform<double>(config.dims.front() * m, 5, -1, 1);
  for (std::size_t r = 0; r < p.x.rows(); ++r)
    for (std::size_t c = 0; c < m; ++c) p.x(r, c) = values[r * m + c];
  for (std::size_t c = 0; c < m; ++c) p.y(0, c) = c % 3 == 0 ? 1.0 : 0.0;
  return p;
}

/** The check run as `parts` blocks, stored in reverse block order, as the MPI front end would gather them. */
GradcheckReport run_in_blocks(const Problem& p, const GradcheckOptions& options, std::size_t parts) {
  const detail::MlpCheck check = detail::prepare_mlp_check(p.net, p.x.view(), p.y.view(), nullptr, options);
  const auto theta = p.net.parameters();
  detail::GradcheckPlan plan =
      detail::plan_gradcheck("gradcheck", *check.evaluator, theta, check.analytic, check.layout, check.options);
  const std::vector<std::size_t> bounds = detail::split_items(plan, *check.evaluator, parts);
  detail::GradcheckResults results(theta.size());
  for (std::size_t r = parts; r-- > 0;) {
    const detail::PackedResults block = detail::run_items(*check.evaluator, plan, bounds[r], bounds[r + 1], check.options);
    REQUIRE(block.done == bounds[r + 1] - bounds[r]);
    results.store(plan, block.first, block.done, block.values);
  }
  return detail::finish_gradcheck(plan, theta, check.analytic, check.options, std::move(results));
}

using test::same_bits;

}  // namespace

TEST_CASE("gradcheck run in contiguous blocks in any order equals the single run bitwise (the MPI sharding)") {
  const Problem p = make_problem({7, 9, 8, 1}, 6);
  for (const GradcheckMode mode : {GradcheckMode::full, GradcheckMode::sampled})
    for (const GradcheckEvaluator evaluator : {GradcheckEvaluator::incremental, GradcheckEvaluator::naive}) {
      GradcheckOptions options;
      options.mode = mode;
      options.evaluator = evaluator;
      options.samples_per_tensor = 5;
      const GradcheckReport single = gradcheck(p.net, p.x.view(), p.y.view(), options);
      for (const std::size_t parts : {1, 2, 3, 7, 1000}) {
        CAPTURE(parts);
        const GradcheckReport blocks = run_in_blocks(p, options, parts);
        CHECK(blocks.to_json() == single.to_json());
        CHECK(same_bits(blocks.numeric_gradient, single.numeric_gradient));
        CHECK(blocks.evaluations == single.evaluations);
        CHECK(blocks.checked == single.checked);
      }
    }
}

TEST_CASE("gradcheck split_items cuts the items into contiguous blocks of about equal estimated cost") {
  const Problem p = make_problem({32, 32, 32, 32, 1}, 16);
  const detail::MlpCheck check = detail::prepare_mlp_check(p.net, p.x.view(), p.y.view(), nullptr, GradcheckOptions{});
  const detail::GradcheckPlan plan = detail::plan_gradcheck("gradcheck", *check.evaluator, p.net.parameters(),
                                                            check.analytic, check.layout, check.options);
  std::vector<double> item_cost;
  double max_item = 0;
  for (const detail::WorkItem& item : plan.items) {
    item_cost.push_back(check.evaluator->cost(plan.indices(item)));
    max_item = std::max(max_item, item_cost.back());
  }
  // Early layers cost more per entry: their perturbation travels through every later layer.
  const detail::WorkItem& first = plan.items.front();
  const detail::WorkItem& last_weights = plan.items[plan.items.size() - 2];
  CHECK(item_cost.front() / static_cast<double>(first.count) >
        4 * item_cost[plan.items.size() - 2] / static_cast<double>(last_weights.count));

  for (const std::size_t parts : {1, 2, 3, 5}) {
    CAPTURE(parts);
    const std::vector<std::size_t> bounds = detail::split_items(plan, *check.evaluator, parts);
    REQUIRE(bounds.size() == parts + 1);
    CHECK(bounds.front() == 0);
    CHECK(bounds.back() == plan.items.size());
    double total = 0;
    for (const double c : item_cost) total += c;
    for (std::size_t r = 0; r < parts; ++r) {
      REQUIRE(bounds[r] <= bounds[r + 1]);
      double block = 0;
      for (std::size_t k = bounds[r]; k < bounds[r + 1]; ++k) block += item_cost[k];
      CHECK(std::abs(block - total / static_cast<double>(parts)) <= max_item);
    }
  }
  // More parts than items: still every item exactly once (some blocks are empty).
  const std::vector<std::size_t> many = detail::split_items(plan, *check.evaluator, plan.items.size() + 3);
  REQUIRE(many.size() == plan.items.size() + 4);
  CHECK(many.front() == 0);
  CHECK(many.back() == plan.items.size());
  std::size_t empty = 0;
  for (std::size_t r = 0; r + 1 < many.size(); ++r) {
    CHECK(many[r] <= many[r + 1]);
    empty += many[r] == many[r + 1];
  }
  CHECK(empty >= 3);
}
