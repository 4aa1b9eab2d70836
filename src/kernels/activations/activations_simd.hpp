#pragma once
// Activation and softmax kernels written once against xsimd and compiled per ISA (see isa/<isa>.cpp).
// Everything here is a template over the arch tag, so no symbol is shared between ISA objects.
// The GEMM epilogue includes this header for activate().
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/activations/activations_fast.hpp"
#include "kernels/activations/activations_gelu.hpp"
#include "kernels/activations/activations_kernels.hpp"
#include "kernels/activations/activations_math.hpp"
#include "kernels/activations/activations_sigmoid_tanh.hpp"
#include "kernels/simd/simd.hpp"

namespace mlpkit::detail::simd {

/** gelu of the tier with everything it calls inlined (the fast double gelu: see activate_as). */
template <class Arch, class T, bool fast>
[[gnu::always_inline, gnu::flatten]] inline xsimd::batch<T, Arch> gelu_flattened(const xsimd::batch<T, Arch>& x) {
  if constexpr (fast) return fast::gelu(x);
  else return simd::gelu(x);
}

/**
 * f(x) lane by lane for an f and tier fixed at compile time: the body of activation_forward's loops,
 * always inlined there (through activate's run-time switch GCC kept it out of line, and sigmoid and
 * gelu lost 10–20 %).
 */
template <class Arch, class T, Activation f, Accuracy accuracy>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> activate_as(const xsimd::batch<T, Arch>& x, T leaky_slope) {
  using B = xsimd::batch<T, Arch>;
  constexpr bool fast = accuracy == Accuracy::fast;
  if constexpr (f == Activation::relu) {
    return xsimd::select(x < B(T(0)), B(T(0)), x);  // keeps −0 and NaN
  } else if constexpr (f == Activation::leaky_relu) {
    return xsimd::select(x < B(T(0)), x * leaky_slope, x);
  } else if constexpr (f == Activation::sigmoid) {
    if constexpr (fast) return fast::sigmoid(x);
    else return sigmoid(x);
  } else if constexpr (f == Activation::tanh) {
    if constexpr (fast) return fast::tanh(x);
    else return simd::tanh(x);
  } else if constexpr (f == Activation::gelu) {
    if constexpr (std::is_same_v<T, double> && fast) return gelu_flattened<Arch, T, fast>(x);
    else if constexpr (fast) return fast::gelu(x);
    else return simd::gelu(x);
  } else if constexpr (f == Activation::gelu_tanh) {
    if constexpr (fast) return fast::gelu_tanh(x);
    else return simd::gelu_tanh(x);
  } else {
    return x;
  }
}

/**
 * fn(std::integral_constant<Activation, f>{}) for the run-time f, so that fn is instantiated once per
 * activation and its loop holds no switch (an f outside the enum, which callers reject, gets identity).
 */
template <class Fn>
[[gnu::always_inline]] inline decltype(auto) visit_activation(Activation f, Fn&& fn) {
  switch (f) {
    case Activation::relu:
      return fn(std::integral_constant<Activation, Activation::relu>{});
    case Activation::leaky_relu:
      return fn(std::integral_constant<Activation, Activation::leaky_relu>{});
    case Activation::sigmoid:
      return fn(std::integral_constant<Activation, Activation::sigmoid>{});
    case Activation::tanh:
      return fn(std::integral_constant<Activation, Activation::tanh>{});
    case Activation::gelu:
      return fn(std::integral_constant<Activation, Activation::gelu>{});
    case Activation::gelu_tanh:
      return fn(std::integral_constant<Activation, Activation::gelu_tanh>{});
    case Activation::identity:
      break;
  }
  return fn(std::integral_constant<Activation, Activation::identity>{});
}

/** f(x) lane by lane in the given tier, as activation_forward computes it (bitwise the same values). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> activate(Activation f, const xsimd::batch<T, Arch>& x, T leaky_slope,
                                      Accuracy accuracy = Accuracy::precise) {
  const auto in_tier = [&](auto kind) {
    constexpr Activation g = decltype(kind)::value;
    return accuracy == Accuracy::fast ? activate_as<Arch, T, g, Accuracy::fast>(x, leaky_slope)
                                      : activate_as<Arch, T, g, Accuracy::precise>(x, leaky_slope);
  };
  return visit_activation(f, in_tier);
}

/** dy·f'(x), as activation_backward computes it. */
template <class Arch, class T>
inline xsimd::batch<T, Arch> derivative_times(Activation f, const xsimd::batch<T, Arch>& x,
                                              const xsimd::batch<T, Arch>& dy, T leaky_slope) {
  using B = xsimd::batch<T, Arch>;
  switch (f) {
    case Activation::identity:
      return dy;
    case Activation::relu:
      return xsimd::select(x > B(T(0)), dy, B(T(0)));
    case Activation::leaky_relu:
      return xsimd::select(x > B(T(0)), dy, dy * leaky_slope);
    case Activation::sigmoid:
      return dy * sigmoid_slope(x);  // e/(1+e)², e = e^−|x| (activations_sigmoid_tanh.hpp)
    case Activation::tanh:
      return dy * tanh_slope(x);  // 4e/(1+e)², e = e^−2|x|
    case Activation::gelu:
      return gelu_derivative_times(x, dy);
    case Activation::gelu_tanh:
      return gelu_tanh_derivative_times(x, dy);
  }
  return dy;  // not reached: f is checked by the callers
}

/** dy·f'(x) from y = f(x). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> derivative_from_output_times(Activation f, const xsimd::batch<T, Arch>& y,
                                                          const xsimd::batch<T, Arch>& dy, T leaky_slope) {
  switch (f) {
    case Activation::sigmoid:
      return dy * (y * (T(1) - y));
    case Activation::tanh:
      return dy * ((T(1) - y) * (T(1) + y));
    case Activation::relu:
    case Activation::leaky_relu:  // y > 0 exactly where x > 0 (the caller checks leaky_slope ≥ 0)
      return derivative_times(f, y, dy, leaky_slope);
    default:
      return dy;
  }
}

// op on the full batches of [i, n), `unroll` (1, 2 or 4) per step: independent evaluations in flight
// hide part of the latency of the long dependency chains (sigmoid, tanh); the pointers are local
// copies, so the compiler keeps them in registers across the stores. Returns where the full batches end.
// With 2 or 4 per step, a step's inputs are loaded before the previous step's outputs are stored: an
// output a few lines ahead of its input within the 4 KiB page (two arrays of one size allocated one
// after the other lie 16 bytes apart there) otherwise made every load wait on the store just before
// it, whose address matches in the 12 bits the CPU compares first (4K aliasing). Fast float sigmoid,
// 4 Mi floats, one thread, Ice Lake-SP, y 16-128 bytes ahead of x: 1.1-1.5 G items/s before, 1.7-2.3
// now (in cache unchanged). In place (y = x) no load meets a store to its own 12 bits.
template <class Arch, class T, std::size_t unroll, class Op, class Store>
[[gnu::always_inline]] inline std::size_t batches(const T* a, const T* b, T* out, std::size_t i, std::size_t n,
                                                  Op& op, Store store) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t w = B::size;
  const T* const pa = a;
  const T* const pb = b;
  T* const po = out;
  static_assert(unroll == 1 || unroll == 2 || unroll == 4);
  if constexpr (unroll == 2 && requires(const B& v) { op.fits(v, v); op.inside(v); }) {
    // Runs of steps whose lanes all fit op's branch-free part take it, one test per step; a step with
    // any other lane takes op itself, out of the run's loop, then the run resumes (unary ops only: b
    // is not read).
    while (i + 2 * w <= n) {
      B a0 = B::load_unaligned(pa + i), a1 = B::load_unaligned(pa + i + w);
      bool outliers = false;
      for (;;) {
        if (!op.fits(a0, a1)) {
          outliers = true;
          break;
        }
        const B y0 = op.inside(a0), y1 = op.inside(a1);
        const bool last = i + 4 * w > n;
        if (!last) {
          a0 = B::load_unaligned(pa + i + 2 * w);
          a1 = B::load_unaligned(pa + i + 3 * w);
        }
        store(po + i, y0);
        store(po + i + w, y1);
        i += 2 * w;
        if (last) break;
      }
      if (!outliers) break;
      store(po + i, op(a0, a0));
      store(po + i + w, op(a1, a1));
      i += 2 * w;
    }
  }
  // Steps of U batches over [i, n), each loading the next step's inputs before storing its outputs.
  const auto steps = [&]<std::size_t U>(std::integral_constant<std::size_t, U>) __attribute__((always_inline)) {
    if (i + U * w > n) return;
    B va[U], vb[U];
    const auto load = [&](std::size_t j) __attribute__((always_inline)) {
      for (std::size_t u = 0; u < U; ++u) {
        va[u] = B::load_unaligned(pa + j + u * w);
        vb[u] = pb ? B::load_unaligned(pb + j + u * w) : va[u];
      }
    };
    load(i);
    for (;;) {
      B y[U];
      for (std::size_t u = 0; u < U; ++u) y[u] = op(va[u], vb[u]);
      const bool last = i + 2 * U * w > n;
      if (!last) load(i + U * w);
      for (std::size_t u = 0; u < U; ++u) store(po + i + u * w, y[u]);
      i += U * w;
      if (last) return;
    }
  };
  if constexpr (unroll == 4) steps(std::integral_constant<std::size_t, 4>{});
  if constexpr (unroll >= 2) steps(std::integral_constant<std::size_t, 2>{});  // after four per step: at most once
  for (; i + w <= n; i += w) {  // unroll 1 (in place), or at most once
    const B a0 = B::load_unaligned(pa + i);
    store(po + i, op(a0, pb ? B::load_unaligned(pb + i) : a0));
  }
  return i;
}

// Applies op to full batches, and to a partial batch (the tail, or with stream the elements before
// the first aligned output) through a zero-padded batch, so every element gets the same arithmetic
// wherever it sits (chunk boundaries and alignment cannot change a result). With stream, the full
// batches are written with non-temporal stores, fenced before returning.
template <class Arch, class T, std::size_t unroll = 2, class Op>
inline void elementwise(const T* a, const T* b, T* out, std::size_t n, Op&& op, bool stream = false) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t w = B::size;
  const auto partial = [&](std::size_t begin, std::size_t end) {
    alignas(64) T ta[w] = {}, tb[w] = {};
    std::copy(a + begin, a + end, ta);
    if (b) std::copy(b + begin, b + end, tb);
    alignas(64) T to[w];
    op(B::load_aligned(ta), b ? B::load_aligned(tb) : B::load_aligned(ta)).store_aligned(to);
    std::copy(to, to + (end - begin), out + begin);
  };
  std::size_t i = 0;
  if (stream) {
    while (i < n && reinterpret_cast<std::uintptr_t>(out + i) % sizeof(B) != 0) ++i;  // fewer than w
    if (i > 0) partial(0, i);
    i = batches<Arch, T, unroll>(a, b, out, i, n, op, [](T* p, const B& v) { ops::store_stream<Arch, T>(p, v); });
    ops::stream_fence<Arch>();  // non-temporal stores are weakly ordered: publish them before returning
  }
  i = batches<Arch, T, unroll>(a, b, out, i, n, op, [](T* p, const B& v) { v.store_unaligned(p); });
  if (i < n) partial(i, n);
}

// y = x with vector loads and stores (identity forward, and backward's dx = dy): memmove in 32 KiB
// chunks ran at half memcpy's speed.
template <class Arch, class T>
void copy(const T* x, T* y, std::size_t n, bool stream) {
  using B = xsimd::batch<T, Arch>;
  if (x != y) elementwise<Arch>(x, static_cast<const T*>(nullptr), y, n, [](const B& v, const B&) { return v; }, stream);
}

/**
 * The fast float sigmoid as a lane function with its parts, for batches(): the steps whose lanes all
 * lie in |x| ≤ 87 take sigmoid_inside with one range test per step, the others fast::sigmoid. (AVX-512:
 * the per-batch test left a call to the out-of-range form inside the loop, which spilled x and reloaded
 * constants after it.) The same values as fast::sigmoid, lane by lane.
 */
template <class Arch>
struct FastSigmoidLanes {
  using B = xsimd::batch<float, Arch>;
  /** fast::sigmoid of v (the second operand is unused). */
  [[gnu::always_inline]] B operator()(const B& v, const B&) const { return fast::sigmoid(v); }
  /** Whether every lane of a and b lies in the range of inside(). */
  [[gnu::always_inline]] static bool fits(const B& a, const B& b) { return fast::sigmoid_fits(a, b); }
  /** fast::sigmoid for a batch whose lanes fit. */
  [[gnu::always_inline]] static B inside(const B& v) { return fast::sigmoid_inside(v); }
};

// One loop per function and tier, its lane function inlined (activate_as).
template <class Arch, class T, Accuracy accuracy>
void forward(Activation f, const T* x, T* y, std::size_t n, T slope, bool stream) {
  using B = xsimd::batch<T, Arch>;
  const T* none = nullptr;
  auto run = [&](auto kind) {
    // The AVX-512 fast tanh and double sigmoid (branch-free, a division last) gain from four in flight
    // (4096, one thread: double sigmoid 2.6 → 3.0 G items/s); 16 registers hold fewer. The float
    // sigmoid branches per batch (fast::sigmoid): two per step (four: 8.9 → 8.8). The GELU family takes
    // four in both tiers (float gelu_tanh 2.0 → 2.4 precise, 2.85 → 3.1 fast; the precise double gelu,
    // called rather than flattened (activate_as), 0.39–0.44 → 0.51–0.56 against two flattened).
    constexpr Activation g = decltype(kind)::value;
    constexpr bool gelu_family = g == Activation::gelu || g == Activation::gelu_tanh;
    constexpr bool four = is_avx512<Arch> && (gelu_family || (accuracy == Accuracy::fast &&
                          (g == Activation::tanh || (g == Activation::sigmoid && std::is_same_v<T, double>))));
    constexpr std::size_t unroll = four ? 4 : 2;
    if constexpr (g == Activation::sigmoid && accuracy == Accuracy::fast && std::is_same_v<T, float>) {
      elementwise<Arch, T, unroll>(x, none, y, n, FastSigmoidLanes<Arch>{}, stream);
    } else {
      elementwise<Arch, T, unroll>(x, none, y, n, [slope](const B& v, const B&) __attribute__((always_inline)) {
        return activate_as<Arch, T, decltype(kind)::value, accuracy>(v, slope);
      }, stream);
    }
  };
  if (f == Activation::identity) return copy<Arch>(x, y, n, stream);
  visit_activation(f, run);
}

/**
 * Z ← act(Z) in place over a rows × cols block at row stride ld, in the given tier: the activation
 * pass of the fused GEMM epilogue, run on a tile just stored (still in L1). Out of line, with the
 * function and tier resolved once per block: the per-vector switch of activate() inside the tile
 * stores cost a fifth of a fused 64×256×64 product, and its inlined GELU forms crowded the
 * micro-kernel. The same lane function and the same padded tail as forward, so the values are
 * bitwise those of activation_forward.
 */
template <class Arch, class T>
[[gnu::noinline]] void activate_rows(Activation f, Accuracy tier, T slope, T* z, std::size_t ld, std::size_t rows,
                                     std::size_t cols) {
  using B = xsimd::batch<T, Arch>;
  if (f == Activation::identity) return;
  const auto in_tier = [&](auto kind, auto accuracy) {
    const auto lane = [slope](const B& v, const B&) __attribute__((always_inline)) {
      return activate_as<Arch, T, decltype(kind)::value, decltype(accuracy)::value>(v, slope);
    };
    for (std::size_t i = 0; i < rows; ++i) elementwise<Arch, T, 1>(z + i * ld, nullptr, z + i * ld, cols, lane);
  };
  visit_activation(f, [&](auto kind) {
    if (tier == Accuracy::fast) in_tier(kind, std::integral_constant<Accuracy, Accuracy::fast>{});
    else in_tier(kind, std::integral_constant<Accuracy, Accuracy::precise>{});
  });
}

// dx = dy·f'(·) for the pointwise functions, reading `from` (x or y = f(x)): one loop per function,
// so the switch inside `lane(kind, from, dy)` (kind: an integral_constant) is resolved outside the loop.
template <class Arch, class T, class Lane>
inline void derivative_loop(Activation f, const T* from, const T* dy, T* dx, std::size_t n, bool stream, Lane&& lane) {
  using B = xsimd::batch<T, Arch>;
  if (f == Activation::identity) return copy<Arch>(dy, dx, n, stream);
  auto run = [&](auto kind) {
    elementwise<Arch>(from, dy, dx, n, [&lane, kind](const B& v, const B& vdy) { return lane(kind, v, vdy); }, stream);
  };
  visit_activation(f, run);  // gelu and gelu_tanh: backward only (backward_from_output rejects them)
}

template <class Arch, class T>
void backward(Activation f, const T* x, const T* dy, T* dx, std::size_t n, T slope, bool stream) {
  using B = xsimd::batch<T, Arch>;
  derivative_loop<Arch>(f, x, dy, dx, n, stream, [slope](auto kind, const B& vx, const B& vdy) {
    return derivative_times<Arch, T>(decltype(kind)::value, vx, vdy, slope);
  });
}

template <class Arch, class T>
void backward_from_output(Activation f, const T* y, const T* dy, T* dx, std::size_t n, T slope, bool stream) {
  using B = xsimd::batch<T, Arch>;
  derivative_loop<Arch>(f, y, dy, dx, n, stream, [slope](auto kind, const B& vy, const B& vdy) {
    return derivative_from_output_times<Arch, T>(decltype(kind)::value, vy, vdy, slope);
  });
}

// A batch of adjacent columns at a time: rows are contiguous, so each row contributes one load.
template <class Arch, class T>
void softmax_columns(const T* z, std::size_t ldz, T* out, std::size_t ldo, std::size_t rows, std::size_t cols,
                     bool log) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t w = B::size;
  std::size_t j = 0;
  for (; j + w <= cols && rows != 0; j += w) {
    B max = B::load_unaligned(z + j);
    auto has_nan = max != max;
    for (std::size_t i = 1; i < rows; ++i) {
      const B v = B::load_unaligned(z + i * ldz + j);
      max = xsimd::max(max, v);
      has_nan = has_nan || (v != v);
    }
    // A NaN anywhere in the column makes the whole column NaN (max alone might skip it).
    max = xsimd::select(has_nan, B(std::numeric_limits<T>::quiet_NaN()), max);
    B total(T(0));
    for (std::size_t i = 0; i < rows; ++i) {
      const B e = exp_any(B::load_unaligned(z + i * ldz + j) - max);
      total += e;
      if (!log) e.store_unaligned(out + i * ldo + j);
    }
    if (log) {
      const B log_total = xsimd::log(total);
      for (std::size_t i = 0; i < rows; ++i)
        ((B::load_unaligned(z + i * ldz + j) - max) - log_total).store_unaligned(out + i * ldo + j);
    } else {
      for (std::size_t i = 0; i < rows; ++i)
        (B::load_unaligned(out + i * ldo + j) / total).store_unaligned(out + i * ldo + j);
    }
  }
  if (j < cols) activation_kernels_ref<T>().softmax_columns(z + j, ldz, out + j, ldo, rows, cols - j, log);
}

