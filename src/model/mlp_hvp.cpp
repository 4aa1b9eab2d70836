// Pearlmutter's R-operator over an Mlp: the forward pass with R(Z), R(A) beside Z, A, the output
// layer's second derivative, and the backward pass with R(dZ) beside dZ, giving H·v exactly (up to
// rounding) in about twice the work of forward_backward. Plain loops in a fixed order: the result
// does not depend on the thread count.
#include "model/mlp_hvp.hpp"

#include <cmath>
#include <vector>

#include "kernels/activations/activations_scalar.hpp"
#include "mlpkit/activations.hpp"
#include "model/mlp_loss.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {

namespace {

constexpr const char* kFunction = "hessian_vector_product";

/** One layer's matrices, n[l] × m row-major; a, ra and mask only for hidden layers. */
template <class T>
struct Layer {
  std::vector<T> z, a, rz, ra, mask, dz, rdz;
};

/** out (r × m) += W (r × k) · A (k × m). */
template <class T>
void multiply_add(const T* w, const T* a, std::size_t r, std::size_t k, std::size_t m, T* out) {
  for (std::size_t i = 0; i < r; ++i) {
    T* o = out + i * m;
    for (std::size_t p = 0; p < k; ++p) {
      const T wip = w[i * k + p];
      const T* ap = a + p * m;
      for (std::size_t j = 0; j < m; ++j) o[j] += wip * ap[j];
    }
  }
}

/** out (r × m) = W (r × k) · A (k × m) + b (b broadcast over the columns). */
template <class T>
void affine(const T* w, const T* b, const T* a, std::size_t r, std::size_t k, std::size_t m, std::vector<T>& out) {
  out.resize(r * m);
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < m; ++j) out[i * m + j] = b[i];
  multiply_add(w, a, r, k, m, out.data());
}

/** out (k × m) += Wᵀ (k × r) · D (r × m). */
template <class T>
void affine_transposed(const T* w, const T* d, std::size_t r, std::size_t k, std::size_t m, T* out) {
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t p = 0; p < k; ++p) {
      const T wip = w[i * k + p];
      T* o = out + p * m;
      const T* di = d + i * m;
      for (std::size_t j = 0; j < m; ++j) o[j] += wip * di[j];
    }
}

/** G (r × k) += D (r × m) · Aᵀ (m × k); db (r) += row sums of D when db is non-null. */
template <class T>
void outer(const T* d, const T* a, std::size_t r, std::size_t k, std::size_t m, T* g, T* db) {
  for (std::size_t i = 0; i < r; ++i) {
    const T* di = d + i * m;
    for (std::size_t p = 0; p < k; ++p) {
      const T* ap = a + p * m;
      T s = 0;
      for (std::size_t j = 0; j < m; ++j) s += di[j] * ap[j];
      g[i * k + p] += s;
    }
    if (db != nullptr)
      for (std::size_t j = 0; j < m; ++j) db[i] += di[j];
  }
}

template <class T>
void check_arguments(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y, std::span<const T> v,
                     std::span<T> hv, std::span<T> gradient) {
  const auto& dims = net.config().dims;
  const std::size_t n = net.parameter_count();
  check_pointer(kFunction, "x", x.data, x.rows * x.cols);
  check_pointer(kFunction, "y", y.data, y.rows * y.cols);
  if (x.rows != dims.front() || y.rows != dims.back() || x.cols != y.cols || x.cols == 0)
    fail(kFunction, "x (", x.rows, " × ", x.cols, ") and y (", y.rows, " × ", y.cols, ") must be ", dims.front(),
         " × m and ", dims.back(), " × m with m ≥ 1");
  if (x.ld < x.cols || y.ld < y.cols) fail(kFunction, "x or y has ld below its column count");
  if (v.size() != n) fail(kFunction, "v has ", v.size(), " entries but the model ", n, " parameters");
  if (hv.size() != n) fail(kFunction, "hv has ", hv.size(), " entries but the model ", n, " parameters");
  if (!gradient.empty() && gradient.size() != n)
    fail(kFunction, "gradient has ", gradient.size(), " entries but the model ", n, " parameters (or pass none)");
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(static_cast<double>(v[i]))) fail(kFunction, "v[", i, "] is not finite (", v[i], ")");
}

