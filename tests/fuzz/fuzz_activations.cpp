// Fuzzes activation_forward, activation_backward, activation_backward_from_output, softmax and
// log_softmax against the scalar reference kernels, on arbitrary bit patterns (NaN, ±Inf,
// subnormals, huge values) or moderate values, at any length, offset, ISA and thread count.
// Contract checked: NaN where the reference has NaN, the same infinities, finite results within a
// few ULP (a wrong lane, tail or chunk is off by far more); in-place calls equal out-of-place ones;
// elements past n are never written; 1 thread and N threads agree bitwise.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "kernels/activations/activations_kernels.hpp"
#include "mlpkit/activations.hpp"

using namespace mlpkit;
using namespace mlpkit::fuzz;

namespace {

// ULP-scaled tolerance around the reference value r, plus an absolute floor scaled by `scale`.
template <class T>
double tolerance(T r, double ulps, double scale) {
  const double eps = std::numeric_limits<T>::epsilon();
  return ulps * eps * std::abs(static_cast<double>(r)) + ulps * eps * scale + std::numeric_limits<T>::denorm_min();
}

template <class T>
std::vector<T> draw(FuzzedDataProvider& in, std::size_t n, int kind) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (kind) {
      case 0:
        v[i] = any_value<T>(in);
        break;
      case 1:
        v[i] = uniform<T>(in, -30, 30);
        break;
      default:
        v[i] = uniform<T>(in, -1e4, 1e4);
        break;
    }
  }
  return v;
}

template <class T>
void check_elementwise(const char* what, Activation f, const std::vector<T>& got, const std::vector<T>& want,
                       const std::vector<T>& scale, double ulps) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double s = scale.empty() ? 1.0 : std::abs(static_cast<double>(scale[i]));
    MLPKIT_FUZZ_CHECK(close(got[i], want[i], tolerance(want[i], ulps, s)), "%s(%d) [%zu]: %.17g, reference %.17g",
                      what, int(f), i, double(got[i]), double(want[i]));
  }
}

template <class T>
void elementwise(FuzzedDataProvider& in, Isa isa, int threads) {
  const Activation f = static_cast<Activation>(in.ConsumeIntegralInRange<int>(0, 6));
  const int kind = in.ConsumeIntegralInRange<int>(0, 2);
  const T slope = in.ConsumeBool() ? T(0.01) : uniform<T>(in, 0, 2);
  const std::size_t drawn = in.ConsumeIntegralInRange<std::size_t>(0, 300);
  // Sometimes a length of several chunks (kActivationChunk), so the threaded path runs.
  const std::size_t n = in.ConsumeIntegralInRange<int>(0, 15) == 0 && drawn > 0 ? drawn * 37 + 17001 : drawn;
  std::vector<T> x = draw<T>(in, drawn, kind), dy = draw<T>(in, drawn, 1);
  x.resize(n);
  dy.resize(n);
  for (std::size_t i = drawn; i < n; ++i) x[i] = x[i % drawn], dy[i] = dy[i % drawn];

  const auto& ref = detail::activation_kernels_ref<T>();
  std::vector<T> y_ref(n), dx_ref(n), dxo_ref(n);
  ref.forward(f, x.data(), y_ref.data(), n, slope, false);
  ref.backward(f, x.data(), dy.data(), dx_ref.data(), n, slope, false);
  const bool from_output = f != Activation::gelu && f != Activation::gelu_tanh;
  if (from_output) ref.backward_from_output(f, y_ref.data(), dy.data(), dxo_ref.data(), n, slope, false);

  // Outputs with one guard element past n.
  std::vector<T> y(n + 1, T(-7)), dx(n + 1, T(-7)), dxo(n + 1, T(-7)), y_serial(n + 1), dx_serial(n + 1);
  {
    ScopedSetup setup(isa, threads);
    activation_forward<T>(f, x.data(), y.data(), n, slope);
    activation_backward<T>(f, x.data(), dy.data(), dx.data(), n, slope);
    if (from_output) activation_backward_from_output<T>(f, y.data(), dy.data(), dxo.data(), n, slope);
  }
  {
    ScopedSetup setup(isa, 1);
    y_serial = std::vector<T>(n + 1, T(-7));
    dx_serial = std::vector<T>(n + 1, T(-7));
    activation_forward<T>(f, x.data(), y_serial.data(), n, slope);
    activation_backward<T>(f, x.data(), dy.data(), dx_serial.data(), n, slope);
    // In place: y = f(y) and dx = dy·f'(x) written over dy.
    std::vector<T> in_place = x;
    activation_forward<T>(f, in_place.data(), in_place.data(), n, slope);
    MLPKIT_FUZZ_CHECK(same_bits(in_place.data(), y_serial.data(), n), "in-place forward differs (f %d)", int(f));
    std::vector<T> dy_place = dy;
    activation_backward<T>(f, x.data(), dy_place.data(), dy_place.data(), n, slope);
    MLPKIT_FUZZ_CHECK(same_bits(dy_place.data(), dx_serial.data(), n), "in-place backward differs (f %d)", int(f));
  }
  MLPKIT_FUZZ_CHECK(same_bits(y.data(), y_serial.data(), n + 1), "forward: %d threads differ from 1", threads);
  MLPKIT_FUZZ_CHECK(same_bits(dx.data(), dx_serial.data(), n + 1), "backward: %d threads differ from 1", threads);
  MLPKIT_FUZZ_CHECK(y[n] == T(-7) && dx[n] == T(-7) && dxo[n] == T(-7), "an element past n was written");
  y.resize(n);
  dx.resize(n);
  dxo.resize(n);
  // Documented accuracy: sigmoid, tanh 2 ULP, gelu 4 ULP against long double; the reference is
  // itself a few ULP off, so 8 ULP (backward: its product with dy, scaled by |dy|).
  check_elementwise("activation_forward", f, y, y_ref, {}, 8);
  check_elementwise("activation_backward", f, dx, dx_ref, dy, 16);
  if (from_output) {
    // From y the derivative is re-derived from a rounded y: 1 − y² and y(1 − y) lose digits where
    // y is near ±1, so compare with the reference applied to the same y.
    check_elementwise("activation_backward_from_output", f, dxo, dxo_ref, dy, 16);
  }
}

