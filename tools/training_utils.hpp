#pragma once
// Small helpers the experiments and the demo share: standardization of a split, accuracy.
#include "datasets.hpp"
#include "mlpkit/mlpkit.hpp"

namespace mlpkit::tool {

/** Fits a Standardizer on the training features and transforms both parts with those statistics. */
inline void standardize_split(Split& split) {
  Standardizer<double> standardizer;
  standardizer.fit(split.train.x.view());
  Matrix<double> train(split.train.x.rows(), split.train.x.cols());
  Matrix<double> test(split.test.x.rows(), split.test.x.cols());
  standardizer.transform(split.train.x.view(), train.view());
  standardizer.transform(split.test.x.view(), test.view());
  split.train.x = std::move(train);
  split.test.x = std::move(test);
}

/** Fraction of examples whose predicted class (argmax, or ŷ ≥ ½ for one output) equals the label. */
inline double accuracy(const Mlp<double>& net, const Dataset& data) {
  if (data.examples() == 0) return 0;
  const Matrix<double> yhat = net.predict(data.x.view());
  std::size_t correct = 0;
  for (std::size_t j = 0; j < data.examples(); ++j) {
    int predicted = 0;
    if (yhat.rows() == 1) {
      predicted = yhat(0, j) >= 0.5 ? 1 : 0;
    } else {
      for (std::size_t i = 1; i < yhat.rows(); ++i)
        if (yhat(i, j) > yhat(static_cast<std::size_t>(predicted), j)) predicted = static_cast<int>(i);
    }
    correct += predicted == data.labels[j] ? 1 : 0;
  }
  return static_cast<double>(correct) / static_cast<double>(data.examples());
}

}  // namespace mlpkit::tool
