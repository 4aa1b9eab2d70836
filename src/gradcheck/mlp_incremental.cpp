// The incremental evaluator's central differences, phase by phase: perturb the rows, select the
// changed columns, propagate them through the layers after, score the loss (see mlp_evaluators.hpp).
//
// Only the examples (columns) whose layer-l activation actually changes are propagated: an example
// whose A[l][j][e] is bitwise unchanged by both perturbations (an inactive ReLU unit, a dropped unit,
// a zero input) has the same loss term in J(θ+h⁺eᵢ) and J(θ−h⁻eᵢ), which cancels exactly. So
// J(θ+h⁺eᵢ) − J(θ−h⁻eᵢ) = (k/m)·(mean⁺ − mean⁻) + ΔL2 over the k changed examples, computed without
// subtracting two nearly equal totals.
#include <algorithm>

#include "gradcheck/mlp_evaluators.hpp"
#include "kernels/vector/vector_kernels.hpp"
#include "mlpkit/activations.hpp"
#include "model/mlp_loss.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {

struct IncrementalMlpEvaluator::Scratch {
  std::vector<double> z_row, a_row;               // 2·count × m: row j of Z[l] and A[l] per copy
  std::vector<std::size_t> columns, changed, offset, source;  // changed examples and the column layout
  std::vector<double> delta;                      // ΔA[l][j] per changed column
  std::vector<double> wide_z, wide_a, wide_next, wide_y;  // n × width
  std::vector<double> loss_terms, loss_scratch;     // width: the loss of each column
  std::vector<Steps> steps;
  std::vector<Place> places;
  std::vector<unsigned char> kinked;  // per parameter of the item

  /** Bytes held by the wide matrices, the only buffers that grow with the network. */
  std::size_t wide_bytes() const {
    return (wide_z.capacity() + wide_a.capacity() + wide_next.capacity() + wide_y.capacity()) * sizeof(double);
  }
};

namespace {

constexpr const char* kFunction = "gradcheck";

// A thread keeps its buffers between checks up to this size; a wide network's (where allocating
// them is cheap beside the work) are handed back, so checking a big model leaves no large
// allocation behind in every worker thread.
constexpr std::size_t kKeptScratchBytes = std::size_t{2} << 20;

}  // namespace

// One set of buffers per thread, kept from one check to the next (as GEMM keeps its packing
// buffers): allocating them afresh for every check cost a narrow network ~10 % of its time in
// zero-filling, page faults and, with two threads, the TLB shootdowns of handing them back.
// differences_at() resizes or overwrites every field before reading it, so nothing carries over.
IncrementalMlpEvaluator::Scratch& IncrementalMlpEvaluator::scratch() const {
  thread_local Scratch buffers;
  return buffers;
}

void IncrementalMlpEvaluator::differences_at(double step, std::span<const std::size_t> indices,
                                             std::span<double> numeric, std::span<double> rounding,
                                             std::span<unsigned char> kink) const {
  const std::size_t l = place(indices[0]).layer;  // every index of an item lies in one tensor
  Scratch& s = scratch();
  perturb_rows(step, indices, l, s);
  const std::size_t width = select_columns(indices.size(), l, s);
  const double* logits = width > 0 ? propagate(indices.size(), l, width, s) : nullptr;
  score(indices, width, logits, s, numeric, rounding, kink);
  if (s.wide_bytes() > kKeptScratchBytes) s = Scratch{};
}

void IncrementalMlpEvaluator::perturb_rows(double step, std::span<const std::size_t> indices, std::size_t l,
                                           Scratch& s) const {
  const MlpConfig<double>& config = net_.config();
  const auto theta = net_.parameters();
  const std::size_t m = cache_.m, count = indices.size();
  s.kinked.assign(count, 0);
  s.steps.resize(count);
  s.places.resize(count);
  // Row j of Z[l] (and of A[l] for a hidden layer) per copy: copy 2q is θᵢ + h⁺, 2q+1 is θᵢ − h⁻.
  grow(s.z_row, 2 * count * m);
  grow(s.a_row, 2 * count * m);
  for (std::size_t q = 0; q < count; ++q) {
    const std::size_t i = indices[q];
    s.places[q] = place(i);
    s.steps[q] = steps_for(kFunction, theta[i], step, i);
    const Place& p = s.places[q];
    const double* z = cache_.z[l].data() + p.row * m;
    const double* a_prev = cache_.a[l - 1].data() + p.col * m;
    for (int side = 0; side < 2; ++side) {
      const double taken = side == 0 ? s.steps[q].plus : -s.steps[q].minus;
      double* out = s.z_row.data() + (2 * q + side) * m;
      if (p.bias) {
        for (std::size_t e = 0; e < m; ++e) out[e] = z[e] + taken;
      } else {
        for (std::size_t e = 0; e < m; ++e) out[e] = z[e] + taken * a_prev[e];
      }
    }
  }
  if (l == cache_.layers) return;
  activation_forward(config.hidden, config.accuracy, s.z_row.data(), s.a_row.data(), 2 * count * m,
                     config.leaky_slope);
  const VectorKernels<double>& vector = active_vector_kernels<double>();
  for (std::size_t q = 0; q < count; ++q) {
    const std::size_t j = s.places[q].row;
    if (!cache_.mask[l].empty()) {
      const double* mask = cache_.mask[l].data() + j * m;
      double* a = s.a_row.data() + 2 * q * m;
      for (std::size_t e = 0; e < 2 * m; ++e) a[e] *= mask[e % m];
    }
    if (kinky_) {
      const double* plus = s.z_row.data() + 2 * q * m;
      s.kinked[q] = vector.signs_differ(plus, plus + m, 1, m, m);
    }
  }
}

