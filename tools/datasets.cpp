#include "datasets.hpp"

#include <zlib.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "mlpkit/error.hpp"

#ifndef MLPKIT_SOURCE_DATA_DIR
#define MLPKIT_SOURCE_DATA_DIR ""
#endif

namespace mlpkit::tool {
namespace {

[[noreturn]] void data_error(const std::string& message) { throw Error("mlpkit: " + message); }

// The whole file as text; gzip files are inflated with zlib.
std::string read_text(const std::filesystem::path& path) {
  if (path.extension() == ".gz") {
    gzFile file = gzopen(path.c_str(), "rb");
    if (file == nullptr) data_error("cannot open '" + path.string() + "'");
    std::string text;
    char buffer[1 << 16];
    int got = 0;
    while ((got = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(got));
    const bool failed = got < 0;
    gzclose(file);
    if (failed) data_error("'" + path.string() + "' is not a valid gzip file");
    return text;
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) data_error("cannot open '" + path.string() + "'");
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// Calls visit(line, line_number) for every non-empty line of text (1-based numbers, '\r' of CRLF dropped).
template <class Visit>
void for_each_line(const std::string& text, Visit&& visit) {
  std::size_t line_number = 0, start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) visit(line, line_number);
  }
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

// The number in a cell; `where` describes the cell for the error ("<file>:<line>: field 3").
template <class Where>
double parse_number(std::string_view field, Where&& where) {
  while (!field.empty() && (field.back() == '\r' || field.back() == ' ')) field.remove_suffix(1);
  while (!field.empty() && field.front() == ' ') field.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc() || end != field.data() + field.size())
    data_error(where() + " ('" + std::string(field) + "') is not a number");
  return value;
}

double parse_number(std::string_view field, const std::filesystem::path& path, std::size_t line, std::size_t column) {
  return parse_number(field, [&] { return path.string() + ":" + std::to_string(line) + ": field " + std::to_string(column + 1); });
}

}  // namespace

std::filesystem::path find_data_file(const std::string& name) {
  std::vector<std::filesystem::path> candidates;
  if (const char* dir = std::getenv("MLPKIT_DATA_DIR"); dir != nullptr && *dir != '\0') candidates.emplace_back(dir);
  if (*MLPKIT_SOURCE_DATA_DIR != '\0') candidates.emplace_back(MLPKIT_SOURCE_DATA_DIR);
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(self.parent_path().parent_path() / "share" / "mlpkit" / "data");
  std::string tried;
  for (const auto& dir : candidates) {
    if (std::filesystem::exists(dir / name)) return dir / name;
    tried += ' ';  // appended in two steps: GCC 12 misreports " " + std::string&& under -Wrestrict (PR 105329)
    tried += (dir / name).string();
  }
  data_error("data file '" + name + "' not found (tried:" + tried + "; set MLPKIT_DATA_DIR)");
}

Dataset load_csv_dataset(const std::filesystem::path& path) {
  const std::string text = read_text(path);
  std::vector<std::vector<double>> rows;
  std::vector<int> labels;
  std::vector<std::string> class_names;
  std::size_t features = 0;
  for_each_line(text, [&](std::string_view line, std::size_t line_number) {
    auto fields = split_fields(line);
    // The header of the shipped form: "examples,features,class names…" (class names are not numbers).
    if (line_number == 1 && fields.size() >= 3 && fields[2].find_first_not_of("0123456789.-+eE \r") != std::string_view::npos) {
      for (std::size_t i = 2; i < fields.size(); ++i) {
        std::string_view name = fields[i];
        if (!name.empty() && name.back() == '\r') name.remove_suffix(1);
        class_names.emplace_back(name);
      }
      return;
    }
    if (fields.size() < 2) data_error(path.string() + ":" + std::to_string(line_number) + ": needs features and a class");
    if (features == 0) features = fields.size() - 1;
    if (fields.size() - 1 != features)
      data_error(path.string() + ":" + std::to_string(line_number) + ": has " + std::to_string(fields.size() - 1) +
                 " features, earlier lines " + std::to_string(features));
    std::vector<double> row(features);
    for (std::size_t j = 0; j < features; ++j) row[j] = parse_number(fields[j], path, line_number, j);
    const double label = parse_number(fields[features], path, line_number, features);
    if (label < 0 || label != static_cast<double>(static_cast<int>(label)))
      data_error(path.string() + ":" + std::to_string(line_number) + ": the class must be an integer ≥ 0");
    rows.push_back(std::move(row));
    labels.push_back(static_cast<int>(label));
  });
  if (rows.empty()) data_error("'" + path.string() + "' holds no examples");
  Dataset data;
  data.x = Matrix<double>(features, rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < features; ++j) data.x(j, i) = rows[i][j];
  data.labels = std::move(labels);
  int max_label = 0;
  for (int label : data.labels) max_label = std::max(max_label, label);
  data.classes = std::max<std::size_t>(static_cast<std::size_t>(max_label) + 1, class_names.size());
  data.class_names = std::move(class_names);
  return data;
}

std::size_t CsvTable::column(const std::string& name, const std::filesystem::path& path) const {
  for (std::size_t j = 0; j < names.size(); ++j)
    if (names[j] == name) return j;
  std::string listed;
  for (const auto& n : names) listed += (listed.empty() ? "" : ", ") + n;
  data_error(path.string() + ": no column '" + name + "' (columns: " + listed + ")");
}

CsvTable load_csv_table(const std::filesystem::path& path) {
  const std::string text = read_text(path);
  CsvTable table;
  std::size_t row = 0;
  for_each_line(text, [&](std::string_view line, std::size_t line_number) {
    const auto fields = split_fields(line);
    if (table.names.empty()) {
      for (auto field : fields) {
        while (!field.empty() && field.front() == ' ') field.remove_prefix(1);
        while (!field.empty() && field.back() == ' ') field.remove_suffix(1);
        for (const auto& name : table.names)
          if (name == field) data_error(path.string() + ": line 1 names the column '" + name + "' twice");
        table.names.emplace_back(field);
      }
      table.columns.resize(table.names.size());
      return;
    }
    ++row;
    if (fields.size() != table.names.size())
      data_error(path.string() + ": row " + std::to_string(row) + " (line " + std::to_string(line_number) + ") has " +
                 std::to_string(fields.size()) + " cells but the header names " + std::to_string(table.names.size()) +
                 " columns");
    for (std::size_t j = 0; j < fields.size(); ++j)
      table.columns[j].push_back(parse_number(fields[j], [&] {
        return path.string() + ": row " + std::to_string(row) + " (line " + std::to_string(line_number) + "), column '" +
               table.names[j] + "'";
      }));
  });
  if (table.rows() == 0) data_error(path.string() + ": no rows under the header line");
  return table;
}

std::vector<std::size_t> permutation(std::size_t m, std::uint64_t seed) {
  std::vector<std::size_t> order(m);
  for (std::size_t i = 0; i < m; ++i) order[i] = i;
  // Fisher–Yates with mt19937_64 draws: the same permutation on every platform (std::shuffle is not).
  std::mt19937_64 rng(seed);
  for (std::size_t i = m; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  return order;
}

Split split_dataset(const Dataset& data, double test_fraction, std::uint64_t seed) {
  const std::size_t m = data.examples();
  const std::vector<std::size_t> order = permutation(m, seed);
  const auto test_count = static_cast<std::size_t>(static_cast<double>(m) * test_fraction);
  auto take = [&](std::size_t begin, std::size_t end) {
    Dataset part;
    part.x = Matrix<double>(data.features(), end - begin);
    part.classes = data.classes;
    part.class_names = data.class_names;
    for (std::size_t c = begin; c < end; ++c) {
      for (std::size_t j = 0; j < data.features(); ++j) part.x(j, c - begin) = data.x(j, order[c]);
      part.labels.push_back(data.labels[order[c]]);
    }
    return part;
  };
  return {take(test_count, m), take(0, test_count)};
}

Matrix<double> targets(const Dataset& data, bool one_hot) {
  if (!one_hot) {
    Matrix<double> y(1, data.examples());
    for (std::size_t i = 0; i < data.examples(); ++i) y(0, i) = data.labels[i] != 0 ? 1.0 : 0.0;
    return y;
  }
  Matrix<double> y(data.classes, data.examples());
  for (std::size_t i = 0; i < data.examples(); ++i) y(static_cast<std::size_t>(data.labels[i]), i) = 1.0;
  return y;
}

}  // namespace mlpkit::tool
