// The plan of a check: the up-front checks, which entries are checked (full, sampled), how they are
// grouped into work items, and how the items are cut into blocks of equal cost (one per MPI rank).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numeric>

#include "gradcheck/gradcheck_internal.hpp"
#include "gradcheck/sampling.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {
namespace {

/** Every entry, grouped by tensor; entries outside all slices form segments of their own. */
std::vector<Segment> full_segments(std::span<const TensorInfo> layout, std::size_t n) {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const TensorInfo& t : layout) ranges.emplace_back(t.offset, t.offset + t.rows * t.cols);
  std::sort(ranges.begin(), ranges.end());
  std::vector<Segment> segments;
  auto add = [&](std::size_t begin, std::size_t end) {
    if (begin >= end) return;
    Segment s;
    s.indices.resize(end - begin);
    std::iota(s.indices.begin(), s.indices.end(), begin);
    segments.push_back(std::move(s));
  };
  std::size_t at = 0;
  for (const auto& [begin, end] : ranges) {
    add(at, begin);
    add(begin, end);
    at = end;
  }
  add(at, n);
  return segments;
}

}  // namespace

std::size_t GradcheckPlan::entries(std::size_t first, std::size_t last) const {
  std::size_t total = 0;
  for (std::size_t k = first; k < last; ++k) total += items[k].count;
  return total;
}

GradcheckPlan plan_gradcheck(const char* function, const LossEvaluator& evaluator, std::span<const double> theta,
                             std::span<const double> analytic, std::span<const TensorInfo> layout,
                             const GradcheckOptions& options) {
  check_options(function, options);
  const std::size_t n = theta.size();
  if (analytic.size() != n)
    fail(function, "analytic_gradient has ", analytic.size(), " entries but theta has ", n);
  check_layout(function, layout, n);

  GradcheckPlan plan;
  plan.report.mode = options.mode;
  plan.report.eps = options.eps;
  plan.report.scheme = options.scheme;
  plan.report.total = n;
  if (layout.empty())
    plan.tensors.push_back({"theta", 0, n, 1});
  else
    plan.tensors.assign(layout.begin(), layout.end());

  // A function whose value changes between identical calls (random dropout, a moving mask, state)
  // makes every difference noise; refuse it instead of reporting noise as a verdict.
  const double j0 = evaluator.value();
  const double j1 = evaluator.value();
  plan.j0 = j0;
  plan.report.evaluations = 2;
  if (!std::isfinite(j0)) fail(function, "J(θ) is not finite (", j0, ")");
  if (std::bit_cast<std::uint64_t>(j0) != std::bit_cast<std::uint64_t>(j1))
    fail(function, "J(θ) differs between two identical evaluations (", j0, " then ", j1,
         "): J is not deterministic (random dropout or another random or stateful term), so central "
         "differences are meaningless; fix the random mask for the check (Mlp: dropout uses the mask of "
         "one fixed step) or switch it off");
  if (options.mode == GradcheckMode::directional) return plan;

  if (options.mode == GradcheckMode::full) {
    plan.segments = full_segments(layout, n);
  } else {
    for (std::size_t t = 0; t < plan.tensors.size(); ++t) {  // no layout: θ is one tensor, sampled like any other
      const TensorInfo& info = plan.tensors[t];
      const std::size_t samples =
          options.detection_probability > 0
              ? samples_for_probability(info.rows * info.cols, options.detection_fraction, options.detection_probability)
              : options.samples_per_tensor;
      plan.segments.push_back(sampled_segment(info, analytic, samples, options.seed + 0x1000193 * t));
    }
  }
  // Items never cross a segment, so an evaluator batches perturbations of one tensor only. The
  // batch size depends on the evaluator, never on the thread count.
  const std::size_t batch = std::max<std::size_t>(1, evaluator.batch());
  for (std::size_t s = 0; s < plan.segments.size(); ++s) {
    const std::size_t size = plan.segments[s].indices.size();
    for (std::size_t at = 0; at < size; at += batch) plan.items.push_back({s, at, std::min(batch, size - at)});
    plan.to_check += size;
  }
  plan.work_per_item = evaluator.work_per_parameter() * static_cast<double>(batch);
  return plan;
}

std::vector<std::size_t> split_items(const GradcheckPlan& plan, const LossEvaluator& evaluator, std::size_t parts) {
  parts = std::max<std::size_t>(parts, 1);
  // cost_before[k]: the cost of items [0, k). Block r ends at the item boundary closest to r/parts
  // of the total, so blocks are contiguous and the imbalance is at most about one item.
  std::vector<double> cost_before(plan.items.size() + 1, 0.0);
  for (std::size_t k = 0; k < plan.items.size(); ++k)
    cost_before[k + 1] = cost_before[k] + std::max(0.0, evaluator.cost(plan.indices(plan.items[k])));
  const double total = cost_before.back();
  std::vector<std::size_t> bounds(parts + 1, plan.items.size());
  bounds[0] = 0;
  for (std::size_t r = 1; r < parts; ++r) {
    const double target = total * static_cast<double>(r) / static_cast<double>(parts);
    auto at = static_cast<std::size_t>(std::lower_bound(cost_before.begin(), cost_before.end(), target) -
                                       cost_before.begin());
    if (at > 0 && target - cost_before[at - 1] < cost_before[std::min(at, plan.items.size())] - target) --at;
    bounds[r] = std::clamp(at, bounds[r - 1], plan.items.size());
  }
  return bounds;
}

}  // namespace mlpkit::detail
