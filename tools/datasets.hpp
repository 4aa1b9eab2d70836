#pragma once
// The datasets that ship in data/ (see data/README.md for their attribution), loaded as the
// library lays data out: features are rows, examples are columns.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mlpkit/matrix.hpp"

namespace mlpkit::tool {

/** A labelled dataset: x is features × examples, labels one class index per example. */
struct Dataset {
  Matrix<double> x;
  std::vector<int> labels;
  std::vector<std::string> class_names;
  std::size_t classes = 0;
  std::size_t examples() const { return x.cols(); }
  std::size_t features() const { return x.rows(); }
};

/**
 * Where a shipped data file is: `$MLPKIT_DATA_DIR/<name>`, the source tree's data/, or
 * `<prefix>/share/mlpkit/data/<name>` next to the installed tool. Throws mlpkit::Error listing
 * the places tried when none has it.
 */
std::filesystem::path find_data_file(const std::string& name);

/**
 * A CSV of the breast-cancer form: an optional header line `examples,features,name0,name1`, then one
 * row per example of numeric features followed by an integer class. `.gz` files are decompressed.
 * Throws mlpkit::Error naming the file, line and field for malformed input.
 */
Dataset load_csv_dataset(const std::filesystem::path& path);

/** A train/test split of the examples, shuffled reproducibly from seed. */
struct Split {
  Dataset train, test;
};
Split split_dataset(const Dataset& data, double test_fraction, std::uint64_t seed);

/** One-hot targets (classes × m) for softmax + cross-entropy, or a 1 × m row of 0/1 for 2 classes when binary. */
Matrix<double> targets(const Dataset& data, bool one_hot);

}  // namespace mlpkit::tool