/** The model's tensors as pointers: W[l] and b[l] of θ and of v. */
template <class T>
struct Views {
  std::vector<const T*> w, b, vw, vb;
};

template <class T>
Views<T> views(const Mlp<T>& net, std::span<const T> v) {
  Views<T> out;
  const auto tensors = net.tensors();
  const std::span<const T> theta = net.parameters();
  for (std::size_t t = 0; t + 1 < tensors.size(); t += 2) {
    out.w.push_back(theta.data() + tensors[t].offset);
    out.b.push_back(theta.data() + tensors[t + 1].offset);
    out.vw.push_back(v.data() + tensors[t].offset);
    out.vb.push_back(v.data() + tensors[t + 1].offset);
  }
  return out;
}

/** Z, A and their R-images layer by layer; layers[0] holds A[0] = X (R(A[0]) = 0). */
template <class T>
void forward(const Mlp<T>& net, const Views<T>& p, std::vector<Layer<T>>& layers, std::size_t m) {
  const MlpConfig<T>& c = net.config();
  const std::size_t count = c.dims.size() - 1;
  for (std::size_t l = 1; l <= count; ++l) {
    const std::size_t r = c.dims[l], k = c.dims[l - 1];
    Layer<T>& L = layers[l];
    const Layer<T>& prev = layers[l - 1];
    affine(p.w[l - 1], p.b[l - 1], prev.a.data(), r, k, m, L.z);
    affine(p.vw[l - 1], p.vb[l - 1], prev.a.data(), r, k, m, L.rz);
    if (l > 1) multiply_add(p.w[l - 1], prev.ra.data(), r, k, m, L.rz.data());
    if (l == count) break;
    // Hidden: A = g(Z)·mask, R(A) = g'(Z)·R(Z)·mask, with the masks of the model's step.
    L.a.resize(r * m);
    L.ra.resize(r * m);
    L.mask.assign(r * m, T(1));
    activation_forward(c.hidden, c.accuracy, L.z.data(), L.a.data(), r * m, c.leaky_slope);
    activation_backward(c.hidden, L.z.data(), L.rz.data(), L.ra.data(), r * m, c.leaky_slope);
    if (c.keep_prob < T(1)) {
      const T inverse = T(1) / c.keep_prob;
      for (std::size_t i = 0; i < r; ++i)
        for (std::size_t j = 0; j < m; ++j)
          L.mask[i * m + j] = dropout_keep(c.seed, net.step(), l, i, j, static_cast<double>(c.keep_prob)) ? inverse : T(0);
      for (std::size_t q = 0; q < r * m; ++q) {
        L.a[q] *= L.mask[q];
        L.ra[q] *= L.mask[q];
      }
    }
  }
}

