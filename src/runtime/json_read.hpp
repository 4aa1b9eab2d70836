#pragma once
// Reading numbers from documents a user hands in (nlohmann::json): every integer is range-checked
// as the integer type it becomes, so 4294967297 never loads as 1 and −1 never as 2⁶⁴−1.
#include <cstdint>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "runtime/checks.hpp"

namespace mlpkit::detail {

/**
 * `value` as an I when it is a JSON integer within I's range (read as an integer, never through a
 * double); nullopt for anything else (a float, a string, 1e300, a value outside the range).
 */
template <class I>
std::optional<I> json_integer_value(const nlohmann::json& value) {
  static_assert(std::is_integral_v<I>);
  if (!value.is_number_integer()) return std::nullopt;
  constexpr auto lowest = static_cast<std::intmax_t>(std::numeric_limits<I>::min());
  constexpr auto highest = static_cast<std::uintmax_t>(std::numeric_limits<I>::max());
  const bool fits = value.is_number_unsigned() ? value.get<std::uint64_t>() <= highest
                                               : value.get<std::int64_t>() >= lowest &&
                                                     (value.get<std::int64_t>() < 0 ||
                                                      static_cast<std::uintmax_t>(value.get<std::int64_t>()) <= highest);
  return fits ? std::optional<I>(value.get<I>()) : std::nullopt;
}

/**
 * The integer `j[key]` as an I, or throws mlpkit::Error naming the key and the value when it is not
 * an integer (a float, a string, 1e300) or lies outside I's range. A missing key throws
 * nlohmann::json::out_of_range, which readers turn into their "malformed document" error.
 */
template <class I>
I json_integer(const char* function, const nlohmann::json& j, const char* key) {
  const nlohmann::json& value = j.at(key);
  if (!value.is_number_integer()) fail(function, key, " must be an integer (", value.dump(), ")");
  const std::optional<I> integer = json_integer_value<I>(value);
  if (!integer)
    fail(function, key, " (", value.dump(), ") is outside the range of its type [",
         static_cast<std::intmax_t>(std::numeric_limits<I>::min()), ", ",
         static_cast<std::uintmax_t>(std::numeric_limits<I>::max()), "]");
  return *integer;
}

}  // namespace mlpkit::detail
