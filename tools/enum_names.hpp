#pragma once
// The tool's view of mlpkit's enumerations: their names straight from each enum's EnumTable, so a
// new enumerator reaches every flag's accepted values and help text without a change here.
#include <CLI/CLI.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "mlpkit/enums.hpp"

namespace mlpkit::tool {

/** E's names in value order, for CLI11's IsMember checks. */
template <class E>
std::vector<std::string> enum_names() {
  return {EnumTable<E>::names.begin(), EnumTable<E>::names.end()};
}

/** Names joined by ", ", for help texts. */
inline std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

/** The E named `name`; throws CLI::ValidationError naming `flag` and the accepted names otherwise. */
template <class E>
E enum_from_name(std::string_view name, const std::string& flag) {
  for (E value : enum_values<E>())
    if (EnumTable<E>::names[static_cast<std::size_t>(value)] == name) return value;
  throw CLI::ValidationError(flag, std::string(name) + " is not one of " + joined(enum_names<E>()));
}

}  // namespace mlpkit::tool