std::size_t IncrementalMlpEvaluator::select_columns(std::size_t count, std::size_t l, Scratch& s) const {
  const std::size_t m = cache_.m;
  const bool output = l == cache_.layers;
  // The changed examples of each parameter (the same columns for its two copies).
  const std::vector<double>& changed_from = output ? cache_.z[l] : cache_.a[l];
  const std::vector<double>& perturbed = output ? s.z_row : s.a_row;
  s.columns.clear();
  s.offset.assign(2 * count + 1, 0);
  s.changed.assign(count, 0);
  for (std::size_t q = 0; q < count; ++q) {
    const double* base = changed_from.data() + s.places[q].row * m;
    const double* plus = perturbed.data() + 2 * q * m;
    const double* minus = plus + m;
    const std::size_t first = s.columns.size();
    for (std::size_t e = 0; e < m; ++e)
      if (plus[e] != base[e] || minus[e] != base[e]) s.columns.push_back(e);
    s.changed[q] = s.columns.size() - first;
  }
  // Column layout: parameter q's + copy, then its − copy, each over its changed examples.
  grow(s.source, 2 * s.columns.size());
  std::size_t at = 0, from = 0;
  for (std::size_t q = 0; q < count; ++q) {
    for (int side = 0; side < 2; ++side) {
      s.offset[2 * q + side] = at;
      for (std::size_t t = 0; t < s.changed[q]; ++t) s.source[at + t] = s.columns[from + t];
      at += s.changed[q];
    }
    from += s.changed[q];
  }
  s.offset[2 * count] = at;
  flops_[thread_slot()].value += 4.0 * static_cast<double>(count * m);
  return at;
}

void IncrementalMlpEvaluator::output_logits(std::size_t count, std::size_t width, Scratch& s) const {
  const std::size_t L = cache_.layers, m = cache_.m, outputs = cache_.dims[L];
  grow(s.wide_z, outputs * width);
  for (std::size_t r = 0; r < outputs; ++r)
    for (std::size_t t = 0; t < width; ++t) s.wide_z[r * width + t] = cache_.z[L][r * m + s.source[t]];
  for (std::size_t c = 0; c < 2 * count; ++c) {
    const std::size_t q = c / 2;
    double* row = s.wide_z.data() + s.places[q].row * width + s.offset[c];
    const double* z = s.z_row.data() + c * m;
    for (std::size_t t = 0; t < s.changed[q]; ++t) row[t] = z[s.source[s.offset[c] + t]];
  }
}

void IncrementalMlpEvaluator::update_next(std::size_t count, std::size_t l, std::size_t width, Scratch& s) const {
  const std::vector<std::size_t>& dims = cache_.dims;
  const std::size_t m = cache_.m, next = l + 1;
  const MatrixView<const double> w_next = net_.weights(next);
  grow(s.wide_z, dims[next] * width);
  grow(s.delta, width);
  for (std::size_t c = 0; c < 2 * count; ++c) {
    const std::size_t q = c / 2, j = s.places[q].row;
    const double* a = s.a_row.data() + c * m;
    const double* base = cache_.a[l].data() + j * m;
    for (std::size_t t = 0; t < s.changed[q]; ++t) {
      const std::size_t e = s.source[s.offset[c] + t];
      s.delta[s.offset[c] + t] = a[e] - base[e];
    }
  }
  // The two copies of a parameter share their examples: one gather of the base row serves both.
  for (std::size_t r = 0; r < dims[next]; ++r) {
    const double* base = cache_.z[next].data() + r * m;
    for (std::size_t q = 0; q < count; ++q) {
      const std::size_t k = s.changed[q], at = s.offset[2 * q];
      const double wrj = w_next(r, s.places[q].row);
      const std::size_t* examples = s.source.data() + at;
      const double* delta = s.delta.data() + at;
      double* out = s.wide_z.data() + r * width + at;
      for (std::size_t t = 0; t < k; ++t) {
        const double z = base[examples[t]];
        out[t] = z + wrj * delta[t];
        out[k + t] = z + wrj * delta[k + t];
      }
    }
  }
  flops_[thread_slot()].value += 2.0 * static_cast<double>(dims[next] * width);
}

