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
// Naive

struct NaiveMlpEvaluator::Slot {
  std::vector<double> theta;
  MlpWorkspace<double> workspace;
};

NaiveMlpEvaluator::NaiveMlpEvaluator(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                                     double eps)
    : net_(net), x_(x), y_(y), eps_(eps), work_(2 * forward_flops(net.config().dims, x.cols)), slots_(thread_slots()) {}

NaiveMlpEvaluator::~NaiveMlpEvaluator() = default;

std::size_t NaiveMlpEvaluator::size() const { return net_.parameter_count(); }

NaiveMlpEvaluator::Slot& NaiveMlpEvaluator::slot() const {
  std::unique_ptr<Slot>& s = slots_[thread_slot()];
  if (!s) {
    s = std::make_unique<Slot>();
    const auto theta = net_.parameters();
    s->theta.assign(theta.begin(), theta.end());
  }
  return *s;
}

double NaiveMlpEvaluator::value() const {
  Slot& s = slot();
  return net_.loss_at(s.theta, x_, y_, s.workspace);
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

double NaiveMlpEvaluator::at(std::span<const double> point) const {
  return net_.loss_at(point, x_, y_, slot().workspace);
}

// ---------------------------------------------------------------------------------------------
// Incremental

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
// A thread keeps its buffers between checks up to this size; a wide network's (where allocating
// them is cheap beside the work) are handed back, so checking a big model leaves no large
// allocation behind in every worker thread.
constexpr std::size_t kKeptScratchBytes = std::size_t{2} << 20;

/** At least n elements: a kept buffer only grows, so a narrower item does not zero-fill it again. */
template <class V>
void grow(V& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}
}  // namespace

