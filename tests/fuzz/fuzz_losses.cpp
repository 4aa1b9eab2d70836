// Fuzzes the losses (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy_with_logits,
// mean_squared_error) and their gradients against a long double reference written here, at any
// shape, ld, ISA and thread count. Valid inputs must match the reference and agree bitwise across
// thread counts and with the in-place form; invalid inputs (labels or probabilities out of range,
// empty batches) must throw mlpkit::Error and leave the gradient buffer untouched.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "mlpkit/losses.hpp"

using namespace mlpkit;
using namespace mlpkit::fuzz;

namespace {

using Long = long double;

enum class Kind { bce, bce_logits, ce_logits, mse };

struct RefResult {
  Long loss = 0, magnitude = 0;  // magnitude: Σ |terms| / m, scales the rounding tolerance
  std::vector<Long> grad;        // dense r × m
};

template <class T>
RefResult reference(Kind kind, const std::vector<T>& p, const std::vector<T>& y, std::size_t r, std::size_t m,
                    std::size_t ld) {
  RefResult out;
  out.grad.assign(r * m, 0);
  const Long inv_m = Long(1) / Long(m);
  for (std::size_t j = 0; j < m; ++j) {
    Long max = -std::numeric_limits<Long>::infinity(), sum_exp = 0;
    if (kind == Kind::ce_logits) {
      for (std::size_t i = 0; i < r; ++i) max = std::max(max, Long(p[i * ld + j]));
      for (std::size_t i = 0; i < r; ++i) sum_exp += std::exp(Long(p[i * ld + j]) - max);
    }
    for (std::size_t i = 0; i < r; ++i) {
      const Long v = p[i * ld + j], t = y[i * ld + j];
      Long term = 0, g = 0;
      switch (kind) {
        case Kind::bce:
          term = t == 1 ? -std::log(v) : -std::log1p(-v);
          break;
        case Kind::bce_logits: {
          term = std::max(v, Long(0)) - v * t + std::log1p(std::exp(-std::abs(v)));
          const Long sigma = v >= 0 ? 1 / (1 + std::exp(-v)) : std::exp(v) / (1 + std::exp(v));
          g = (sigma - t) * inv_m;
          break;
        }
        case Kind::ce_logits: {
          const Long log_p = v - max - std::log(sum_exp);
          term = t != 0 ? -t * log_p : 0;
          out.magnitude += t * (std::abs(v - max) + std::log(Long(r)) + 1) * inv_m;
          g = (std::exp(log_p) - t) * inv_m;
          break;
        }
        case Kind::mse:
          term = (v - t) * (v - t) / 2;
          g = (v - t) * inv_m;
          break;
      }
      out.loss += term * inv_m;
      out.magnitude += std::abs(term) * inv_m;
      out.grad[i * m + j] = g;
    }
  }
  return out;
}

template <class T>
T call(Kind kind, MatrixView<const T> p, MatrixView<const T> y, MatrixView<T> grad) {
  switch (kind) {
    case Kind::bce:
      return binary_cross_entropy<T>(p, y);
    case Kind::bce_logits:
      return binary_cross_entropy_with_logits<T>(p, y, grad);
    case Kind::ce_logits:
      return cross_entropy_with_logits<T>(p, y, grad);
    case Kind::mse:
      break;
  }
  return mean_squared_error<T>(p, y, grad);
}

template <class T>
void run(FuzzedDataProvider& in) {
  const Isa isa = pick_isa(in);
  const int threads = in.ConsumeIntegralInRange<int>(1, 4);
  const Kind kind = static_cast<Kind>(in.ConsumeIntegralInRange<int>(0, 3));
  const std::size_t r = in.ConsumeIntegralInRange<std::size_t>(0, 12);
  const std::size_t m = in.ConsumeIntegralInRange<std::size_t>(0, in.ConsumeBool() ? 20 : 1300);
  const std::size_t ld = m + in.ConsumeIntegralInRange<std::size_t>(0, 3);
  const bool valid = in.ConsumeIntegralInRange<int>(0, 7) != 0;
  const bool with_grad = kind != Kind::bce && in.ConsumeBool();
  const double spread = in.ConsumeBool() ? 5.0 : 60.0;

  const std::size_t elements = span_elements(r, m, ld);
  std::vector<T> p(elements, padding_nan<T>()), y(elements, padding_nan<T>());
  for (std::size_t j = 0; j < m; ++j) {
    // One-hot column for cross-entropy (soft labels sometimes), 0/1 labels for BCE.
    const std::size_t hot = r == 0 ? 0 : in.ConsumeIntegralInRange<std::size_t>(0, r - 1);
    for (std::size_t i = 0; i < r; ++i) {
      const std::size_t at = i * ld + j;
      const bool fresh = in.remaining_bytes() > 0;
      switch (kind) {
        case Kind::bce:
          p[at] = fresh ? uniform<T>(in, 0, 1) : T(0.25);
          y[at] = fresh && in.ConsumeBool() ? T(1) : T(0);
          break;
        case Kind::bce_logits:
          p[at] = fresh ? uniform<T>(in, -spread, spread) : T(-0.5);
          y[at] = fresh && in.ConsumeBool() ? T(1) : T(0);
          break;
        case Kind::ce_logits:
          p[at] = fresh ? uniform<T>(in, -spread, spread) : T(0.75);
          y[at] = i == hot ? T(1) : T(0);
          break;
        case Kind::mse:
          p[at] = fresh ? uniform<T>(in, -spread, spread) : T(1.5);
          y[at] = fresh ? uniform<T>(in, -spread, spread) : T(-1);
          break;
      }
    }
  }
  bool bad_in_y = false;
  if (!valid && elements > 0) {
    // One bad entry: a label or probability out of range, or NaN.
    const std::size_t at = in.ConsumeIntegralInRange<std::size_t>(0, r - 1) * ld +
                           in.ConsumeIntegralInRange<std::size_t>(0, m - 1);
    const T bad = in.ConsumeBool() ? std::numeric_limits<T>::quiet_NaN() : uniform<T>(in, 1.0001, 3);
    bad_in_y = in.ConsumeBool();
    (bad_in_y ? y : p)[at] = bad;
  }
  // Labels are checked by every loss but mse; probabilities by binary_cross_entropy only.
  const bool must_throw = elements == 0 || (!valid && ((bad_in_y && kind != Kind::mse) || (!bad_in_y && kind == Kind::bce)));

  const MatrixView<const T> vp{p.data(), r, m, ld}, vy{y.data(), r, m, ld};
  std::vector<T> grad(with_grad ? elements : 0, T(-7)), grad_serial = grad;
  const MatrixView<T> vg{with_grad ? grad.data() : nullptr, r, m, ld};
  const MatrixView<T> vg_serial{with_grad ? grad_serial.data() : nullptr, r, m, ld};
  T loss{}, loss_serial{};
  bool threw = false;
  try {
    ScopedSetup setup(isa, threads);
    loss = call<T>(kind, vp, vy, vg);
  } catch (const Error&) {
    threw = true;
  }
  MLPKIT_FUZZ_CHECK(threw == must_throw, "kind %d, %zu × %zu, valid %d, bad label %d: threw %d", int(kind), r, m,
                    int(valid), int(bad_in_y), int(threw));
  if (threw) {
    // Shapes and labels are checked before any gradient is written.
    MLPKIT_FUZZ_CHECK(std::all_of(grad.begin(), grad.end(), [](T g) { return g == T(-7); }),
                      "a throwing loss wrote its gradient (kind %d)", int(kind));
    return;
  }
  {
    ScopedSetup setup(isa, 1);
    loss_serial = call<T>(kind, vp, vy, vg_serial);
  }
  MLPKIT_FUZZ_CHECK(same_bits(&loss, &loss_serial, 1), "loss differs between %d threads and 1", threads);
  MLPKIT_FUZZ_CHECK(same_bits(grad.data(), grad_serial.data(), grad.size()), "gradient differs between threads");
  if (!valid) return;  // a NaN or out-of-range prediction (not a label) is allowed through by the logits losses

  if (with_grad) {
    // Under the same ISA as loss_serial: binary cross-entropy's log1p(e^−|z|) is a SIMD kernel,
    // whose last bit may differ between ISAs.
    ScopedSetup setup(isa, 1);
    std::vector<T> in_place = p;
    const T loss_in_place = call<T>(kind, {in_place.data(), r, m, ld}, vy, {in_place.data(), r, m, ld});
    MLPKIT_FUZZ_CHECK(same_bits(&loss_in_place, &loss_serial, 1), "in-place loss differs");
    for (std::size_t i = 0; i < r; ++i)
      MLPKIT_FUZZ_CHECK(same_bits(in_place.data() + i * ld, grad_serial.data() + i * ld, m), "in-place gradient differs");
  }

  const RefResult want = reference<T>(kind, p, y, r, m, ld);
  const double eps = std::numeric_limits<T>::epsilon();
  // Sums run in double, sequentially within blocks of 256 examples: the worst-case bound of that
  // order (terms per block · ε_double · Σ|terms|), plus the final rounding to T.
  const double terms = double(r) * double(std::min<std::size_t>(m, 256)) + double(m) / 256 + 4;
  const double tol = terms * std::numeric_limits<double>::epsilon() * (static_cast<double>(want.magnitude) + 1e-30);
  MLPKIT_FUZZ_CHECK(close(loss, static_cast<T>(want.loss), tol + 2 * eps * std::abs(double(want.loss))),
                    "loss %d = %.17g, reference %.17g (r %zu m %zu, tolerance %.3g)", int(kind), double(loss), double(want.loss), r, m, tol);
  for (std::size_t i = 0; i < r && with_grad; ++i)
    for (std::size_t j = 0; j < ld; ++j) {
      const std::size_t at = i * ld + j;
      if (at >= grad.size()) break;
      if (j >= m) {
        MLPKIT_FUZZ_CHECK(grad[at] == T(-7), "gradient padding (%zu, %zu) written", i, j);
        continue;
      }
      const double g_tol = 16 * eps * (std::abs(double(want.grad[i * m + j])) + 1.0 / double(m));
      MLPKIT_FUZZ_CHECK(close(grad[at], static_cast<T>(want.grad[i * m + j]), g_tol),
                        "gradient %d (%zu, %zu) = %.17g, reference %.17g", int(kind), i, j, double(grad[at]),
                        double(want.grad[i * m + j]));
    }
}

}  // namespace

MLPKIT_FUZZ_FLOAT_AND_DOUBLE(run)