/** dJ/dZ[L] and its R-image from Z[L], R(Z[L]) and the labels, as the model's loss defines them. */
template <class T>
void output_layer(const MlpConfig<T>& c, MatrixView<const T> y, Layer<T>& L, std::size_t m) {
  const std::size_t r = c.dims.back(), size = r * m;
  const T inv_m = T(1) / static_cast<T>(m);
  std::vector<T> p(size), d1(size, T(1));
  L.dz.resize(size);
  L.rdz.resize(size);
  if (c.loss == Loss::cross_entropy) {
    softmax(MatrixView<const T>{L.z.data(), r, m, m}, MatrixView<T>{p.data(), r, m, m});
    for (std::size_t j = 0; j < m; ++j) {
      T prz = 0;  // pᵀ·R(z) of column j
      for (std::size_t i = 0; i < r; ++i) prz += p[i * m + j] * L.rz[i * m + j];
      for (std::size_t i = 0; i < r; ++i) L.rdz[i * m + j] = p[i * m + j] * (L.rz[i * m + j] - prz) * inv_m;
    }
    for (std::size_t q = 0; q < size; ++q) L.dz[q] = (p[q] - y(q / m, q % m)) * inv_m;
    return;
  }
  const bool bce = c.loss == Loss::binary_cross_entropy;
  const Activation g = bce ? Activation::sigmoid : c.output;
  activation_forward(g, bce ? Accuracy::precise : c.accuracy, L.z.data(), p.data(), size, c.leaky_slope);
  activation_backward(g, L.z.data(), d1.data(), d1.data(), size, c.leaky_slope);
  for (std::size_t q = 0; q < size; ++q) {
    const T residual = p[q] - y(q / m, q % m);
    if (bce) {  // dJ/dz = (σ(z) − y)/m
      L.dz[q] = residual * inv_m;
      L.rdz[q] = d1[q] * L.rz[q] * inv_m;
    } else {  // ½(g(z) − y)²/m: dJ/dz = (g − y)·g'/m
      const T d2 = static_cast<T>(scalar::second_derivative(g, static_cast<double>(L.z[q])));
      L.dz[q] = residual * d1[q] * inv_m;
      L.rdz[q] = (d1[q] * d1[q] + residual * d2) * L.rz[q] * inv_m;
    }
  }
}

/** dZ[l−1] and R(dZ[l−1]) of hidden layer l−1 from dZ[l], R(dZ[l]) through W[l] and V[l]. */
template <class T>
void backward_step(const MlpConfig<T>& c, const Views<T>& p, std::vector<Layer<T>>& layers, std::size_t l,
                   std::size_t m, const HvpFault& fault) {
  const std::size_t r = c.dims[l], k = c.dims[l - 1];
  Layer<T>& below = layers[l - 1];
  const Layer<T>& L = layers[l];
  std::vector<T> da(k * m, T(0)), rda(k * m, T(0));
  affine_transposed(p.w[l - 1], L.dz.data(), r, k, m, da.data());
  affine_transposed(p.vw[l - 1], L.dz.data(), r, k, m, rda.data());
  affine_transposed(p.w[l - 1], L.rdz.data(), r, k, m, rda.data());
  for (std::size_t q = 0; q < k * m; ++q) {
    da[q] *= below.mask[q];
    rda[q] *= below.mask[q];
  }
  below.dz.resize(k * m);
  below.rdz.resize(k * m);
  if (fault.derivative_at_output_layer == l - 1) {
    std::vector<T> output(k * m);
    activation_forward(c.hidden, c.accuracy, below.z.data(), output.data(), k * m, c.leaky_slope);
    activation_backward(c.hidden, output.data(), da.data(), below.dz.data(), k * m, c.leaky_slope);
  } else {
    activation_backward(c.hidden, below.z.data(), da.data(), below.dz.data(), k * m, c.leaky_slope);
  }
  activation_backward(c.hidden, below.z.data(), rda.data(), below.rdz.data(), k * m, c.leaky_slope);
  if (fault.drop_curvature_layer == l - 1) return;
  for (std::size_t q = 0; q < k * m; ++q)
    below.rdz[q] += da[q] * static_cast<T>(scalar::second_derivative(c.hidden, static_cast<double>(below.z[q]))) *
                    below.rz[q];
}

