#pragma once
/** @file
 * Elementwise activation functions of the MLP layers, their derivatives, and softmax.
 *
 * Every function runs the SIMD kernels of the active ISA, multithreaded for long arrays; the result
 * is bitwise identical for any thread count. Accuracy against a long double reference: sigmoid and
 * tanh within 2 ULP, gelu and gelu_tanh within 4 ULP (float and double; their derivatives within 8 ULP
 * of the size of their two terms, since they cross zero near x ≈ −0.75), with the mathematical
 * limits at ±Inf, NaN in → NaN out, and ±0 and subnormals handled exactly. That is Accuracy::precise;
 * Accuracy::fast trades some of it for speed (see Accuracy).
 *
 * The elementwise functions take their arrays as std::span (the library's one form of a 1-D array);
 * the earlier (pointer, n) forms remain and give the same results.
 */
#include <cstddef>
#include <span>
#include <string_view>

#include "mlpkit/enums.hpp"
#include "mlpkit/export.hpp"
#include "mlpkit/matrix.hpp"

namespace mlpkit MLPKIT_API {

/**
 * The activation functions mlpkit knows: identity, ReLU max(0, x), leaky ReLU (x or slope·x),
 * logistic sigmoid 1/(1+e^−x), tanh, GELU x·Φ(x) (exact, erf based) and its tanh approximation.
 */
enum class Activation { identity, relu, leaky_relu, sigmoid, tanh, gelu, gelu_tanh };
template <> struct EnumTable<Activation> : EnumNames<"Activation", "identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh"> {};

/**
 * How closely sigmoid, tanh, gelu and gelu_tanh follow the exact function (identity, relu and leaky_relu
 * are exact in both). `precise`: the bounds above. `fast`: within 4 ULP for sigmoid and tanh and
 * 16 ULP for gelu and gelu_tanh, with fewer vector operations (as Sleef's u35 against its u10 forms);
 * ±0, ±Inf, NaN and the saturated ranges give the same values as in `precise`. The derivatives are
 * the precise ones in both tiers.
 */
enum class Accuracy { precise, fast };
template <> struct EnumTable<Accuracy> : EnumNames<"Accuracy", "precise", "fast"> {};

/** The name of `accuracy`: "precise" or "fast". Throws mlpkit::Error for a value that is not an Accuracy. */
std::string_view accuracy_name(Accuracy accuracy);

/** The Accuracy named `name` ("precise" or "fast"); throws mlpkit::Error listing the accepted names. */
Accuracy parse_accuracy(std::string_view name);

/** The name of `f`: "identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu" or "gelu_tanh". */
std::string_view activation_name(Activation f);

/** The Activation named `name` (as activation_name spells it); throws mlpkit::Error listing the accepted names. */
Activation parse_activation(std::string_view name);

/**
 * y[i] = f(x[i]) for i < n. x, y: n elements each; in place (x == y) allowed.
 * `leaky_slope` is the slope of leaky_relu for x < 0 (ignored by the other functions).
 * ReLU maps −0 and NaN through (relu(NaN) = NaN); gelu_tanh is 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))).
 * Throws mlpkit::Error for null pointers with n > 0 and for x, y overlapping other than exactly.
 */
template <class T>
MLPKIT_API void activation_forward(Activation f, const T* x, T* y, std::size_t n, T leaky_slope = T(0.01));

/**
 * activation_forward in the given accuracy tier (the form above is Accuracy::precise). Same shapes
 * and errors, and it also throws mlpkit::Error when `accuracy` is not an Accuracy.
 */
template <class T>
MLPKIT_API void activation_forward(Activation f, Accuracy accuracy, const T* x, T* y, std::size_t n, T leaky_slope = T(0.01));

/**
 * dx[i] = dy[i]·f'(x[i]) for i < n, from the forward input x. x, dy, dx: n elements each; dx may
 * be exactly dy or x (in place), other overlaps throw. relu'(0) = 0, leaky_relu'(0) = slope.
 * Throws mlpkit::Error for null pointers with n > 0 and for partial overlaps.
 */
template <class T>
MLPKIT_API void activation_backward(Activation f, const T* x, const T* dy, T* dx, std::size_t n, T leaky_slope = T(0.01));

/**
 * activation_backward in the given accuracy tier (the form above is Accuracy::precise). Same shapes
 * and errors, and it also throws mlpkit::Error when `accuracy` is not an Accuracy.
 */
template <class T>
MLPKIT_API void activation_backward(Activation f, Accuracy accuracy, const T* x, const T* dy, T* dx, std::size_t n,
                         T leaky_slope = T(0.01));

/**
 * dx[i] = dy[i]·f'(x[i]) from the forward output y[i] = f(x[i]) instead of x, where that is
 * defined and cheaper: identity (1), relu (y > 0), leaky_relu (y > 0 ? 1 : slope, slope > 0),
 * sigmoid (y(1−y)), tanh (1−y²). y, dy, dx: n elements each; dx may be exactly dy or y.
 * Throws mlpkit::Error for gelu and gelu_tanh (their derivative needs x), for null pointers with
 * n > 0 and for partial overlaps.
 */
template <class T>
MLPKIT_API void activation_backward_from_output(Activation f, const T* y, const T* dy, T* dx, std::size_t n,
                                     T leaky_slope = T(0.01));

/**
 * y[i] = f(x[i]): activation_forward over spans (Accuracy::precise). Throws mlpkit::Error when x and
 * y differ in size (naming both sizes), and as the (pointer, n) form does.
 */
template <class T>
MLPKIT_API void activation_forward(Activation f, std::span<const T> x, std::span<T> y, T leaky_slope = T(0.01));

/** activation_forward over spans in the given accuracy tier; errors as the form above. */
template <class T>
MLPKIT_API void activation_forward(Activation f, Accuracy accuracy, std::span<const T> x, std::span<T> y,
                                   T leaky_slope = T(0.01));

/**
 * dx[i] = dy[i]·f'(x[i]): activation_backward over spans (Accuracy::precise). Throws mlpkit::Error
 * when dy or dx differs in size from x (naming both sizes), and as the (pointer, n) form does.
 */
template <class T>
MLPKIT_API void activation_backward(Activation f, std::span<const T> x, std::span<const T> dy, std::span<T> dx,
                                    T leaky_slope = T(0.01));

/** activation_backward over spans in the given accuracy tier; errors as the form above. */
template <class T>
MLPKIT_API void activation_backward(Activation f, Accuracy accuracy, std::span<const T> x, std::span<const T> dy,
                                    std::span<T> dx, T leaky_slope = T(0.01));

/**
 * dx[i] = dy[i]·f'(x[i]) from y[i] = f(x[i]): activation_backward_from_output over spans. Throws
 * mlpkit::Error when dy or dx differs in size from y (naming both sizes), and as the (pointer, n)
 * form does.
 */
template <class T>
MLPKIT_API void activation_backward_from_output(Activation f, std::span<const T> y, std::span<const T> dy,
                                                std::span<T> dx, T leaky_slope = T(0.01));

/**
 * Softmax of every column (examples are columns): out(i, j) = e^{z(i,j) − max_i z(·,j)} / Σ_i e^{…}.
 * z, out: rows × cols (classes × examples), row-major with their own ld; in place (out == z,
 * same ld) allowed. Stable for any finite logits (1e4 apart included); a column holding NaN or +Inf,
 * or only −Inf, gives NaN. Throws mlpkit::Error for mismatched shapes, bad views and partial overlaps.
 */
template <class T>
MLPKIT_API void softmax(MatrixView<const T> z, MatrixView<T> out);

/**
 * log softmax of every column: out(i, j) = z(i, j) − max − log Σ_i e^{z(i,j) − max}.
 * Same shapes, aliasing rules and errors as softmax.
 */
template <class T>
MLPKIT_API void log_softmax(MatrixView<const T> z, MatrixView<T> out);

}  // namespace mlpkit
