// Mlp: parameters, forward pass with cache (fused GEMM epilogue), backpropagation, dropout, L2.
#include "mlpkit/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "kernels/activations/activations_kernels.hpp"
#include "mlpkit/gemm.hpp"
#include "mlpkit/vector.hpp"
#include "model/dropout.hpp"
#include "model/mlp_loss.hpp"
#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit {

namespace {

// Grows a buffer to at least n elements; never shrinks, so a warm workspace allocates nothing.
// Workspace buffers are 64-byte aligned: GEMMs split their columns over threads, and with malloc's
// 16-byte alignment every row's boundary between two threads' columns fell inside a cache line
// (false sharing on each row of each layer: a 2-thread training step at width 64 ran 1.3× slower
// than 1 thread in about half of all processes, depending on where the heap put the buffers).
template <class T>
T* reserve(detail::AlignedVector<T>& buffer, std::size_t n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// A contiguous rows × cols view (ld = cols) over a workspace buffer.
template <class T>
MatrixView<T> contiguous(detail::AlignedVector<T>& buffer, std::size_t rows, std::size_t cols) {
  return {reserve(buffer, rows * cols), rows, cols, cols};
}

bool dropout_active(double keep_prob) { return keep_prob < 1.0; }

// Whether backward can take g'(Z) from A = g(Z) exactly (the same 0/1/slope factors), so the
// forward pass need not store Z: only without dropout, whose scaling A would then carry.
template <class T>
bool derivative_from_output(Activation f, T leaky_slope, bool dropout) {
  if (dropout) return false;
  return f == Activation::identity || f == Activation::relu || (f == Activation::leaky_relu && leaky_slope > T(0));
}

}  // namespace

template <class T>
Mlp<T>::Mlp(const MlpConfig<T>& config) : Mlp(config, skip_init) {
  std::fill(theta_.begin(), theta_.end(), T(0));  // biases start at 0
  for (std::size_t l = 1; l <= layers(); ++l) init_weights(config_.init, config_.init_scale, config_.seed, l, weights(l));
}

template <class T>
Mlp<T>::Mlp(const MlpConfig<T>& config, SkipInit) : config_(config) { lay_out(nullptr); }

template <class T>
Mlp<T>::Mlp(const MlpConfig<T>& config, SkipInit, Mlp&& storage) : config_(config) { lay_out(&storage.theta_); }

template <class T>
void Mlp<T>::lay_out(std::vector<T, detail::DefaultInitAllocator<T>>* reuse) {
  validate_config(config_);
  const auto& dims = config_.dims;
  std::size_t offset = 0;
  for (std::size_t l = 1; l < dims.size(); ++l) {
    weight_offset_.push_back(offset);
    offset += dims[l] * (dims[l - 1] + 1);
  }
  if (reuse != nullptr && reuse->size() == offset)
    theta_.swap(*reuse);
  else
    theta_.resize(offset);  // not zeroed: the caller writes every parameter
}

template <class T>
T* Mlp<T>::gradient_data() const {
  if (grad_.size() != theta_.size()) grad_.assign(theta_.size(), T(0));
  return grad_.data();
}

template <class T>
std::vector<TensorInfo> Mlp<T>::tensors() const {
  std::vector<TensorInfo> out;
  for (std::size_t l = 1; l <= layers(); ++l) {
    // Appending, not "W" + to_string(l): GCC 12 raises a false -Wrestrict on the latter.
    std::string weight_name = "W", bias_name = "b";
    weight_name += std::to_string(l);
    bias_name += std::to_string(l);
    out.push_back({weight_name, weight_offset(l), config_.dims[l], config_.dims[l - 1]});
    out.push_back({bias_name, bias_offset(l), config_.dims[l], 1});
  }
  return out;
}

template <class T>
void Mlp<T>::check_layer(const char* function, std::size_t l) const {
  if (l < 1 || l > layers()) detail::fail(function, "layer ", l, " is outside 1 … L = ", layers(), " (layers are 1-based)");
}

template <class T>
MatrixView<T> Mlp<T>::weights(std::size_t l) {
  check_layer("Mlp::weights", l);
  return {theta_.data() + weight_offset(l), config_.dims[l], config_.dims[l - 1], config_.dims[l - 1]};
}
template <class T>
MatrixView<const T> Mlp<T>::weights(std::size_t l) const {
  check_layer("Mlp::weights", l);
  return {theta_.data() + weight_offset(l), config_.dims[l], config_.dims[l - 1], config_.dims[l - 1]};
}
template <class T>
MatrixView<T> Mlp<T>::bias(std::size_t l) {
  check_layer("Mlp::bias", l);
  return {theta_.data() + bias_offset(l), config_.dims[l], 1, 1};
}
template <class T>
MatrixView<const T> Mlp<T>::bias(std::size_t l) const {
  check_layer("Mlp::bias", l);
  return {theta_.data() + bias_offset(l), config_.dims[l], 1, 1};
}
template <class T>
MatrixView<const T> Mlp<T>::weight_gradient(std::size_t l) const {
  check_layer("Mlp::weight_gradient", l);
  return {gradient_data() + weight_offset(l), config_.dims[l], config_.dims[l - 1], config_.dims[l - 1]};
}
template <class T>
MatrixView<const T> Mlp<T>::bias_gradient(std::size_t l) const {
  check_layer("Mlp::bias_gradient", l);
  return {gradient_data() + bias_offset(l), config_.dims[l], 1, 1};
}

template <class T>
void Mlp<T>::check_input(const char* function, MatrixView<const T> x) const {
  detail::check_view(function, "x", x);
  detail::check_model_input(function, config_.dims, x);
  // The workspace holds n[l] × m values per layer: its size must be allocatable.
  const std::size_t widest = *std::max_element(config_.dims.begin(), config_.dims.end());
  detail::checked_array_bytes(function, "a layer's values for the batch (n[l] × m)",
                              detail::checked_mul(function, "n[l] × m", widest, x.cols), sizeof(T));
}

template <class T>
void Mlp<T>::check_batch(const char* function, MatrixView<const T> x, MatrixView<const T> y) const {
  check_input(function, x);
  detail::check_view(function, "y", y);
  detail::check_shape(function, "y", y, config_.dims.back(), x.cols);
}

// What a call writes may not lie in θ, which its GEMMs read; what forward_backward reads may not lie
// in dθ, which it writes.
template <class T>
void Mlp<T>::check_apart_from_parameters(const char* function, const char* name, MatrixView<const T> v) const {
  detail::check_disjoint(function, name, v, "the model's parameters", detail::array_view(theta_.data(), theta_.size()));
}

template <class T>
void Mlp<T>::check_apart_from_gradients(const char* function, const char* name, MatrixView<const T> v) const {
  detail::check_disjoint(function, name, v, "the model's gradients", detail::array_view(grad_.data(), grad_.size()));
}

// Z[l] = W[l]·A[l−1] + b[l] and A[l] = g(Z[l]) for every layer, the epilogue fused into the GEMM.
// Keeps Z[l] of hidden layers only when backward needs it; Z[L] (the logits) always.
template <class T>
MatrixView<const T> Mlp<T>::forward_pass(const T* theta, MatrixView<const T> x, MlpWorkspace<T>& ws, bool keep_z,
                                         bool dropout) const {
  const auto& dims = config_.dims;
  const std::size_t L = layers(), m = x.cols;
  const bool drop = dropout && dropout_active(static_cast<double>(config_.keep_prob));
  ws.z_.resize(L);
  ws.a_.resize(L);
  if (drop) prepare_masks(ws, m);
  MatrixView<const T> a_prev = x;
  for (std::size_t l = 1; l <= L; ++l) {
    const MatrixView<const T> w{theta + weight_offset(l), dims[l], dims[l - 1], dims[l - 1]};
    const T* b = theta + bias_offset(l);
    if (l == L) {
      const MatrixView<T> z = contiguous(ws.z_[l - 1], dims[l], m);
      gemm(Trans::no, Trans::no, T(1), w, a_prev, T(0), z, Epilogue<T>{b, Activation::identity, config_.leaky_slope, {}, config_.accuracy});
      return z;
    }
    // Without a cache for backward (keep_z false: loss, predict) two buffers alternate, so the
    // activations a deep network writes stay in cache instead of streaming a buffer per layer.
    const MatrixView<T> a = contiguous(ws.a_[keep_z ? l - 1 : (l - 1) % 2], dims[l], m);
    const bool store_z = keep_z && !derivative_from_output(config_.hidden, config_.leaky_slope, drop);
    const MatrixView<T> z = store_z ? contiguous(ws.z_[l - 1], dims[l], m) : MatrixView<T>{};
    gemm(Trans::no, Trans::no, T(1), w, a_prev, T(0), a, Epilogue<T>{b, config_.hidden, config_.leaky_slope, z, config_.accuracy});
    if (drop) {
      const T* mask = ws.mask_[l - 1].data();
      detail::parallel_for(dims[l], static_cast<double>(m), [&](std::size_t i) {
        T* row = a.row(i);
        const T* mask_row = mask + i * m;
        for (std::size_t j = 0; j < m; ++j) row[j] *= mask_row[j];
      });
    }
    a_prev = a;
  }
  return {};  // unreachable: L ≥ 1
}

// The masks of the current step for m examples, cached in the workspace: a pure function of
// (seed, step, keep_prob, dims, m), recomputed only when one of them changes.
template <class T>
void Mlp<T>::prepare_masks(MlpWorkspace<T>& ws, std::size_t m) const {
  const auto& dims = config_.dims;
  if (ws.mask_valid_ && ws.mask_seed_ == config_.seed && ws.mask_step_ == step_ &&
      ws.mask_keep_prob_ == config_.keep_prob && ws.mask_examples_ == m && ws.mask_dims_ == dims)
    return;
  ws.mask_valid_ = false;
  ws.mask_.resize(layers());
  for (std::size_t l = 1; l < layers(); ++l) {
    T* mask = reserve(ws.mask_[l - 1], dims[l] * m);
    const detail::DropoutStream stream(config_.seed, step_, static_cast<std::uint32_t>(l));
    detail::parallel_for(dims[l], 40.0 * static_cast<double>(m), [&](std::size_t i) {
      detail::fill_dropout_mask(stream, static_cast<std::uint32_t>(i), 0, m, config_.keep_prob, mask + i * m);
    });
  }
  ws.mask_seed_ = config_.seed;
  ws.mask_step_ = step_;
  ws.mask_keep_prob_ = config_.keep_prob;
  ws.mask_examples_ = m;
  ws.mask_dims_ = dims;
  ws.mask_valid_ = true;
}

template <class T>
T Mlp<T>::loss(MatrixView<const T> x, MatrixView<const T> y) const {
  MlpWorkspace<T> workspace;
  return loss(x, y, workspace);
}

template <class T>
T Mlp<T>::loss(MatrixView<const T> x, MatrixView<const T> y, MlpWorkspace<T>& workspace) const {
  check_batch("Mlp::loss", x, y);
  return checked_loss(theta_.data(), x, y, workspace);
}

template <class T>
T Mlp<T>::loss_at(std::span<const T> theta, MatrixView<const T> x, MatrixView<const T> y,
                  MlpWorkspace<T>& workspace) const {
  if (theta.size() != theta_.size())
    detail::fail("Mlp::loss_at", "theta has ", theta.size(), " elements but the model has ", theta_.size(), " parameters");
  check_batch("Mlp::loss_at", x, y);
  return checked_loss(theta.data(), x, y, workspace);
}

template <class T>
T Mlp<T>::checked_loss(const T* theta, MatrixView<const T> x, MatrixView<const T> y, MlpWorkspace<T>& workspace) const {
  const MatrixView<const T> logits = forward_pass(theta, x, workspace, false, true);
  return detail::output_loss(config_, logits, y, MatrixView<T>{}, workspace.output_) + detail::l2_term(config_, theta, x.cols);
}

template <class T>
T Mlp<T>::forward_backward(MatrixView<const T> x, MatrixView<const T> y) {
  constexpr const char* fn = "Mlp::forward_backward";
  check_batch(fn, x, y);
  // dθ is written layer by layer while x and y are still read.
  check_apart_from_gradients(fn, "x", x);
  check_apart_from_gradients(fn, "y", y);
  MlpWorkspace<T>& ws = workspace_;
  const auto& dims = config_.dims;
  const std::size_t L = layers(), m = x.cols;
  const MatrixView<const T> logits = forward_pass(theta_.data(), x, ws, true, true);
  MatrixView<T> dz = contiguous(ws.dz_, dims[L], m);
  const T cost = detail::output_loss(config_, logits, y, dz, ws.output_) + detail::l2_term(config_, theta_.data(), m);

  const bool drop = dropout_active(static_cast<double>(config_.keep_prob));
  const T l2_over_m = config_.l2 / static_cast<T>(m);
  for (std::size_t l = L; l >= 1; --l) {
    const MatrixView<const T> a_prev =
        l > 1 ? MatrixView<const T>{ws.a_[l - 2].data(), dims[l - 1], m, m} : x;
    const MatrixView<const T> w = weights(l);
    // dW[l] = dZ[l]·A[l−1]ᵀ + (λ/m)·W[l]: the L2 derivative enters as gemm's beta·C.
    const MatrixView<T> dw{gradient_data() + weight_offset(l), dims[l], dims[l - 1], dims[l - 1]};
    T beta = T(0);
    if (l2_over_m != T(0)) {
      const std::size_t count = dims[l] * dims[l - 1];
      for (std::size_t k = 0; k < count; ++k) dw.data[k] = l2_over_m * w.data[k];
      beta = T(1);
    }
    gemm(Trans::no, Trans::yes, T(1), MatrixView<const T>(dz), a_prev, beta, dw);
    // db[l] = Σ_j dZ[l](i, j): one fixed-order sum per row, whatever the thread count.
    T* db = gradient_data() + bias_offset(l);
    detail::parallel_for(dims[l], static_cast<double>(m), [&](std::size_t i) { db[i] = sum(dz.row(i), m); });
    if (l == 1) break;
    // dA[l−1] = W[l]ᵀ·dZ[l], then dZ[l−1] = dA[l−1] ⊙ D[l−1]/keep_prob ⊙ g'(Z[l−1]).
    const MatrixView<T> da = contiguous(ws.dz_next_, dims[l - 1], m);
    gemm(Trans::yes, Trans::no, T(1), w, MatrixView<const T>(dz), T(0), da);
    const T* mask = drop ? ws.mask_[l - 2].data() : nullptr;
    if (mask != nullptr)
      detail::parallel_for(dims[l - 1], static_cast<double>(m), [&](std::size_t i) {
        T* row = da.row(i);
        for (std::size_t j = 0; j < m; ++j) row[j] *= mask[i * m + j];
      });
    // One call over the whole contiguous matrix: per-row calls would pay the dispatch n[l−1] times.
    if (derivative_from_output(config_.hidden, config_.leaky_slope, drop))
      activation_backward_from_output(config_.hidden, a_prev.data, da.data, da.data, dims[l - 1] * m,
                                      config_.leaky_slope);
    else
      activation_backward(config_.hidden, ws.z_[l - 2].data(), da.data, da.data, dims[l - 1] * m, config_.leaky_slope);
    std::swap(ws.dz_, ws.dz_next_);
    dz = da;
  }
  return cost;
}

template <class T>
void Mlp<T>::predict(MatrixView<const T> x, MatrixView<T> out) const {
  MlpWorkspace<T> workspace;
  predict(x, out, workspace);
}

template <class T>
void Mlp<T>::predict(MatrixView<const T> x, MatrixView<T> out, MlpWorkspace<T>& workspace) const {
  constexpr const char* fn = "Mlp::predict";
  check_input(fn, x);
  detail::check_view(fn, "out", out);
  detail::check_shape(fn, "out", out, config_.dims.back(), x.cols);
  // A one-layer network writes out by a GEMM that still reads x and θ.
  detail::check_disjoint(fn, "out", MatrixView<const T>(out), "x", x);
  check_apart_from_parameters(fn, "out", out);
  const MatrixView<const T> logits = forward_pass(theta_.data(), x, workspace, false, false);
  detail::output_activation(config_, logits, out);
}

template <class T>
Matrix<T> Mlp<T>::predict(MatrixView<const T> x) const {
  check_input("Mlp::predict", x);
  Matrix<T> out(config_.dims.back(), x.cols);
  predict(x, out.view());
  return out;
}

template <class T>
void Mlp<T>::forward_layer(std::size_t l, MatrixView<const T> a_prev, MatrixView<T> out, std::size_t first_example,
                           MatrixView<T> z) const {
  const char* fn = "Mlp::forward_layer";
  check_layer(fn, l);
  const auto& dims = config_.dims;
  detail::check_view(fn, "a_prev", a_prev);
  detail::check_view(fn, "out", out);
  if (a_prev.rows != dims[l - 1]) detail::fail(fn, "a_prev has ", a_prev.rows, " rows but n[", l - 1, "] = ", dims[l - 1]);
  detail::check_shape(fn, "out", out, dims[l], a_prev.cols);
  detail::check_disjoint(fn, "out", MatrixView<const T>(out), "a_prev", a_prev);
  check_apart_from_parameters(fn, "out", out);
  if (z.data != nullptr) {
    detail::check_view(fn, "z", z);
    detail::check_shape(fn, "z", z, dims[l], a_prev.cols);
    detail::check_alias(fn, "z", z, "out", out);
    detail::check_disjoint(fn, "z", MatrixView<const T>(z), "a_prev", a_prev);
    check_apart_from_parameters(fn, "z", z);
  }
  const bool output_layer = l == layers();
  const Activation f = output_layer ? Activation::identity : config_.hidden;
  gemm(Trans::no, Trans::no, T(1), weights(l), a_prev, T(0), out,
       Epilogue<T>{bias(l).data, f, config_.leaky_slope, z, config_.accuracy});
  if (output_layer || !dropout_active(static_cast<double>(config_.keep_prob))) return;
  const detail::DropoutStream stream(config_.seed, step_, static_cast<std::uint32_t>(l));
  detail::parallel_for(dims[l], 40.0 * static_cast<double>(out.cols), [&](std::size_t i) {
    detail::apply_dropout(stream, static_cast<std::uint32_t>(i), first_example, out.cols, config_.keep_prob, out.row(i));
  });
}

template class Mlp<float>;
template class Mlp<double>;

}  // namespace mlpkit