template <class T>
void softmax_case(FuzzedDataProvider& in, Isa isa, int threads) {
  const std::size_t rows = in.ConsumeIntegralInRange<std::size_t>(0, 40);
  const std::size_t cols = in.ConsumeIntegralInRange<std::size_t>(0, in.ConsumeBool() ? 40 : 700);
  const std::size_t ld = cols + in.ConsumeIntegralInRange<std::size_t>(0, 3);
  const bool log = in.ConsumeBool();
  const int kind = in.ConsumeIntegralInRange<int>(0, 2);
  std::vector<T> z(span_elements(rows, cols, ld), padding_nan<T>());
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) {
      const std::size_t at = i * ld + j;
      // Columns beyond what the input holds repeat earlier ones.
      z[at] = in.remaining_bytes() > 0 ? draw<T>(in, 1, kind)[0] : (at >= ld ? z[at - ld] : T(0.5));
    }
  std::vector<T> want(z.size(), T(0));
  const auto& ref = detail::activation_kernels_ref<T>();
  if (rows > 0 && cols > 0) ref.softmax_columns(z.data(), ld, want.data(), ld, rows, cols, log);

  std::vector<T> got(z.size(), padding_nan<T>()), serial = got, in_place = z;
  {
    ScopedSetup setup(isa, threads);
    (log ? log_softmax<T> : softmax<T>)({z.data(), rows, cols, ld}, {got.data(), rows, cols, ld});
  }
  {
    ScopedSetup setup(isa, 1);
    (log ? log_softmax<T> : softmax<T>)({z.data(), rows, cols, ld}, {serial.data(), rows, cols, ld});
    (log ? log_softmax<T> : softmax<T>)({in_place.data(), rows, cols, ld}, {in_place.data(), rows, cols, ld});
  }
  MLPKIT_FUZZ_CHECK(same_bits(got.data(), serial.data(), got.size()), "softmax: %d threads differ from 1", threads);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < ld; ++j) {
      const std::size_t at = i * ld + j;
      if (at >= got.size()) break;
      if (j >= cols) {
        MLPKIT_FUZZ_CHECK(std::isnan(got[at]), "softmax wrote padding (%zu, %zu)", i, j);
        continue;
      }
      MLPKIT_FUZZ_CHECK(same_bits(&got[at], &in_place[at], 1), "in-place softmax differs at (%zu, %zu)", i, j);
      // log softmax: absolute error ~ eps·(|z − max| + log rows); softmax: relative ~ eps·that.
      double spread = 0;
      for (std::size_t r = 0; r < rows; ++r)
        if (std::isfinite(z[r * ld + j])) spread = std::max(spread, std::abs(static_cast<double>(z[r * ld + j])));
      // Capped so 2·spread stays finite: an infinite factor times a zero reference would make the tolerance NaN.
      spread = std::min(spread, std::numeric_limits<double>::max() / 4);
      const double eps = std::numeric_limits<T>::epsilon();
      const double tol = log ? 16 * eps * (2 * spread + 1 + std::abs(double(want[at])))
                             : 16 * eps * std::abs(double(want[at])) * (1 + 2 * spread) + 16 * std::numeric_limits<T>::min();
      if (!close(got[at], want[at], tol)) {
        for (std::size_t r = 0; r < rows; ++r) std::fprintf(stderr, "z(%zu, %zu) = %.17g\n", r, j, double(z[r * ld + j]));
        MLPKIT_FUZZ_CHECK(false, "%s(%zu, %zu) = %.17g, reference %.17g (rows %zu cols %zu)", log ? "log_softmax" : "softmax",
                          i, j, double(got[at]), double(want[at]), rows, cols);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const bool single = in.ConsumeBool();
  const bool softmax_family = in.ConsumeBool();
  const Isa isa = pick_isa(in);
  const int threads = in.ConsumeIntegralInRange<int>(1, 4);
  if (single)
    softmax_family ? softmax_case<float>(in, isa, threads) : elementwise<float>(in, isa, threads);
  else
    softmax_family ? softmax_case<double>(in, isa, threads) : elementwise<double>(in, isa, threads);
  return 0;
}
