#pragma once
// The ONNX importer's phases: the element-wise nodes after a layer recognized as one activation,
// and the whole graph read as a chain of layers (an architecture and the tensors of W and b).
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "mlpkit/mlp.hpp"
#include "model/onnx/onnx_graph.hpp"

namespace mlpkit::detail::onnx_import {

/** The activation after a layer: identity when the layer's output leaves it unchanged. */
struct FoundActivation {
  Activation activation = Activation::identity;
  double leaky_slope = 0.01;
  /** The node that computes it (its last node), −1 for identity. */
  int node = -1;
};

/**
 * Follows the element-wise nodes that read `x`, the output of layer `layer`, to the single value
 * that leaves them (`sink`: x itself when no element-wise node reads it) and recognizes the
 * activation they compute, marking its nodes used. Throws naming the node when they branch, lead
 * nowhere, or compute no supported activation.
 */
FoundActivation follow_activation(GraphIndex& graph, const std::string& x, std::size_t layer, std::string& sink);

/** One fully-connected layer: W (rows × cols, stored transposed or not) and the optional bias. */
struct OnnxLayer {
  ConstTensor weight;
  bool transposed = false;
  std::optional<ConstTensor> bias;
  std::size_t rows = 0, cols = 0;
};

/** The graph as an Mlp: its architecture, the dtype of its tensors and each layer's tensors. */
struct OnnxChain {
  Dtype dtype = Dtype::f32;
  MlpConfig<double> config;
  std::vector<OnnxLayer> layers;
};

/**
 * A classifier's outputs as skl2onnx writes them after the network (onnx_classifier.cpp): the
 * labels, computed from the probabilities and not imported, and the probabilities.
 */
struct ClassifierTail {
  /** The graph output of the labels. */
  std::string label_output;
  /** The probabilities the label nodes read: the Identity or Concat result (before any ZipMap). */
  std::string probabilities;
  /** The network's result, where the layer chain ends: a Softmax's or a Sigmoid's output. */
  std::string network_output;
  /** Whether the probabilities are [1 − p, p] of the network's one output p (a binary classifier). */
  bool binary = false;
};

/**
 * For a graph of two outputs, recognizes them as a classifier's labels and probabilities (see
 * include/mlpkit/onnx.hpp) and marks the nodes after the network used; nullopt for a graph of
 * another number of outputs. Throws naming the outputs or the node when two outputs are no such pair.
 */
std::optional<ClassifierTail> read_classifier_tail(GraphIndex& graph);

/** Reads and validates the whole graph (see include/mlpkit/onnx.hpp). Throws mlpkit::Error naming the node. */
OnnxChain read_chain(GraphIndex& graph);

}  // namespace mlpkit::detail::onnx_import
