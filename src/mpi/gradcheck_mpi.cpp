// gradcheck sharded over the ranks of an MPI communicator. Every rank plans the same check; the
// work items are cut into contiguous blocks of equal estimated cost, one per rank; each rank runs
// its block with the OpenMP loop; the packed per-entry results are gathered in item order with
// MPI_Allgatherv, so every rank builds the report from the same numbers as a single process would.
#include "mlpkit/mpi.hpp"

#include <climits>
#include <optional>

#include "gradcheck/gradcheck_internal.hpp"
#include "gradcheck/mlp_evaluators.hpp"
#include "mpi/collective.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail::mpi {
namespace {

constexpr const char* kFunction = "gradcheck";

std::uint64_t fingerprint(const GradcheckOptions& o) {
  // Not options.threads (ranks may differ in cores) nor options.progress (e.g. only rank 0 shows
  // a bar): neither changes a result.
  InputHash h;
  h.add(o.eps);
  h.add(o.great_below);
  h.add(o.wrong_from);
  h.add(static_cast<std::uint64_t>(o.mode));
  h.add(static_cast<std::uint64_t>(o.samples_per_tensor));
  h.add(static_cast<std::uint64_t>(o.directions));
  h.add(o.seed);
  h.add(static_cast<std::uint64_t>(o.evaluator));
  h.add(static_cast<std::uint64_t>(o.batch_size));
  h.add(o.noise_floor);
  h.add(o.l2_over_m);
  h.add(static_cast<std::uint64_t>(o.scheme));
  h.add(o.initial_step);
  h.add(o.analytic_roundoff);
  return h.value();
}

std::uint64_t fingerprint(std::span<const TensorInfo> layout) {
  InputHash h;
  h.add(static_cast<std::uint64_t>(layout.size()));
  for (const TensorInfo& t : layout) {
    h.add(t.name);
    h.add(static_cast<std::uint64_t>(t.offset));
    h.add(static_cast<std::uint64_t>(t.rows));
    h.add(static_cast<std::uint64_t>(t.cols));
  }
  return h.value();
}

std::uint64_t fingerprint(std::span<const double> values) {
  InputHash h;
  h.add(values);
  return h.value();
}

std::uint64_t fingerprint(MatrixView<const double> m) {
  InputHash h;
  h.add(static_cast<std::uint64_t>(m.rows));
  h.add(static_cast<std::uint64_t>(m.cols));
  for (std::size_t r = 0; r < m.rows; ++r) h.add(std::span<const double>(m.row(r), m.cols));
  return h.value();
}

std::uint64_t fingerprint(const Mlp<double>& net) {
  const MlpConfig<double>& c = net.config();
  InputHash h;
  for (const std::size_t d : c.dims) h.add(static_cast<std::uint64_t>(d));
  h.add(static_cast<std::uint64_t>(c.hidden));
  h.add(static_cast<std::uint64_t>(c.output));
  h.add(static_cast<std::uint64_t>(c.loss));
  h.add(c.l2);
  h.add(c.keep_prob);
  h.add(c.seed);
  h.add(c.leaky_slope);
  h.add(static_cast<std::uint64_t>(c.multi_label));
  h.add(static_cast<std::uint64_t>(net.step()));  // the dropout mask
  h.add(net.parameters());
  return h.value();
}

/** Gathers every rank's block into `results` on every rank, in item order. */
void gather(const Collective& collective, const GradcheckPlan& plan, const std::vector<std::size_t>& bounds,
            const PackedResults& mine, GradcheckResults& results) {
  const auto ranks = static_cast<std::size_t>(collective.size());
  const unsigned long long my_done = mine.done;
  std::vector<unsigned long long> done(ranks);
  MPI_Allgather(&my_done, 1, MPI_UNSIGNED_LONG_LONG, done.data(), 1, MPI_UNSIGNED_LONG_LONG, collective.comm());

  // Counts in entries of kPackedPerEntry doubles; every rank computes the same ones, so a count
  // beyond MPI's int range fails on every rank alike.
  std::vector<int> counts(ranks), displacements(ranks);
  std::size_t total = 0;
  for (std::size_t r = 0; r < ranks; ++r) {
    const std::size_t entries = plan.entries(bounds[r], bounds[r] + done[r]);
    if (entries > static_cast<std::size_t>(INT_MAX) || total > static_cast<std::size_t>(INT_MAX))
      fail(collective.function(), "rank ", r, " checked ", entries, " entries: beyond what one MPI_Allgatherv moves (",
           INT_MAX, ")");
    counts[r] = static_cast<int>(entries);
    displacements[r] = static_cast<int>(total);
    total += entries;
  }
  std::vector<double> all(kPackedPerEntry * total);
  MPI_Datatype entry;
  MPI_Type_contiguous(static_cast<int>(kPackedPerEntry), MPI_DOUBLE, &entry);
  MPI_Type_commit(&entry);
  MPI_Allgatherv(mine.values.data(), counts[static_cast<std::size_t>(collective.rank())], entry, all.data(),
                 counts.data(), displacements.data(), entry, collective.comm());
  MPI_Type_free(&entry);

  for (std::size_t r = 0; r < ranks; ++r) {
    const std::span<const double> packed(all.data() + kPackedPerEntry * static_cast<std::size_t>(displacements[r]),
                                         kPackedPerEntry * static_cast<std::size_t>(counts[r]));
    results.store(plan, bounds[r], static_cast<std::size_t>(done[r]), packed);
    if (bounds[r] + done[r] < bounds[r + 1]) results.cancelled = true;
  }
}

/**
 * The sharded check over an evaluator every rank has built alike: the plan, the comparison of the
 * inputs (and of J(θ)), one block per rank, the gather and the report.
 */
GradcheckReport run_sharded(Collective& collective, const LossEvaluator& evaluator, std::span<const double> theta,
                            std::span<const double> analytic, std::span<const TensorInfo> layout,
                            const GradcheckOptions& options, std::vector<InputPart> inputs) {
  std::optional<GradcheckPlan> plan;
  collective.run([&] { plan.emplace(plan_gradcheck(collective.function(), evaluator, theta, analytic, layout, options)); });
  // J(θ) covers what no fingerprint sees: the function f, the model's code.
  InputHash j0;
  j0.add(plan->j0);
  inputs.push_back({"J(θ)", j0.value()});
  inputs.push_back({"the options", fingerprint(options)});
  collective.require_same(inputs);

  if (options.mode == GradcheckMode::directional) {
    // A few evaluations along whole directions: not worth sharding, every rank runs them alike.
    collective.run([&] { run_directional(collective.function(), evaluator, *plan, theta, analytic, options); });
    return std::move(plan->report);
  }

  // Every rank computes the boundaries; rank 0's are broadcast so that the ranks agree even where
  // a floating-point sum of costs could differ (heterogeneous nodes).
  const auto ranks = static_cast<std::size_t>(collective.size());
  std::vector<std::size_t> bounds;
  collective.run([&] { bounds = split_items(*plan, evaluator, ranks); });
  std::vector<unsigned long long> wire(bounds.begin(), bounds.end());
  MPI_Bcast(wire.data(), static_cast<int>(wire.size()), MPI_UNSIGNED_LONG_LONG, 0, collective.comm());
  bounds.assign(wire.begin(), wire.end());

  const auto me = static_cast<std::size_t>(collective.rank());
  PackedResults mine;
  collective.run([&] { mine = run_items(evaluator, *plan, bounds[me], bounds[me + 1], options); });
  GradcheckResults results(theta.size());
  gather(collective, *plan, bounds, mine, results);
  mine = {};
  collective.run([&] { bracket_kinks(evaluator, theta, results, options); });  // every rank alike
  return finish_gradcheck(*plan, theta, analytic, options, std::move(results));
}

}  // namespace
}  // namespace mlpkit::detail::mpi

