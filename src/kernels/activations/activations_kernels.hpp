#pragma once
// Activation and softmax kernels: one table of single-threaded kernels per ISA, plus the scalar reference.
#include <cstddef>

#include "mlpkit/activations.hpp"

namespace mlpkit::detail {

/** Single-threaded activation kernels of one ISA (or the scalar reference); arguments are already checked. */
template <class T>
struct ActivationKernels {
  /**
   * y[i] = f(x[i]); y may be x. stream: y is written with non-temporal stores (an output too large
   * to stay in cache, see use_streaming_stores); the values are the same either way.
   */
  void (*forward)(Activation f, const T* x, T* y, std::size_t n, T leaky_slope, bool stream);
  /** forward in Accuracy::fast (the reference table: its one precise forward). */
  void (*forward_fast)(Activation f, const T* x, T* y, std::size_t n, T leaky_slope, bool stream);
  /** dx[i] = dy[i]·f'(x[i]); dx may be x or dy. stream as for forward. */
  void (*backward)(Activation f, const T* x, const T* dy, T* dx, std::size_t n, T leaky_slope, bool stream);
  /** dx[i] = dy[i]·f'(x[i]) from y[i] = f(x[i]); f is not gelu / gelu_tanh. stream as for forward. */
  void (*backward_from_output)(Activation f, const T* y, const T* dy, T* dx, std::size_t n, T leaky_slope,
                               bool stream);
  /**
   * (log_)softmax of each of the `cols` columns of a rows × cols block (row-major, ld ≥ cols);
   * out may be z with the same ld.
   */
  void (*softmax_columns)(const T* z, std::size_t ldz, T* out, std::size_t ldo, std::size_t rows, std::size_t cols,
                          bool log);
  /** y[i] = e^x[i] (the exp inside sigmoid, tanh and softmax; exposed for the accuracy tests); y may be x. */
  void (*exp)(const T* x, T* y, std::size_t n);
  /**
   * y[i] = log(1 + e^−|x[i]|) = softplus(−|x[i]|), the term of binary cross-entropy from logits
   * that keeps it finite for any z; y may be x.
   */
  void (*softplus_neg_abs)(const T* x, T* y, std::size_t n);
};

/** The kernels compiled for xsimd arch `Arch`; defined in activations_simd.hpp, instantiated in isa/<isa>.cpp. */
template <class Arch, class T>
const ActivationKernels<T>& activation_kernels();

/** The scalar reference kernels (std:: math, float evaluated in double). */
template <class T>
const ActivationKernels<T>& activation_kernels_ref();

/** The kernels of current_isa(). */
template <class T>
const ActivationKernels<T>& active_activation_kernels();

/**
 * Throws mlpkit::Error naming both arrays when [a, a+bytes) and [b, b+bytes) overlap without being
 * the same array (exact aliasing is the supported in-place form).
 */
void check_overlap(const char* function, const char* a_name, const void* a, const char* b_name, const void* b,
                   std::size_t bytes);

/** Elements per work item of a multithreaded elementwise call: fixed, so results never depend on threads. */
inline constexpr std::size_t kActivationChunk = 8192;

/** Columns per work item of a multithreaded softmax. */
inline constexpr std::size_t kSoftmaxColumnBlock = 256;

}  // namespace mlpkit::detail