template <class Arch, class T>
void exp(const T* x, T* y, std::size_t n) {
  using B = xsimd::batch<T, Arch>;
  elementwise<Arch>(x, static_cast<const T*>(nullptr), y, n, [](const B& v, const B&) { return exp_any(v); });
}

// log1p(u) for u = e^−|x| ∈ [0, 1]: xsimd's log1p (fdlibm's, with the rounding of 1 + u corrected)
// damps the error of e^a by u/(1 + u) ≤ ½ where u is not small, so the sum stays near 1 ULP.
template <class Arch, class T>
void softplus_neg_abs(const T* x, T* y, std::size_t n) {
  using B = xsimd::batch<T, Arch>;
  elementwise<Arch>(x, static_cast<const T*>(nullptr), y, n, [](const B& v, const B&) {
    return xsimd::log1p(exp_nonpositive(negative_abs_clamped(v, -exp_underflow_limit<T>())));
  });
}

}  // namespace mlpkit::detail::simd

namespace mlpkit::detail {

template <class Arch, class T>
const ActivationKernels<T>& activation_kernels() {
  static_assert(Arch::supported(), "compile this ISA's source with its flags (cmake/MlpkitCompileOptions.cmake)");
  static constexpr ActivationKernels<T> table{&simd::forward<Arch, T, Accuracy::precise>,
                                              &simd::forward<Arch, T, Accuracy::fast>, &simd::backward<Arch, T>,
                                              &simd::backward_from_output<Arch, T>,
                                              &simd::softmax_columns<Arch, T>, &simd::exp<Arch, T>,
                                              &simd::softplus_neg_abs<Arch, T>};
  return table;
}

}  // namespace mlpkit::detail
