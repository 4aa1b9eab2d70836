// Fuzzes Mlp construction from arbitrary configurations: any dims (0, huge, overflowing), unknown
// enumerators, NaN / negative / infinite numbers. Contract: validate_config and the constructor
// agree (both throw mlpkit::Error, or neither does); a configuration whose parameter count
// overflows is rejected; an accepted small model has a consistent layout, and loss, predict and
// forward_backward on a small batch run cleanly, agree with each other, and are bitwise identical
// across thread counts.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "mlpkit/mlp.hpp"

using namespace mlpkit;
using namespace mlpkit::fuzz;

namespace {

std::size_t draw_dim(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 15)) {
    case 0:
      return 0;
    case 1:
      return in.ConsumeIntegral<std::size_t>();
    case 2:
      return (std::size_t{1} << 32) - in.ConsumeIntegralInRange<std::size_t>(0, 2);
    case 3:
      return std::size_t{1} << in.ConsumeIntegralInRange<int>(16, 40);
    default:
      return in.ConsumeIntegralInRange<std::size_t>(1, 9);
  }
}

template <class T>
T draw_number(FuzzedDataProvider& in, double typical_lo, double typical_hi) {
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      return any_value<T>(in);
    case 1:
      return T(0);
    case 2:
      return T(1);
    default:
      return uniform<T>(in, typical_lo, typical_hi);
  }
}

// Σ n[l]·(n[l−1] + 1) in 128 bits.
unsigned __int128 parameter_count(const std::vector<std::size_t>& dims) {
  unsigned __int128 total = 0;
  for (std::size_t l = 1; l < dims.size(); ++l) total += static_cast<unsigned __int128>(dims[l]) * (dims[l - 1] + (unsigned __int128)1);
  return total;
}

template <class T>
void run(FuzzedDataProvider& in) {
  MlpConfig<T> config;
  config.dims.resize(in.ConsumeIntegralInRange<std::size_t>(0, 6));
  for (auto& d : config.dims) d = draw_dim(in);
  const auto any_enum = [&](int known) {
    return in.ConsumeIntegralInRange<int>(0, 15) == 0 ? in.ConsumeIntegral<int>() : in.ConsumeIntegralInRange<int>(0, known - 1);
  };
  config.hidden = static_cast<Activation>(any_enum(7));
  config.output = static_cast<Activation>(any_enum(7));
  config.loss = static_cast<Loss>(any_enum(3));
  config.init = static_cast<Init>(any_enum(6));
  config.init_scale = draw_number<T>(in, 0, 2);
  config.l2 = draw_number<T>(in, 0, 1);
  config.keep_prob = draw_number<T>(in, 0, 1.2);
  config.seed = in.ConsumeIntegral<std::uint64_t>();
  config.leaky_slope = draw_number<T>(in, -1, 1);
  config.multi_label = in.ConsumeBool();
  if (in.ConsumeBool()) {
    // Usually pair the output with the loss, so that most inputs reach the model itself.
    if (config.loss == Loss::binary_cross_entropy) config.output = Activation::sigmoid;
    if (config.loss == Loss::cross_entropy) config.output = Activation::identity;
  }

  bool valid = true;
  try {
    validate_config(config);
  } catch (const Error&) {
    valid = false;
  }
  const unsigned __int128 count = config.dims.size() >= 2 ? parameter_count(config.dims) : 0;
  const bool dims_ok = config.dims.size() >= 2 &&
                       std::all_of(config.dims.begin(), config.dims.end(),
                                   [](std::size_t d) { return d >= 1 && d <= 0xffffffffULL; }) &&
                       count <= std::numeric_limits<std::size_t>::max();
  MLPKIT_FUZZ_CHECK(!valid || dims_ok, "validate_config accepted dims whose parameter count overflows or holds 0 / > 2^32−1");
  if (!valid) {
    // The constructor must reject what validate_config rejects (before allocating anything).
    bool threw = false;
    try {
      Mlp<T> net(config);
    } catch (const Error&) {
      threw = true;
    }
    MLPKIT_FUZZ_CHECK(threw, "Mlp accepted a configuration validate_config rejects");
    return;
  }
  if (count > 20000) return;  // valid but too large to allocate in a fuzz run

  const Isa isa = pick_isa(in);
  const int threads = in.ConsumeIntegralInRange<int>(1, 4);
  ScopedSetup setup(isa, 1);
  Mlp<T> net(config);
  MLPKIT_FUZZ_CHECK(net.parameter_count() == static_cast<std::size_t>(count), "parameter_count %zu, expected %zu",
                    net.parameter_count(), static_cast<std::size_t>(count));
  std::size_t offset = 0;
  for (const TensorInfo& t : net.tensors()) {
    MLPKIT_FUZZ_CHECK(t.offset == offset, "tensor %s at %zu, expected %zu", t.name.c_str(), t.offset, offset);
    offset += t.rows * t.cols;
  }
  MLPKIT_FUZZ_CHECK(offset == net.parameter_count(), "tensors cover %zu of %zu parameters", offset, net.parameter_count());
  if (std::abs(double(config.init_scale)) < 1e6)
    for (T w : net.parameters()) MLPKIT_FUZZ_CHECK(std::isfinite(w), "a non-finite initial weight");

  // A small batch with labels the loss accepts.
  const std::size_t m = in.ConsumeIntegralInRange<std::size_t>(1, 5);
  const std::size_t n0 = config.dims.front(), nl = config.dims.back();
  std::vector<T> x(n0 * m), y(nl * m, T(0));
  for (auto& v : x) v = uniform<T>(in, -2, 2);
  for (std::size_t j = 0; j < m; ++j) {
    const std::size_t hot = in.ConsumeIntegralInRange<std::size_t>(0, nl - 1);
    for (std::size_t i = 0; i < nl; ++i) {
      if (config.loss == Loss::mean_squared_error)
        y[i * m + j] = uniform<T>(in, -1, 1);
      else if (config.loss == Loss::cross_entropy)
        y[i * m + j] = i == hot ? T(1) : T(0);
      else
        y[i * m + j] = in.ConsumeBool() ? T(1) : T(0);
    }
  }
  const MatrixView<const T> vx{x.data(), n0, m, m}, vy{y.data(), nl, m, m};
  const T j_loss = net.loss(vx, vy);
  const T j_fb = net.forward_backward(vx, vy);
  const std::vector<T> grad(net.gradients().begin(), net.gradients().end());
  MLPKIT_FUZZ_CHECK(same_bits(&j_loss, &j_fb, 1), "loss %.17g but forward_backward %.17g", double(j_loss), double(j_fb));
  Matrix<T> prediction = net.predict(vx);
  MLPKIT_FUZZ_CHECK(prediction.rows() == nl && prediction.cols() == m, "predict has the wrong shape");
  {
    test::ScopedThreads scoped(threads);
    Mlp<T> copy = net;
    const T j_threads = copy.forward_backward(vx, vy);
    MLPKIT_FUZZ_CHECK(same_bits(&j_threads, &j_fb, 1), "J differs between %d threads and 1", threads);
    MLPKIT_FUZZ_CHECK(same_bits(copy.gradients().data(), grad.data(), grad.size()), "dθ differs between threads");
  }
}

}  // namespace

MLPKIT_FUZZ_FLOAT_AND_DOUBLE(run)