const double* IncrementalMlpEvaluator::propagate(std::size_t count, std::size_t l, std::size_t width,
                                                 Scratch& s) const {
  const MlpConfig<double>& config = net_.config();
  const std::vector<std::size_t>& dims = cache_.dims;
  const std::size_t L = cache_.layers, next = l + 1;
  double& flops = flops_[thread_slot()].value;
  if (l == L) {
    output_logits(count, width, s);  // the output layer: the base logits of the changed examples, row j replaced
    return s.wide_z.data();
  }
  update_next(count, l, width, s);
  if (next == L) return s.wide_z.data();

  // Marks parameter q when a hidden pre-activation (or activation: ReLU keeps the sign) changes sign
  // between its two evaluations.
  const VectorKernels<double>& vector = active_vector_kernels<double>();
  auto compare_signs = [&](const double* values, std::size_t rows) {
    if (!kinky_) return;
    for (std::size_t q = 0; q < count; ++q) {
      const double* plus = values + s.offset[2 * q];
      if (!s.kinked[q]) s.kinked[q] = vector.signs_differ(plus, plus + s.changed[q], rows, s.changed[q], width);
    }
  };
  auto source = [&](std::size_t t) { return s.source[t]; };
  grow(s.wide_a, dims[next] * width);
  activation_forward(config.hidden, config.accuracy, s.wide_z.data(), s.wide_a.data(), dims[next] * width,
                     config.leaky_slope);
  compare_signs(s.wide_a.data(), dims[next]);
  cache_.apply_mask(next, s.wide_a.data(), width, source);
  // Layers l+2 … L on every changed column of every copy at once: one wide GEMM each.
  for (std::size_t k = next + 1; k <= L; ++k) {
    grow(s.wide_next, dims[k] * width);
    cache_.dense_layer(k, s.wide_a.data(), s.wide_next.data(), width, k == L ? Activation::identity : config.hidden);
    flops += 2.0 * static_cast<double>(dims[k] * dims[k - 1] * width);
    if (k < L) {
      compare_signs(s.wide_next.data(), dims[k]);
      cache_.apply_mask(k, s.wide_next.data(), width, source);
    }
    std::swap(s.wide_a, s.wide_next);
  }
  return s.wide_a.data();
}

void IncrementalMlpEvaluator::score(std::span<const std::size_t> indices, std::size_t width, const double* logits,
                                    Scratch& s, std::span<double> numeric, std::span<double> rounding,
                                    std::span<unsigned char> kink) const {
  const MlpConfig<double>& config = net_.config();
  const auto theta = net_.parameters();
  const std::size_t outputs = cache_.dims[cache_.layers], m = cache_.m;
  // The loss term of every column of every copy in one call, on Y of the changed examples in the
  // same column layout: (1/m)·Σ over a copy's changed examples is its change of J.
  grow(s.loss_terms, width);
  if (width > 0) {
    grow(s.wide_y, outputs * width);
    for (std::size_t r = 0; r < outputs; ++r)
      for (std::size_t t = 0; t < width; ++t) s.wide_y[r * width + t] = y_(r, s.source[t]);
    output_loss_terms(config, MatrixView<const double>{logits, outputs, width, width},
                      MatrixView<const double>{s.wide_y.data(), outputs, width, width}, s.loss_terms.data(),
                      s.loss_scratch);
  }
  const double inverse_m = 1.0 / static_cast<double>(m);
  for (std::size_t q = 0; q < indices.size(); ++q) {
    const std::size_t i = indices[q], k = s.changed[q];
    double data[2] = {0, 0};
    for (int side = 0; side < 2; ++side) {
      const double* terms = s.loss_terms.data() + s.offset[2 * q + side];
      double sum = 0;
      for (std::size_t t = 0; t < k; ++t) sum += terms[t];
      data[side] = sum * inverse_m;
    }
    double plus = data[0], minus = data[1];
    if (l2_scale_ != 0 && !s.places[q].bias) {
      // (λ/2m)·Σ W² changes by (λ/2m)·((w+h)² − w²) = (λ/2m)·(2wh + h²).
      const double w = theta[i], hp = s.steps[q].plus, hm = s.steps[q].minus;
      plus += l2_scale_ * (2 * w * hp + hp * hp);
      minus += l2_scale_ * (-2 * w * hm + hm * hm);
    }
    check_finite_value(kFunction, plus, i, " + ");
    check_finite_value(kFunction, minus, i, " − ");
    const double step_sum = s.steps[q].plus + s.steps[q].minus;
    numeric[q] = (plus - minus) / step_sum;
    rounding[q] = rounding_bound(plus, minus, step_sum);
    kink[q] = s.kinked[q];
  }
}

}  // namespace mlpkit::detail
