#pragma once
/** @file
 * Gradient checking sharded over MPI ranks (the optional component mlpkit::mpi, built with
 * -DMLPKIT_WITH_MPI=ON; link mlpkit::mpi). Every rank holds the same model, data and options; the
 * work items of the check (batches of parameters inside one tensor, as in gradcheck) are cut into
 * contiguous blocks of equal estimated cost, one per rank (parameters of early layers cost more
 * under the incremental evaluator); each rank runs the usual OpenMP loop over its block; the
 * per-parameter results are gathered in item order and every rank builds the same report.
 *
 * The report is bitwise identical to the single-process gradcheck for any number of ranks and
 * threads (numeric_gradient, to_json(), evaluations, checked and coverage included). Modes full
 * and sampled are sharded; directional runs its few evaluations unsharded on every rank. Every
 * difference scheme is sharded alike, and check_vjp's (input, cotangent) pairs too.
 *
 * Errors are collective: the ranks first compare fingerprints of their inputs (model, θ, x, y,
 * analytic gradient, layout, options and J(θ)); when one rank's differ from rank 0's, every rank
 * throws mlpkit::Error naming the first differing rank and input. When a step throws on some rank
 * (bad input, a non-finite J, an exception from f), every rank throws mlpkit::Error with the
 * message of the lowest failing rank, ending in "(on rank r of N)". No rank is left waiting.
 *
 * options.threads may differ between ranks (it never changes a result). options.progress is called
 * on each rank for its own block, with (parameters done, parameters in this rank's block); returning
 * false stops that rank's block, and the report, the same on every rank, covers what all ranks
 * checked and says `cancelled`. MPI calls are made from the calling thread only (MPI_THREAD_FUNNELED
 * suffices). Memory: every rank receives 3 doubles per checked parameter.
 */
#include <mpi.h>

#include <functional>
#include <span>

#include "mlpkit/export.hpp"
#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlp.hpp"

namespace mlpkit MLPKIT_API {

/**
 * gradcheck(net, x, y, options) with the loop sharded over the ranks of `comm`: dθ from
 * forward_backward on a copy of net. Collective: every rank of comm must call it with the same net,
 * x, y and options. Returns the same report on every rank. x: n[0] × m, y: n[L] × m.
 * Throws mlpkit::Error on every rank as gradcheck does, and when the ranks' inputs differ or MPI is
 * not initialized.
 */
GradcheckReport gradcheck(MPI_Comm comm, const Mlp<double>& net, MatrixView<const double> x,
                          MatrixView<const double> y, const GradcheckOptions& options = {});

/**
 * gradcheck(net, x, y, analytic_gradient, options) sharded over the ranks of `comm`: checks a
 * user-computed dθ (layout of Mlp::parameters()). Collective, as above.
 */
GradcheckReport gradcheck(MPI_Comm comm, const Mlp<double>& net, MatrixView<const double> x,
                          MatrixView<const double> y, std::span<const double> analytic_gradient,
                          const GradcheckOptions& options = {});

/**
 * The generic gradcheck(f, θ, dθ, layout, options) sharded over the ranks of `comm`; f is called
 * concurrently from several threads of each rank and must compute the same J on every rank
 * (J(θ) is compared). Collective, as above.
 */
GradcheckReport gradcheck(MPI_Comm comm, const std::function<double(std::span<const double>)>& f,
                          std::span<const double> theta, std::span<const double> analytic_gradient,
                          std::span<const TensorInfo> layout = {}, const GradcheckOptions& options = {});

/**
 * check_vjp(f, x, vjp, layout, options) with its loop over (input, cotangent) pairs sharded over the
 * ranks of `comm`; f and vjp must compute the same values on every rank (the vector–Jacobian
 * products and uᵀf(x) are compared). Collective, as above; the report is bitwise the one of the
 * single-process check_vjp.
 */
GradcheckReport check_vjp(MPI_Comm comm, const VectorFunction& f, std::span<const double> x, const VjpFunction& vjp,
                          std::span<const TensorInfo> layout = {}, const GradcheckOptions& options = {});

}  // namespace mlpkit