IncrementalMlpEvaluator::IncrementalMlpEvaluator(const Mlp<double>& net, MatrixView<const double> x,
                                                 MatrixView<const double> y, double eps)
    : net_(net), x_(x), y_(y), eps_(eps), naive_(net, x, y, eps), flops_(thread_slots()) {
  const MlpConfig<double>& config = net.config();
  dims_ = config.dims;
  layers_ = net.layers();
  m_ = x.cols;
  const std::size_t L = layers_, m = m_;
  kinky_ = L > 1 && (config.hidden == Activation::relu || config.hidden == Activation::leaky_relu);
  // Enough perturbed copies side by side for a GEMM of ~512 columns. 1024 ran the remaining layers
  // no faster and made a narrow network's buffers larger (depth 4, width 16, batch 32, measured
  // while every check still allocated them: 650 k → 715 k parameters/s on one thread, 1.08 M →
  // 1.27 M on two).
  batch_ = std::clamp<std::size_t>(512 / (2 * m), 1, 64);

  // The unperturbed forward pass, once, through the model's own layer function.
  z_.resize(L + 1);
  a_.resize(L + 1);
  mask_.resize(L + 1);
  a_[0].resize(dims_[0] * m);
  for (std::size_t r = 0; r < dims_[0]; ++r) std::copy(x.row(r), x.row(r) + m, a_[0].data() + r * m);
  for (std::size_t l = 1; l <= L; ++l) {
    z_[l].resize(dims_[l] * m);
    a_[l].resize(dims_[l] * m);
    const MatrixView<double> z{z_[l].data(), dims_[l], m, m};
    const MatrixView<double> out = l == L ? z : MatrixView<double>{a_[l].data(), dims_[l], m, m};
    net.forward_layer(l, MatrixView<const double>{a_[l - 1].data(), dims_[l - 1], m, m}, out, 0,
                      l == L ? MatrixView<double>{} : z);
    if (l < L && config.keep_prob < 1) {
      mask_[l].resize(dims_[l] * m);
      const DropoutStream stream(config.seed, net.step(), static_cast<std::uint32_t>(l));
      for (std::size_t r = 0; r < dims_[l]; ++r)
        fill_dropout_mask(stream, static_cast<std::uint32_t>(r), 0, m, config.keep_prob, mask_[l].data() + r * m);
    }
  }
  l2_scale_ = config.l2 / (2.0 * static_cast<double>(m));

  // Flops of a dense central difference (both evaluations, every example changed), averaged over
  // the parameters, for parallel_for's cut-off: the GEMMs, plus ~30 per element of the elementwise
  // passes (rank-1 update, activation, signs) and ~40 per logit for the loss.
  double total = 0;
  for (std::size_t l = 1; l <= L; ++l) {
    double per = 40.0 * static_cast<double>(dims_[L] * m);
    if (l < L) per += 30.0 * static_cast<double>(dims_[l + 1] * m);
    for (std::size_t k = l + 2; k <= L; ++k) per += (2.0 * static_cast<double>(dims_[k - 1]) + 30) * static_cast<double>(dims_[k] * m);
    total += 2 * per * static_cast<double>(dims_[l] * (dims_[l - 1] + 1));
  }
  work_ = net.parameter_count() ? total / static_cast<double>(net.parameter_count()) : 0;

  // cost(): the time of one changed column of layer l, in GEMM flops. An elementwise pass over one
  // row element (rank-1 update, activation, signs, mask, loss) costs about 42 GEMM flops, and the
  // fixed part of an entry (its rows of Z[l], the scans, two loss calls) about 1000·m: fitted to
  // measured times per tensor of a depth-4 width-128 ReLU network, batch 32, AVX-512 (Zen 4).
  constexpr double elementwise = 42;
  cost_per_column_.assign(L + 1, 0.0);
  for (std::size_t l = 1; l <= L; ++l) {
    double per = elementwise * static_cast<double>(dims_[L]);  // the loss
    if (l < L) per += 2 * elementwise * static_cast<double>(dims_[l + 1]);
    for (std::size_t k = l + 2; k <= L; ++k)
      per += (2.0 * static_cast<double>(dims_[k - 1]) + elementwise) * static_cast<double>(dims_[k]);
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
  const bool relu = layers_ > 1 && config.hidden == Activation::relu;
  double total = 0;
  for (const std::size_t i : indices) {
    const Place p = place(i);
    const std::size_t l = p.layer;
    const double* z = z_[l].data() + p.row * m_;
    const double* a_prev = p.bias ? nullptr : a_[l - 1].data() + p.col * m_;
    const double* mask = l < layers_ && !mask_[l].empty() ? mask_[l].data() + p.row * m_ : nullptr;
    std::size_t changed = 0;
    for (std::size_t e = 0; e < m_; ++e)
      changed += (a_prev == nullptr || a_prev[e] != 0) && (l == layers_ || !relu || z[e] > 0) &&
                 (mask == nullptr || mask[e] != 0);
    total += cost_per_entry_ + 2 * static_cast<double>(changed) * cost_per_column_[l];  // the + and the − copy
  }
  return total;
}

IncrementalMlpEvaluator::~IncrementalMlpEvaluator() = default;

std::size_t IncrementalMlpEvaluator::size() const { return net_.parameter_count(); }
double IncrementalMlpEvaluator::value() const { return naive_.value(); }
double IncrementalMlpEvaluator::at(std::span<const double> point) const { return naive_.at(point); }

// One set of buffers per thread, kept from one check to the next (as GEMM keeps its packing
// buffers): allocating them afresh for every check cost a narrow network ~10 % of its time in
// zero-filling, page faults and, with two threads, the TLB shootdowns of handing them back.
// differences_at() resizes or overwrites every field before reading it, so nothing carries over.
IncrementalMlpEvaluator::Scratch& IncrementalMlpEvaluator::scratch() const {
  thread_local Scratch buffers;
  return buffers;
}

double IncrementalMlpEvaluator::performed_flops() const {
  double total = 0;
  for (const FlopCount& f : flops_) total += f.value;
  return total;
}

IncrementalMlpEvaluator::Place IncrementalMlpEvaluator::place(std::size_t i) const {
  std::size_t offset = 0;
  for (std::size_t l = 1; l <= layers_; ++l) {
    const std::size_t w = dims_[l] * dims_[l - 1];
    if (i < offset + w) return {l, (i - offset) / dims_[l - 1], (i - offset) % dims_[l - 1], false};
    offset += w;
    if (i < offset + dims_[l]) return {l, i - offset, 0, true};
    offset += dims_[l];
  }
  fail(kFunction, "parameter index ", i, " is out of range");
}

void IncrementalMlpEvaluator::dense_layer(std::size_t k, const double* a_prev, double* out, std::size_t width,
                                          Activation f) const {
  const MlpConfig<double>& config = net_.config();
  const MatrixView<const double> w = net_.weights(k);
  const double* b = net_.bias(k).data;
  if (dims_[k] >= 8) {
    gemm(Trans::no, Trans::no, 1.0, w, MatrixView<const double>{a_prev, dims_[k - 1], width, width}, 0.0,
         MatrixView<double>{out, dims_[k], width, width}, Epilogue<double>{b, f, config.leaky_slope, {}, config.accuracy});
    return;
  }
  // A few rows (the output layer of a classifier): a GEMM would fill its 12-row tiles with padding;
  // rows of axpys stream the wide activations once instead.
  const VectorKernels<double>& vector = active_vector_kernels<double>();
  for (std::size_t r = 0; r < dims_[k]; ++r) {
    double* row = out + r * width;
    std::fill(row, row + width, b[r]);
    for (std::size_t c = 0; c < dims_[k - 1]; ++c) vector.axpy(w(r, c), a_prev + c * width, row, width);
    if (f != Activation::identity) activation_forward(f, config.accuracy, row, row, width, config.leaky_slope);
  }
}

// Only the examples (columns) whose layer-l activation actually changes are propagated: an example
// whose A[l][j][e] is bitwise unchanged by both perturbations (an inactive ReLU unit, a dropped unit,
// a zero input) has the same loss term in J(θ+h⁺eᵢ) and J(θ−h⁻eᵢ), which cancels exactly. So
// J(θ+h⁺eᵢ) − J(θ−h⁻eᵢ) = (k/m)·(mean⁺ − mean⁻) + ΔL2 over the k changed examples, computed without
// subtracting two nearly equal totals.
void IncrementalMlpEvaluator::differences_at(double step, std::span<const std::size_t> indices,
                                             std::span<double> numeric, std::span<double> rounding,
                                             std::span<unsigned char> kink) const {
  const MlpConfig<double>& config = net_.config();
  const auto theta = net_.parameters();
  const std::size_t L = layers_, m = m_, count = indices.size();
  const std::size_t l = place(indices[0]).layer;  // every index of an item lies in one tensor
  Scratch& s = scratch();
  const VectorKernels<double>& vector = active_vector_kernels<double>();
  double& flops = flops_[thread_slot()].value;
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
    const double* z = z_[l].data() + p.row * m;
    const double* a_prev = a_[l - 1].data() + p.col * m;
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
  const bool output = l == L;
  if (!output) {
    activation_forward(config.hidden, config.accuracy, s.z_row.data(), s.a_row.data(), 2 * count * m,
                       config.leaky_slope);
    for (std::size_t q = 0; q < count; ++q) {
      const std::size_t j = s.places[q].row;
      const double* mask = mask_[l].empty() ? nullptr : mask_[l].data() + j * m;
      for (int side = 0; side < 2; ++side) {
        double* a = s.a_row.data() + (2 * q + side) * m;
        if (mask)
          for (std::size_t e = 0; e < m; ++e) a[e] *= mask[e];
      }
      if (kinky_) {
        const double* plus = s.z_row.data() + 2 * q * m;
        s.kinked[q] = vector.signs_differ(plus, plus + m, 1, m, m);
      }
    }
  }

  // The changed examples of each parameter (the same columns for its two copies) and the column
  // offset of each copy in the wide matrices.
  const std::vector<double>& changed_from = output ? z_[L] : a_[l];
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
  const std::size_t total_changed = s.columns.size();
  grow(s.source, 2 * total_changed);
  {
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
  }
  const std::size_t width = 2 * total_changed;
  flops += 4.0 * static_cast<double>(count * m);

  // Marks parameter q when a hidden pre-activation (or activation: ReLU keeps the sign) changes sign
  // between its two evaluations.
  auto compare_signs = [&](const double* values, std::size_t rows) {
    if (!kinky_) return;
    for (std::size_t q = 0; q < count; ++q) {
      const double* plus = values + s.offset[2 * q];
      if (!s.kinked[q]) s.kinked[q] = vector.signs_differ(plus, plus + s.changed[q], rows, s.changed[q], width);
    }
  };
  auto apply_mask = [&](std::size_t layer, double* a) {
    if (mask_[layer].empty()) return;
    for (std::size_t r = 0; r < dims_[layer]; ++r) {
      const double* mask = mask_[layer].data() + r * m;
      double* row = a + r * width;
      for (std::size_t t = 0; t < width; ++t) row[t] *= mask[s.source[t]];
    }
  };

  const double* logits = nullptr;
  if (width > 0) {
    if (output) {
      // The output layer: the base logits of the changed examples, row j replaced.
      grow(s.wide_z, dims_[L] * width);
      for (std::size_t r = 0; r < dims_[L]; ++r)
        for (std::size_t t = 0; t < width; ++t) s.wide_z[r * width + t] = z_[L][r * m + s.source[t]];
      for (std::size_t c = 0; c < 2 * count; ++c) {
        const std::size_t q = c / 2;
        double* row = s.wide_z.data() + s.places[q].row * width + s.offset[c];
        const double* z = s.z_row.data() + c * m;
        for (std::size_t t = 0; t < s.changed[q]; ++t) row[t] = z[s.source[s.offset[c] + t]];
      }
      logits = s.wide_z.data();
    } else {
      // Z[l+1] + W[l+1][:, j]·ΔA[l][j] on the changed examples of every copy: n[l+1] × width.
      const std::size_t next = l + 1;
      const MatrixView<const double> w_next = net_.weights(next);
      grow(s.wide_z, dims_[next] * width);
      grow(s.delta, width);
      for (std::size_t c = 0; c < 2 * count; ++c) {
        const std::size_t q = c / 2, j = s.places[q].row;
        const double* a = s.a_row.data() + c * m;
        const double* base = a_[l].data() + j * m;
        for (std::size_t t = 0; t < s.changed[q]; ++t) {
          const std::size_t e = s.source[s.offset[c] + t];
          s.delta[s.offset[c] + t] = a[e] - base[e];
        }
      }
      // The two copies of a parameter share their examples: one gather of the base row serves both.
      for (std::size_t r = 0; r < dims_[next]; ++r) {
        const double* base = z_[next].data() + r * m;
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
      flops += 2.0 * static_cast<double>(dims_[next] * width);
      if (next == L) {
        logits = s.wide_z.data();
      } else {
        grow(s.wide_a, dims_[next] * width);
        activation_forward(config.hidden, config.accuracy, s.wide_z.data(), s.wide_a.data(), dims_[next] * width,
                           config.leaky_slope);
        compare_signs(s.wide_a.data(), dims_[next]);
        apply_mask(next, s.wide_a.data());
        // Layers l+2 … L on every changed column of every copy at once: one wide GEMM each.
        for (std::size_t k = next + 1; k <= L; ++k) {
          grow(s.wide_next, dims_[k] * width);
          dense_layer(k, s.wide_a.data(), s.wide_next.data(), width, k == L ? Activation::identity : config.hidden);
          flops += 2.0 * static_cast<double>(dims_[k] * dims_[k - 1] * width);
          if (k < L) {
            compare_signs(s.wide_next.data(), dims_[k]);
            apply_mask(k, s.wide_next.data());
          }
          std::swap(s.wide_a, s.wide_next);
        }
        logits = s.wide_a.data();
      }
    }
    // Y of the changed examples, in the same column layout.
    grow(s.wide_y, dims_[L] * width);
    for (std::size_t r = 0; r < dims_[L]; ++r)
      for (std::size_t t = 0; t < width; ++t) s.wide_y[r * width + t] = y_(r, s.source[t]);
  }

  // The loss term of every column of every copy in one call: (1/m)·Σ over a copy's changed examples
  // is its change of J.
  grow(s.loss_terms, width);
  if (width > 0)
    output_loss_terms(config, MatrixView<const double>{logits, dims_[L], width, width},
                      MatrixView<const double>{s.wide_y.data(), dims_[L], width, width}, s.loss_terms.data(),
                      s.loss_scratch);
  const double inverse_m = 1.0 / static_cast<double>(m);
  for (std::size_t q = 0; q < count; ++q) {
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
  if (s.wide_bytes() > kKeptScratchBytes) s = Scratch{};
}

}  // namespace mlpkit::detail
