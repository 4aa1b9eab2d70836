// The naive and the incremental evaluators of an Mlp's J (see mlp_evaluators.hpp).
#include "gradcheck/mlp_evaluators.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/vector/vector_kernels.hpp"
#include "mlpkit/activations.hpp"
#include "mlpkit/gemm.hpp"
#include "model/dropout.hpp"
#include "model/mlp_loss.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {
namespace {

constexpr const char* kFunction = "gradcheck";

/** Flops of one full forward pass over m examples. */
double forward_flops(const std::vector<std::size_t>& dims, std::size_t m) {
  double f = 0;
  for (std::size_t l = 1; l < dims.size(); ++l) f += 2.0 * static_cast<double>(dims[l] * dims[l - 1] * m);
  return f;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Full evaluations (both evaluators)

struct MlpEvaluatorBase::Slot {
  std::vector<double> theta;
  MlpWorkspace<double> workspace;
};

MlpEvaluatorBase::MlpEvaluatorBase(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                                   double eps)
    : net_(net), x_(x), y_(y), eps_(eps), slots_(thread_slots()) {}

MlpEvaluatorBase::~MlpEvaluatorBase() = default;

MlpEvaluatorBase::Slot& MlpEvaluatorBase::slot() const {
  std::unique_ptr<Slot>& s = slots_[thread_slot()];
  if (!s) {
    s = std::make_unique<Slot>();
    const auto theta = net_.parameters();
    s->theta.assign(theta.begin(), theta.end());
  }
  return *s;
}

double MlpEvaluatorBase::value() const {
  Slot& s = slot();
  return net_.loss_at(s.theta, x_, y_, s.workspace);
}

double MlpEvaluatorBase::at(std::span<const double> point) const {
  return net_.loss_at(point, x_, y_, slot().workspace);
}

// ---------------------------------------------------------------------------------------------
// Naive

NaiveMlpEvaluator::NaiveMlpEvaluator(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                                     double eps)
    : MlpEvaluatorBase(net, x, y, eps) {
  work_ = 2 * forward_flops(net.config().dims, x.cols);
}

void NaiveMlpEvaluator::differences_at(double step, std::span<const std::size_t> indices, std::span<double> numeric,
                                       std::span<double> rounding, std::span<unsigned char> kink) const {
  Slot& s = slot();
  const auto theta = net_.parameters();
  for (std::size_t q = 0; q < indices.size(); ++q) {
    const std::size_t i = indices[q];
    const Steps h = steps_for(kFunction, theta[i], step, i);
    s.theta[i] = theta[i] + step;
    const double plus = net_.loss_at(s.theta, x_, y_, s.workspace);
    s.theta[i] = theta[i] - step;
    const double minus = net_.loss_at(s.theta, x_, y_, s.workspace);
    s.theta[i] = theta[i];
    check_finite_value(kFunction, plus, i, " + ");
    check_finite_value(kFunction, minus, i, " − ");
    numeric[q] = (plus - minus) / (h.plus + h.minus);
    rounding[q] = rounding_bound(plus, minus, h.plus + h.minus);
    kink[q] = 0;
  }
}


// ---------------------------------------------------------------------------------------------
// Incremental

IncrementalMlpEvaluator::IncrementalMlpEvaluator(const Mlp<double>& net, MatrixView<const double> x,
                                                 MatrixView<const double> y, double eps)
    : MlpEvaluatorBase(net, x, y, eps), cache_(net, x), flops_(thread_slots()) {
  const MlpConfig<double>& config = net.config();
  const std::vector<std::size_t>& dims = cache_.dims;
  const std::size_t L = cache_.layers, m = cache_.m;
  kinky_ = L > 1 && (config.hidden == Activation::relu || config.hidden == Activation::leaky_relu);
  // Enough perturbed copies side by side for a GEMM of ~512 columns. 1024 ran the remaining layers
  // no faster and made a narrow network's buffers larger (depth 4, width 16, batch 32, measured
  // while every check still allocated them: 650 k → 715 k parameters/s on one thread, 1.08 M →
  // 1.27 M on two).
  batch_ = std::clamp<std::size_t>(512 / (2 * m), 1, 64);
  l2_scale_ = config.l2 / (2.0 * static_cast<double>(m));

  // Flops of a dense central difference (both evaluations, every example changed), averaged over
  // the parameters, for parallel_for's cut-off: the GEMMs, plus ~30 per element of the elementwise
  // passes (rank-1 update, activation, signs) and ~40 per logit for the loss.
  double total = 0;
  for (std::size_t l = 1; l <= L; ++l) {
    double per = 40.0 * static_cast<double>(dims[L] * m);
    if (l < L) per += 30.0 * static_cast<double>(dims[l + 1] * m);
    for (std::size_t k = l + 2; k <= L; ++k) per += (2.0 * static_cast<double>(dims[k - 1]) + 30) * static_cast<double>(dims[k] * m);
    total += 2 * per * static_cast<double>(dims[l] * (dims[l - 1] + 1));
  }
  work_ = net.parameter_count() ? total / static_cast<double>(net.parameter_count()) : 0;

  // cost(): the time of one changed column of layer l, in GEMM flops. An elementwise pass over one
  // row element (rank-1 update, activation, signs, mask, loss) costs about 42 GEMM flops, and the
  // fixed part of an entry (its rows of Z[l], the scans, two loss calls) about 1000·m: fitted to
  // measured times per tensor of a depth-4 width-128 ReLU network, batch 32, AVX-512 (Zen 4).
  constexpr double elementwise = 42;
  cost_per_column_.assign(L + 1, 0.0);
  for (std::size_t l = 1; l <= L; ++l) {
    double per = elementwise * static_cast<double>(dims[L]);  // the loss
    if (l < L) per += 2 * elementwise * static_cast<double>(dims[l + 1]);
    for (std::size_t k = l + 2; k <= L; ++k)
      per += (2.0 * static_cast<double>(dims[k - 1]) + elementwise) * static_cast<double>(dims[k]);
    cost_per_column_[l] = per;
  }
  cost_per_entry_ = 1000.0 * static_cast<double>(m);
}

double IncrementalMlpEvaluator::cost(std::span<const std::size_t> indices) const {
  // Only the examples whose activation changes are propagated (see differences): an inactive ReLU
  // unit, a dropped unit or a zero input leaves an example out. Counting them here, from the cached
  // forward pass, is what balances blocks of early layers (many changed examples, deep propagation)
  // against late ones.
  const MlpConfig<double>& config = net_.config();
  const std::size_t layers = cache_.layers, m = cache_.m;
  const bool relu = layers > 1 && config.hidden == Activation::relu;
  double total = 0;
  for (const std::size_t i : indices) {
    const Place p = place(i);
    const std::size_t l = p.layer;
    const double* z = cache_.z[l].data() + p.row * m;
    const double* a_prev = p.bias ? nullptr : cache_.a[l - 1].data() + p.col * m;
    const double* mask = l < layers && !cache_.mask[l].empty() ? cache_.mask[l].data() + p.row * m : nullptr;
    std::size_t changed = 0;
    for (std::size_t e = 0; e < m; ++e)
      changed += (a_prev == nullptr || a_prev[e] != 0) && (l == layers || !relu || z[e] > 0) &&
                 (mask == nullptr || mask[e] != 0);
    total += cost_per_entry_ + 2 * static_cast<double>(changed) * cost_per_column_[l];  // the + and the − copy
  }
  return total;
}



double IncrementalMlpEvaluator::performed_flops() const {
  double total = 0;
  for (const FlopCount& f : flops_) total += f.value;
  return total;
}

IncrementalMlpEvaluator::Place IncrementalMlpEvaluator::place(std::size_t i) const {
  const std::vector<std::size_t>& dims = cache_.dims;
  std::size_t offset = 0;
  for (std::size_t l = 1; l <= cache_.layers; ++l) {
    const std::size_t w = dims[l] * dims[l - 1];
    if (i < offset + w) return {l, (i - offset) / dims[l - 1], (i - offset) % dims[l - 1], false};
    offset += w;
    if (i < offset + dims[l]) return {l, i - offset, 0, true};
    offset += dims[l];
  }
  fail(kFunction, "parameter index ", i, " is out of range");
}

}  // namespace mlpkit::detail