/** Both passes with their R-images: J, H·v into hv, dθ into gradient (when non-empty); layers keeps dZ. */
template <class T>
T passes(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y, std::span<const T> v, std::span<T> hv,
         std::span<T> gradient, const HvpFault& fault, std::vector<Layer<T>>& layers) {
  check_arguments(net, x, y, v, hv, gradient);
  const MlpConfig<T>& c = net.config();
  const std::size_t count = net.layers(), m = x.cols;
  const Views<T> p = views(net, v);
  layers.assign(count + 1, Layer<T>{});
  layers[0].a.resize(c.dims[0] * m);
  for (std::size_t i = 0; i < c.dims[0]; ++i)
    for (std::size_t j = 0; j < m; ++j) layers[0].a[i * m + j] = x(i, j);
  forward(net, p, layers, m);
  const MatrixView<const T> logits{layers[count].z.data(), c.dims[count], m, m};
  const T cost = detail::data_loss(net, logits, y) + detail::l2_penalty(net, m);  // checks the labels
  output_layer(c, y, layers[count], m);

  const auto tensors = net.tensors();
  std::vector<T> grad(net.parameter_count(), T(0));
  std::fill(hv.begin(), hv.end(), T(0));
  const T l2_over_m = c.l2 / static_cast<T>(m);
  for (std::size_t l = count; l >= 1; --l) {
    const std::size_t r = c.dims[l], k = c.dims[l - 1];
    const Layer<T>& L = layers[l];
    const Layer<T>& below = layers[l - 1];
    const TensorInfo& w = tensors[2 * (l - 1)];
    const TensorInfo& b = tensors[2 * (l - 1) + 1];
    // dW = dZ·Aᵀ + (λ/m)W; H·v for W: R(dZ)·Aᵀ + dZ·R(A)ᵀ + (λ/m)V; for b the row sums.
    outer(L.dz.data(), below.a.data(), r, k, m, grad.data() + w.offset, grad.data() + b.offset);
    outer(L.rdz.data(), below.a.data(), r, k, m, hv.data() + w.offset, hv.data() + b.offset);
    if (l > 1) outer(L.dz.data(), below.ra.data(), r, k, m, hv.data() + w.offset, static_cast<T*>(nullptr));
    for (std::size_t q = 0; q < r * k; ++q) {
      grad[w.offset + q] += l2_over_m * p.w[l - 1][q];
      if (fault.drop_l2_layer != l) hv[w.offset + q] += l2_over_m * p.vw[l - 1][q];
    }
    if (l > 1) backward_step(c, p, layers, l, m, fault);
  }
  if (!gradient.empty()) std::copy(grad.begin(), grad.end(), gradient.begin());
  return cost;
}

}  // namespace

template <class T>
T hessian_vector_product_with(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y, std::span<const T> v,
                              std::span<T> hv, std::span<T> gradient, const HvpFault& fault) {
  std::vector<Layer<T>> layers;
  return passes(net, x, y, v, hv, gradient, fault, layers);
}

template <class T>
std::vector<std::vector<T>> backward_with(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y,
                                          std::span<T> gradient, const HvpFault& fault) {
  const std::vector<T> v(net.parameter_count(), T(0));
  std::vector<T> hv(v.size());
  std::vector<Layer<T>> layers;
  (void)passes<T>(net, x, y, v, hv, gradient, fault, layers);
  std::vector<std::vector<T>> dz(layers.size());
  for (std::size_t l = 1; l < layers.size(); ++l) dz[l] = std::move(layers[l].dz);
  return dz;
}

template std::vector<std::vector<double>> backward_with<double>(const Mlp<double>&, MatrixView<const double>,
                                                                MatrixView<const double>, std::span<double>,
                                                                const HvpFault&);

template float hessian_vector_product_with<float>(const Mlp<float>&, MatrixView<const float>, MatrixView<const float>,
                                                  std::span<const float>, std::span<float>, std::span<float>,
                                                  const HvpFault&);
template double hessian_vector_product_with<double>(const Mlp<double>&, MatrixView<const double>,
                                                    MatrixView<const double>, std::span<const double>,
                                                    std::span<double>, std::span<double>, const HvpFault&);

}  // namespace mlpkit::detail

namespace mlpkit {

template <class T>
T hessian_vector_product(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y, std::span<const T> v,
                         std::span<T> hv, std::span<T> gradient) {
  return detail::hessian_vector_product_with(net, x, y, v, hv, gradient, detail::HvpFault{});
}

template float hessian_vector_product<float>(const Mlp<float>&, MatrixView<const float>, MatrixView<const float>,
                                             std::span<const float>, std::span<float>, std::span<float>);
template double hessian_vector_product<double>(const Mlp<double>&, MatrixView<const double>, MatrixView<const double>,
                                               std::span<const double>, std::span<double>, std::span<double>);

}  // namespace mlpkit
