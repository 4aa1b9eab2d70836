// The std::span forms of the elementwise activation functions: each checks that its arrays have
// one size and calls the (pointer, n) form, whose checks and results it shares.
#include <cstddef>
#include <span>

#include "mlpkit/activations.hpp"
#include "runtime/checks.hpp"

namespace mlpkit {
namespace {

void check_same_size(const char* function, const char* a_name, std::size_t a, const char* b_name, std::size_t b) {
  if (a != b) detail::fail(function, a_name, " has ", a, " elements but ", b_name, " has ", b);
}

}  // namespace

template <class T>
void activation_forward(Activation f, std::span<const T> x, std::span<T> y, T leaky_slope) {
  activation_forward(f, Accuracy::precise, x, y, leaky_slope);
}

template <class T>
void activation_forward(Activation f, Accuracy accuracy, std::span<const T> x, std::span<T> y, T leaky_slope) {
  check_same_size("activation_forward", "x", x.size(), "y", y.size());
  activation_forward(f, accuracy, x.data(), y.data(), x.size(), leaky_slope);
}

template <class T>
void activation_backward(Activation f, std::span<const T> x, std::span<const T> dy, std::span<T> dx, T leaky_slope) {
  activation_backward(f, Accuracy::precise, x, dy, dx, leaky_slope);
}

template <class T>
void activation_backward(Activation f, Accuracy accuracy, std::span<const T> x, std::span<const T> dy, std::span<T> dx,
                         T leaky_slope) {
  check_same_size("activation_backward", "x", x.size(), "dy", dy.size());
  check_same_size("activation_backward", "x", x.size(), "dx", dx.size());
  activation_backward(f, accuracy, x.data(), dy.data(), dx.data(), x.size(), leaky_slope);
}

template <class T>
void activation_backward_from_output(Activation f, std::span<const T> y, std::span<const T> dy, std::span<T> dx,
                                     T leaky_slope) {
  check_same_size("activation_backward_from_output", "y", y.size(), "dy", dy.size());
  check_same_size("activation_backward_from_output", "y", y.size(), "dx", dx.size());
  activation_backward_from_output(f, y.data(), dy.data(), dx.data(), y.size(), leaky_slope);
}

#define MLPKIT_INSTANTIATE_ACTIVATION_SPANS(T)                                                                     \
  template void activation_forward<T>(Activation, std::span<const T>, std::span<T>, T);                            \
  template void activation_forward<T>(Activation, Accuracy, std::span<const T>, std::span<T>, T);                  \
  template void activation_backward<T>(Activation, std::span<const T>, std::span<const T>, std::span<T>, T);       \
  template void activation_backward<T>(Activation, Accuracy, std::span<const T>, std::span<const T>, std::span<T>, \
                                       T);                                                                         \
  template void activation_backward_from_output<T>(Activation, std::span<const T>, std::span<const T>, std::span<T>, T);
MLPKIT_INSTANTIATE_ACTIVATION_SPANS(float)
MLPKIT_INSTANTIATE_ACTIVATION_SPANS(double)
#undef MLPKIT_INSTANTIATE_ACTIVATION_SPANS

}  // namespace mlpkit
