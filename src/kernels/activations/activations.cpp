// Public activation and softmax API: argument checks, chunked multithreading, dispatch.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/activations/activations_kernels.hpp"
#include "kernels/simd/simd.hpp"
#include "mlpkit/activations.hpp"
#include "runtime/checks.hpp"
#include "runtime/dispatch.hpp"
#include "runtime/threads.hpp"

namespace mlpkit {
namespace detail {

MLPKIT_DEFINE_ACTIVE_KERNELS(ActivationKernels, activation)

namespace {

// Rough cost per element in flops, for the parallel cut-off only.
double cost_per_element(Activation f) {
  switch (f) {
    case Activation::identity:
    case Activation::relu:
    case Activation::leaky_relu:
      return 2;
    case Activation::sigmoid:
    case Activation::tanh:
      return 25;
    default:  // the gelu family, and any new transcendental form until measured
      return 60;
  }
}

// Non-temporal stores for the memory-bound functions only, on arrays too large for the cache. A
// function slower than memory gains nothing from bypassing the cache, and its sparse streaming
// stores cost more than they save (precise sigmoid on 4 Mi floats, one thread: 3.2 → 2.3 G items/s).
// The fast tier computes near (sigmoid, tanh: above) the rate memory moves its data, so it streams too
// (fast sigmoid, 4 Mi floats, one thread: 4.1 → 4.7 G items/s; fast gelu 2.27 → 2.43).
bool stream_output(Activation f, Accuracy accuracy, std::size_t bytes) {
  const bool fast_enough = accuracy == Accuracy::fast && f != Activation::identity;
  return (cost_per_element(f) <= 2 || fast_enough) && use_streaming_stores(bytes);
}

}  // namespace

void check_overlap(const char* function, const char* a_name, const void* a, const char* b_name, const void* b,
                   std::size_t bytes) {
  const auto* first = static_cast<const std::byte*>(a);
  const auto* second = static_cast<const std::byte*>(b);
  if (a == b || !views_overlap(array_view(first, bytes), array_view(second, bytes))) return;
  fail(function, a_name, " and ", b_name, " overlap without being the same array (", a, " and ", b, ", ", bytes,
       " bytes each)");
}

/** Runs kernel(begin, count) over [0, n) in fixed chunks, spread over threads when long enough. */
template <class Kernel>
void for_each_chunk(std::size_t n, double cost, Kernel&& kernel) {
  const std::size_t chunks = (n + kActivationChunk - 1) / kActivationChunk;
  if (chunks <= 1) {
    if (n != 0) kernel(std::size_t{0}, n);
    return;
  }
  parallel_for(chunks, cost * static_cast<double>(kActivationChunk), [&](std::size_t c) {
    const std::size_t begin = c * kActivationChunk;
    kernel(begin, std::min(n, begin + kActivationChunk) - begin);
  });
}

template <class T>
void forward_checked(const char* fn, Activation f, Accuracy accuracy, const T* x, T* y, std::size_t n,
                     T leaky_slope) {
  check_enum(fn, "f", f);
  check_enum(fn, "accuracy", accuracy);
  check_array(fn, "x", x, n);
  check_array(fn, "y", y, n);
  check_overlap(fn, "x", x, "y", y, n * sizeof(T));
  const auto& k = active_activation_kernels<T>();
  const auto kernel = accuracy == Accuracy::fast ? k.forward_fast : k.forward;
  const bool stream = stream_output(f, accuracy, 2 * n * sizeof(T));  // x and y compete for the cache
  for_each_chunk(n, cost_per_element(f), [&](std::size_t begin, std::size_t count) {
    kernel(f, x + begin, y + begin, count, leaky_slope, stream);
  });
}

// The derivatives are the precise ones in both tiers (the accuracy is checked all the same).
template <class T>
void backward_checked(const char* fn, Activation f, Accuracy accuracy, const T* x, const T* dy, T* dx, std::size_t n,
                      T leaky_slope) {
  check_enum(fn, "f", f);
  check_enum(fn, "accuracy", accuracy);
  check_array(fn, "x", x, n);
  check_array(fn, "dy", dy, n);
  check_array(fn, "dx", dx, n);
  const std::size_t bytes = n * sizeof(T);  // bounded by check_array
  check_overlap(fn, "x", x, "dx", dx, bytes);
  check_overlap(fn, "dy", dy, "dx", dx, bytes);
  const auto& k = active_activation_kernels<T>();
  const bool stream = stream_output(f, Accuracy::precise, 3 * bytes);
  for_each_chunk(n, cost_per_element(f), [&](std::size_t begin, std::size_t count) {
    k.backward(f, x + begin, dy + begin, dx + begin, count, leaky_slope, stream);
  });
}

}  // namespace detail

std::string_view accuracy_name(Accuracy accuracy) { return detail::enum_name("accuracy_name", "accuracy", accuracy); }

Accuracy parse_accuracy(std::string_view name) {
  if (const auto accuracy = detail::find_enum<Accuracy>(name)) return *accuracy;
  detail::fail("parse_accuracy", "name \"", name, "\" is not an accuracy (accepted: ", detail::enum_names_list<Accuracy>(),
               ")");
}

std::string_view activation_name(Activation f) { return detail::enum_name("activation_name", "f", f); }

Activation parse_activation(std::string_view name) {
  if (const auto f = detail::find_enum<Activation>(name)) return *f;
  detail::fail("parse_activation", "name \"", name, "\" is not an activation (accepted: ",
               detail::enum_names_list<Activation>(), ")");
}

template <class T>
void activation_forward(Activation f, const T* x, T* y, std::size_t n, T leaky_slope) {
  detail::forward_checked("activation_forward", f, Accuracy::precise, x, y, n, leaky_slope);
}

template <class T>
void activation_forward(Activation f, Accuracy accuracy, const T* x, T* y, std::size_t n, T leaky_slope) {
  detail::forward_checked("activation_forward", f, accuracy, x, y, n, leaky_slope);
}

template <class T>
void activation_backward(Activation f, const T* x, const T* dy, T* dx, std::size_t n, T leaky_slope) {
  detail::backward_checked("activation_backward", f, Accuracy::precise, x, dy, dx, n, leaky_slope);
}

template <class T>
void activation_backward(Activation f, Accuracy accuracy, const T* x, const T* dy, T* dx, std::size_t n,
                         T leaky_slope) {
  detail::backward_checked("activation_backward", f, accuracy, x, dy, dx, n, leaky_slope);
}

template <class T>
void activation_backward_from_output(Activation f, const T* y, const T* dy, T* dx, std::size_t n, T leaky_slope) {
  constexpr const char* fn = "activation_backward_from_output";
  detail::check_enum(fn, "f", f);
  if (f == Activation::gelu || f == Activation::gelu_tanh)
    detail::fail(fn, "f (", activation_name(f), ") has no derivative in terms of its output; use activation_backward");
  if (f == Activation::leaky_relu && !(leaky_slope >= T(0)))
    detail::fail(fn, "leaky_slope (", leaky_slope, ") must be ≥ 0 to recover the sign of x from y");
  detail::check_array(fn, "y", y, n);
  detail::check_array(fn, "dy", dy, n);
  detail::check_array(fn, "dx", dx, n);
  const std::size_t bytes = n * sizeof(T);  // bounded by check_array
  detail::check_overlap(fn, "y", y, "dx", dx, bytes);
  detail::check_overlap(fn, "dy", dy, "dx", dx, bytes);
  const auto& k = detail::active_activation_kernels<T>();
  const bool stream = detail::stream_output(f, Accuracy::precise, 3 * bytes);
  detail::for_each_chunk(n, 3.0, [&](std::size_t begin, std::size_t count) {
    k.backward_from_output(f, y + begin, dy + begin, dx + begin, count, leaky_slope, stream);
  });
}

namespace detail {
namespace {

template <class T>
void softmax_any(const char* fn, MatrixView<const T> z, MatrixView<T> out, bool log) {
  check_view(fn, "z", z);
  check_view(fn, "out", out);
  check_shape(fn, "out", out, z.rows, z.cols);
  if (z.empty()) return;
  check_alias(fn, "out", out, "z", z);
  const auto& k = active_activation_kernels<T>();
  const std::size_t blocks = (z.cols + kSoftmaxColumnBlock - 1) / kSoftmaxColumnBlock;
  parallel_for(blocks, 30.0 * static_cast<double>(kSoftmaxColumnBlock * z.rows), [&](std::size_t b) {
    const std::size_t j = b * kSoftmaxColumnBlock;
    k.softmax_columns(z.data + j, z.ld, out.data + j, out.ld, z.rows, std::min(z.cols, j + kSoftmaxColumnBlock) - j,
                      log);
  });
}

}  // namespace
}  // namespace detail

template <class T>
void softmax(MatrixView<const T> z, MatrixView<T> out) {
  detail::softmax_any("softmax", z, out, false);
}

template <class T>
void log_softmax(MatrixView<const T> z, MatrixView<T> out) {
  detail::softmax_any("log_softmax", z, out, true);
}

#define MLPKIT_INSTANTIATE_ACTIVATIONS(T)                                                              \
  template void activation_forward<T>(Activation, const T*, T*, std::size_t, T);                      \
  template void activation_backward<T>(Activation, const T*, const T*, T*, std::size_t, T);           \
  template void activation_forward<T>(Activation, Accuracy, const T*, T*, std::size_t, T);            \
  template void activation_backward<T>(Activation, Accuracy, const T*, const T*, T*, std::size_t, T); \
  template void activation_backward_from_output<T>(Activation, const T*, const T*, T*, std::size_t, T); \
  template void softmax<T>(MatrixView<const T>, MatrixView<T>);                                        \
  template void log_softmax<T>(MatrixView<const T>, MatrixView<T>);                                    \
  template const detail::ActivationKernels<T>& detail::active_activation_kernels<T>();
MLPKIT_INSTANTIATE_ACTIVATIONS(float)
MLPKIT_INSTANTIATE_ACTIVATIONS(double)
#undef MLPKIT_INSTANTIATE_ACTIVATIONS

}  // namespace mlpkit
