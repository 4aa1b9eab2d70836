// An Mlp's cached unperturbed forward pass (see MlpForwardCache in mlp_evaluators.hpp).
#include <algorithm>

#include "gradcheck/mlp_evaluators.hpp"
#include "kernels/vector/vector_kernels.hpp"
#include "mlpkit/activations.hpp"
#include "mlpkit/gemm.hpp"
#include "model/dropout.hpp"

namespace mlpkit::detail {

MlpForwardCache::MlpForwardCache(const Mlp<double>& model, MatrixView<const double> x)
    : net(model), dims(model.config().dims), layers(model.layers()), m(x.cols) {
  const MlpConfig<double>& config = net.config();
  const std::size_t L = layers;
  z.resize(L + 1);
  a.resize(L + 1);
  mask.resize(L + 1);
  a[0].resize(dims[0] * m);
  for (std::size_t r = 0; r < dims[0]; ++r) std::copy(x.row(r), x.row(r) + m, a[0].data() + r * m);
  for (std::size_t l = 1; l <= L; ++l) {
    z[l].resize(dims[l] * m);
    a[l].resize(dims[l] * m);
    const MatrixView<double> zl{z[l].data(), dims[l], m, m};
    const MatrixView<double> out = l == L ? zl : MatrixView<double>{a[l].data(), dims[l], m, m};
    net.forward_layer(l, MatrixView<const double>{a[l - 1].data(), dims[l - 1], m, m}, out, 0,
                      l == L ? MatrixView<double>{} : zl);
    if (l < L && config.keep_prob < 1) {
      mask[l].resize(dims[l] * m);
      const DropoutStream stream(config.seed, net.step(), static_cast<std::uint32_t>(l));
      for (std::size_t r = 0; r < dims[l]; ++r)
        fill_dropout_mask(stream, static_cast<std::uint32_t>(r), 0, m, config.keep_prob, mask[l].data() + r * m);
    }
  }
}

void MlpForwardCache::dense_layer(std::size_t k, const double* a_prev, double* out, std::size_t width,
                                  Activation f) const {
  const MlpConfig<double>& config = net.config();
  const MatrixView<const double> w = net.weights(k);
  const double* b = net.bias(k).data;
  if (dims[k] >= 8) {
    gemm(Trans::no, Trans::no, 1.0, w, MatrixView<const double>{a_prev, dims[k - 1], width, width}, 0.0,
         MatrixView<double>{out, dims[k], width, width}, Epilogue<double>{b, f, config.leaky_slope, {}, config.accuracy});
    return;
  }
  // A few rows (the output layer of a classifier): a GEMM would fill its 12-row tiles with padding;
  // rows of axpys stream the wide activations once instead.
  const VectorKernels<double>& vector = active_vector_kernels<double>();
  for (std::size_t r = 0; r < dims[k]; ++r) {
    double* row = out + r * width;
    std::fill(row, row + width, b[r]);
    for (std::size_t c = 0; c < dims[k - 1]; ++c) vector.axpy(w(r, c), a_prev + c * width, row, width);
    if (f != Activation::identity) activation_forward(f, config.accuracy, row, row, width, config.leaky_slope);
  }
}

}  // namespace mlpkit::detail
