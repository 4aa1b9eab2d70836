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

/** A CSV whose first line names the columns and whose cells are all numbers. */
struct CsvTable {
  std::vector<std::string> names;
  /** columns[j][i]: row i of column j. */
  std::vector<std::vector<double>> columns;
  std::size_t rows() const { return columns.empty() ? 0 : columns.front().size(); }
  /** The index of the column named `name`; throws mlpkit::Error naming the file and listing the columns when absent. */
  std::size_t column(const std::string& name, const std::filesystem::path& path) const;
};

/**
 * Reads a CSV with a header line of column names (`.gz` inflated). Throws mlpkit::Error naming the
 * file and the row for a row with another number of cells than the header, a cell that is not a
 * number, a repeated column name, or no rows.
 */
CsvTable load_csv_table(const std::filesystem::path& path);

/** 0 … m−1 shuffled reproducibly from seed (Fisher–Yates on mt19937_64, the same on every platform). */
std::vector<std::size_t> permutation(std::size_t m, std::uint64_t seed);

/** A train/test split of the examples, shuffled reproducibly from seed. */
struct Split {
  Dataset train, test;
};
Split split_dataset(const Dataset& data, double test_fraction, std::uint64_t seed);

/** One-hot targets (classes × m) for softmax + cross-entropy, or a 1 × m row of 0/1 for 2 classes when binary. */
Matrix<double> targets(const Dataset& data, bool one_hot);

}  // namespace mlpkit::tool
