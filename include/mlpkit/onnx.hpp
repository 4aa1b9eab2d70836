#pragma once
/** @file
 * ONNX import (the optional component mlpkit::onnx, built with MLPKIT_WITH_ONNX; link
 * `mlpkit::onnx`): a network exported from another framework becomes a Model.
 *
 * What is imported: a graph with one input [batch, n[0]] and one output that is a chain of
 * fully-connected layers — `Gemm` (alpha = beta = 1, transA = 0, transB 0 or 1) or `MatMul`
 * optionally followed by `Add` of a bias, weights and biases being initializers (or `Constant`
 * nodes) — with at most one element-wise activation after each layer: `Relu`, `LeakyRelu` (alpha),
 * `Sigmoid`, `Tanh`, `Gelu` (opset 20, approximate "none" or "tanh"), or the GELU subgraphs
 * torch.onnx.export writes at opset ≤ 17 (x·0.5·(1 + erf(x/√2)) and the tanh form), and an optional
 * `Softmax` over the last axis at the end. This is how torch.onnx.export writes an nn.Sequential of
 * Linear layers and activations. Float or double tensors, raw or typed.
 *
 * How it maps onto an Mlp (which has one hidden activation): every hidden layer must use the same
 * activation (no activation: identity); a final `Softmax` gives output identity with the
 * cross_entropy loss (predict returns the probabilities), a final `Sigmoid` gives output sigmoid
 * with binary_cross_entropy (multi_label when n[L] > 1), any other final activation (or none) the
 * mean_squared_error loss. The training-only fields take MlpConfig's defaults; there are no input
 * statistics.
 *
 * A scikit-learn `MLPClassifier` exported by skl2onnx is imported too. Its graph casts the input
 * (a `Cast` to the input's own type, passed over, as is an `Identity` where a layer starts: a hidden
 * activation "identity"), runs the network as `MatMul` + `Add` layers ending in `Softmax` (several
 * classes) or `Sigmoid` (two classes, or multi-label), and has two outputs, both computed from the
 * network's result p: the probabilities — `Identity(p)`, or `Concat(1 − p, p)` for two classes,
 * optionally turned into a sequence of maps by `ZipMap` — and the labels — `ArgMax` →
 * `ArrayFeatureExtractor` over the classes → `Reshape` → `Cast`, or `Binarizer` → `Cast` for
 * multi-label. What is imported is the network up to p: predict returns the class probabilities
 * (column k of skl2onnx's probabilities is row k of predict's output, the probability of
 * `classes_[k]`); for two classes it returns the one row p, the probability of `classes_[1]` (the
 * graph's second column; the first is 1 − p). The labels output is not imported: a label is
 * `classes_[argmax]` of the probabilities (p > 0.5 for two classes). Only the ONNX-ML operators of
 * this tail (ZipMap, ArrayFeatureExtractor, Binarizer) are accepted, and only there.
 *
 * Anything else — another operator, a node off the chain, a branch, a second input or output, an
 * input of rank other than 2 or whose feature count disagrees with the weights, a missing or
 * non-constant weight, external tensor data, another element type — throws mlpkit::Error naming the
 * node (its name, or its index when unnamed), its op type and what is supported.
 */
#include <filesystem>
#include <string_view>

#include "mlpkit/export.hpp"
#include "mlpkit/model.hpp"

namespace mlpkit MLPKIT_API {

/**
 * The model of the ONNX file `path` in precision T. `options.convert_precision` is needed to import
 * a float graph into Model<double> or a double graph into Model<float>; NaN or ±Inf in the weights
 * is an error unless `options.allow_nonfinite`. Throws mlpkit::Error naming the file (see the file
 * comment), also when it cannot be read or is not an ONNX model.
 */
template <class T>
MLPKIT_API Model<T> import_onnx(const std::filesystem::path& path, const ModelLoadOptions& options = {});

/** The same from the bytes of an ONNX file (the message names no file). */
template <class T>
MLPKIT_API Model<T> import_onnx_bytes(std::string_view bytes, const ModelLoadOptions& options = {});

/**
 * What the ONNX file `path` holds, as read_model_info describes a model file: dtype "F32" or "F64",
 * the architecture import_onnx builds, the parameter count, no input statistics. The graph is
 * validated as import_onnx does; throws as it does.
 */
ModelFileInfo read_onnx_info(const std::filesystem::path& path);

#ifndef MLPKIT_DOXYGEN  // explicit instantiations in the library, not part of the reference
extern template Model<float> import_onnx<float>(const std::filesystem::path&, const ModelLoadOptions&);
extern template Model<double> import_onnx<double>(const std::filesystem::path&, const ModelLoadOptions&);
extern template Model<float> import_onnx_bytes<float>(std::string_view, const ModelLoadOptions&);
extern template Model<double> import_onnx_bytes<double>(std::string_view, const ModelLoadOptions&);
#endif

}  // namespace mlpkit