namespace mlpkit {
namespace {

GradcheckReport gradcheck_mlp(MPI_Comm comm, const Mlp<double>& net, MatrixView<const double> x,
                              MatrixView<const double> y, const std::span<const double>* analytic,
                              const GradcheckOptions& options) {
  using namespace detail::mpi;
  Collective collective(comm, kFunction);
  detail::ThreadLimit limit(options.threads);  // before the evaluators size their per-thread scratch
  std::optional<detail::MlpCheck> check;
  std::vector<InputPart> inputs;
  collective.run([&] {
    check.emplace(detail::prepare_mlp_check(net, x, y, analytic, options));
    inputs = {{"the model (configuration, step or θ)", fingerprint(net)},
              {"x", fingerprint(x)},
              {"y", fingerprint(y)},
              {"the analytic gradient", fingerprint(check->analytic)},
              {"the layout", fingerprint(check->layout)}};
  });
  GradcheckReport report = run_sharded(collective, *check->evaluator, net.parameters(), check->analytic,
                                       check->layout, check->options, std::move(inputs));
  detail::record_accuracy(report, net, options);
  return report;
}

}  // namespace

GradcheckReport gradcheck(MPI_Comm comm, const Mlp<double>& net, MatrixView<const double> x,
                          MatrixView<const double> y, const GradcheckOptions& options) {
  return gradcheck_mlp(comm, net, x, y, nullptr, options);
}

GradcheckReport gradcheck(MPI_Comm comm, const Mlp<double>& net, MatrixView<const double> x,
                          MatrixView<const double> y, std::span<const double> analytic_gradient,
                          const GradcheckOptions& options) {
  return gradcheck_mlp(comm, net, x, y, &analytic_gradient, options);
}

GradcheckReport gradcheck(MPI_Comm comm, const std::function<double(std::span<const double>)>& f,
                          std::span<const double> theta, std::span<const double> analytic_gradient,
                          std::span<const TensorInfo> layout, const GradcheckOptions& options) {
  using namespace detail::mpi;
  Collective collective(comm, kFunction);
  detail::ThreadLimit limit(options.threads);  // before the evaluator sizes its per-thread copies
  std::unique_ptr<detail::LossEvaluator> evaluator;
  std::vector<InputPart> inputs;
  GradcheckOptions inner = options;
  inner.threads = 0;
  collective.run([&] {
    evaluator = detail::function_evaluator(kFunction, f, theta, analytic_gradient, options);
    inputs = {{"theta", fingerprint(theta)},
              {"analytic_gradient", fingerprint(analytic_gradient)},
              {"layout", fingerprint(layout)}};
  });
  return run_sharded(collective, *evaluator, theta, analytic_gradient, layout, inner, std::move(inputs));
}

GradcheckReport check_vjp(MPI_Comm comm, const VectorFunction& f, std::span<const double> x, const VjpFunction& vjp,
                          std::span<const TensorInfo> layout, const GradcheckOptions& options) {
  using namespace detail::mpi;
  Collective collective(comm, "check_vjp");
  detail::ThreadLimit limit(options.threads);  // before the evaluator sizes its per-thread copies
  std::optional<detail::VjpCheck> check;
  std::vector<InputPart> inputs;
  collective.run([&] {
    check.emplace(detail::prepare_vjp_check(f, x, vjp, layout, options));
    inputs = {{"x", fingerprint(x)},
              {"the vector-Jacobian products", fingerprint(check->analytic)},
              {"the layout", fingerprint(layout)}};
  });
  GradcheckReport report = run_sharded(collective, *check->evaluator, check->theta, check->analytic, check->pairs,
                                       check->options, std::move(inputs));
  return detail::finish_vjp_check(std::move(*check), std::move(report), layout);
}

}  // namespace mlpkit
