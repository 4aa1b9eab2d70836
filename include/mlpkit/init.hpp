#pragma once
/** @file
 * Weight initialization schemes, reproducible from a seed and independent of the thread count.
 *
 * Every weight W[l](i, j) is a pure function of (seed, layer l, index i·n_in + j): the numbers come
 * from a counter-based generator (Philox4x32-10) keyed by the seed, with the layer and the index in
 * the counter, so the result never depends on the number of threads or on the order of the work.
 * The normal draws are made in double and rounded once, so a float and a double model with the
 * same seed start from the same numbers up to that rounding.
 */
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mlpkit/enums.hpp"
#include "mlpkit/export.hpp"
#include "mlpkit/matrix.hpp"

namespace mlpkit MLPKIT_API {

/**
 * How the weights W[l] (n[l] × n[l−1]) start; biases always start at 0.
 * - `zeros`: all weights 0. Every unit of a layer then computes the same thing and receives the
 *   same gradient, forever: the symmetry that random initialization exists to break.
 * - `normal`: N(0, 1)·init_scale (the course's `randn · 0.01`).
 * - `lecun`: N(0, 1)·√(1/n[l−1]).
 * - `xavier`: N(0, 1)·√(2/(n[l−1] + n[l])) (Glorot normal).
 * - `he`: N(0, 1)·√(2/n[l−1]), for ReLU layers.
 * - `xavier_uniform`: U(−a, a) with a = √(6/(n[l−1] + n[l])) (Glorot uniform, same variance as xavier).
 * init_scale multiplies `normal` only.
 */
enum class Init { zeros, normal, lecun, xavier, he, xavier_uniform };
template <> struct EnumTable<Init> : EnumNames<"Init", "zeros", "normal", "lecun", "xavier", "he", "xavier_uniform"> {};

/** "zeros", "normal", "lecun", "xavier", "he" or "xavier_uniform". */
std::string_view init_name(Init init);

/** The Init named `name` (as init_name spells it); throws mlpkit::Error listing the accepted names. */
Init parse_init(std::string_view name);

/**
 * The standard deviation `init` promises for a layer with n_in inputs and n_out outputs
 * (0 for zeros). Throws mlpkit::Error when n_in = 0 or n_out = 0, or init_scale < 0 or not finite.
 */
double init_stddev(Init init, std::size_t n_in, std::size_t n_out, double init_scale = 0.01);

/**
 * Fills w (n_out × n_in = w.rows × w.cols, row-major, any ld ≥ cols) with the weights of layer
 * `layer` (1-based, as in W1, W2, …) of the stream of `seed`: w(i, j) is number i·n_in + j of that
 * stream. Mlp uses exactly this, so a layer can be rebuilt from (init, scale, seed, layer).
 * Throws mlpkit::Error for an invalid view, an empty w, or an init_scale that is negative or not finite.
 */
template <class T>
MLPKIT_API void init_weights(Init init, T init_scale, std::uint64_t seed, std::size_t layer, MatrixView<T> w);

}  // namespace mlpkit
